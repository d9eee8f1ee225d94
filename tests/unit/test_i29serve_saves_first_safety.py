"""What makes SavesFirstWorker safe as the default (annotator.core.serving, annotator.core.client_io): a
request joins the queue only once it has arrived whole (a stalled client holds no thread), the queue's cap
leaves new connections in the listen backlog, a stalled large body and a stalled reader are given up after
the client timeout, and a request taken but not served is answered 503 with Retry-After, not dropped. The
worker runs in this process on real loopback sockets and the test turns its loop, so the order of events is
the test's own; the only waits are for bytes to arrive."""

from __future__ import annotations

import selectors
import socket
from collections.abc import Iterator

import pytest
from gunicorn import glogging, util
from gunicorn.config import Config

from annotator.core import client_io, serving
from annotator.core.client_io import ClientSocket, request_is_whole
from annotator.core.serving import SavesFirstWorker

SAVE = b'POST /api/v1/sets/1/spans/ HTTP/1.1\r\nHost: x\r\nContent-Length: 13\r\n\r\n{"start": 0}\n'
PAGE = b"GET /articles/1/annotate/ HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.mark.parametrize(
    ("data", "whole"),
    [
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", True),
        (b"GET / HTTP/1.1\r\nHost: x\r\n", False),  # the head has not ended
        (
            b"GET / HTTP/1.1\r\nContent-Length: 5\r\nHost: x\r\n\r\nab",
            False,
        ),  # a read with a body, part of it
        (b"GET / HTTP/1.1\r\nHost: x\r\ncontent-length: 2\r\n\r\nab", True),
        (b"", False),
        (SAVE, True),
        (SAVE[:-1], False),  # one byte of the body missing
        (b"POST /x HTTP/1.1\r\nContent-Length: 65536\r\n\r\n" + b"a" * 65535, False),
        (b"POST /x HTTP/1.1\r\nContent-Length: 65537\r\n\r\n", True),  # a large body is read while served
        (b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", True),
        (b"POST /x HTTP/1.1\r\nContent-Length: 9\r\nExpect: 100-continue\r\n\r\n", True),  # sent once asked
        (b"POST /x HTTP/1.1\r\nContent-Length: x\r\n\r\n", True),  # gunicorn refuses it
        (b"GET /" + b"a" * 40000, True),  # a head past the limit: gunicorn refuses it
    ],
)
def test_a_request_is_whole_once_its_head_and_its_small_body_have_come(data, whole):
    assert request_is_whole(data) is whole


class Echo:
    """A WSGI app answering what it was sent; `then` runs after the body is read (to raise, say)."""

    def __init__(self) -> None:
        self.served: list[str] = []
        self.then = None

    def __call__(self, environ, start_response):
        body = environ["wsgi.input"].read()
        line = f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}"
        self.served.append(line)
        if self.then:
            self.then()
        answer = line.encode() + b"\n" + body
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(answer)))])
        return [answer]


@pytest.fixture
def worker(monkeypatch, tmp_path) -> Iterator[SavesFirstWorker]:
    """A SavesFirstWorker set up as init_process sets it up, without its signals or its endless loop."""
    monkeypatch.setattr(util, "close_graceful", serving.close_now_or_linger)
    monkeypatch.setenv("WEB_READ_WAIT_MS", "60000")
    monkeypatch.setenv("WEB_CLIENT_TIMEOUT", "1")
    cfg = Config()
    cfg.set("worker_tmp_dir", str(tmp_path))
    listener = socket.create_server(("127.0.0.1", 0))
    made = SavesFirstWorker(0, 0, [listener], None, 30, cfg, glogging.Logger(cfg))
    made.poller = selectors.DefaultSelector()
    made.wsgi = Echo()
    made.set_accept_enabled(True)
    yield made
    made.murder_keepalived(force=True)
    made.poller.close()
    listener.close()
    made.tmp.close()


def connect(worker: SavesFirstWorker) -> socket.socket:
    client = socket.create_connection(worker.sockets[0].getsockname())
    client.settimeout(30)
    before = worker.nr_conns
    while worker.nr_conns == before:
        worker.wait_for_and_dispatch_events(timeout=5)
    return client


def arrived(worker: SavesFirstWorker, count: int) -> None:
    while len(worker.waiting) < count:
        worker.wait_for_and_dispatch_events(timeout=5)


def everything(client: socket.socket) -> bytes:
    """What the server sent until it closed the connection."""
    received = b""
    while chunk := client.recv(65536):
        received += chunk
    return received


def answer(client: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        data += client.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(
        next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))[15:]
    )
    while len(body) < length:
        body += client.recv(65536)
    return body


def test_a_request_waits_in_the_poller_until_it_is_whole_while_others_are_served(worker):
    slow, quick = connect(worker), connect(worker)
    slow.sendall(SAVE[:30])  # the start of its head
    quick.sendall(PAGE)
    arrived(worker, 1)
    assert [len(worker.waiting), len(worker.pending_conns)] == [
        1,
        1,
    ]  # the slow one is not waiting to be served
    worker.serve_next()
    assert answer(quick) == b"GET /articles/1/annotate/\n"
    slow.sendall(SAVE[30:-5])  # the rest of its head and part of its body
    while len(worker.pending_conns[0].parser.unreader.buf.getvalue()) < len(SAVE) - 5:
        worker.wait_for_and_dispatch_events(timeout=5)
    assert len(worker.waiting) == 0
    slow.sendall(SAVE[-5:])
    arrived(worker, 1)
    worker.serve_next()
    assert answer(slow) == b'POST /api/v1/sets/1/spans/\n{"start": 0}\n'  # its bytes as sent, read once
    assert worker.wsgi.served == ["GET /articles/1/annotate/", "POST /api/v1/sets/1/spans/"]


def test_a_request_that_does_not_come_whole_within_the_client_timeout_is_closed(worker, monkeypatch):
    stalled = connect(worker)
    stalled.sendall(SAVE[:30])
    while not worker.pending_conns[0].parser.unreader.buf.getvalue():
        worker.wait_for_and_dispatch_events(timeout=5)
    (conn,) = worker.pending_conns
    now = serving.time.monotonic()
    assert now < conn.timeout <= now + 1  # WEB_CLIENT_TIMEOUT from its first bytes
    conn.timeout = 0.0
    worker.murder_pending()
    assert everything(stalled) == client_io.TIMED_OUT  # it began and stopped: told so, not dropped
    assert (worker.nr_conns, len(worker.waiting)) == (0, 0)


def test_a_connection_that_sent_nothing_in_its_time_is_closed_without_an_answer(worker):
    idle = connect(worker)
    (conn,) = worker.pending_conns
    conn.timeout = 0.0
    worker.murder_pending()
    assert everything(idle) == b""
    assert (worker.nr_conns, len(worker.waiting)) == (0, 0)


def test_each_connection_waiting_for_its_request_is_closed_at_its_own_deadline(worker):
    stalled, idle, partial = connect(worker), connect(worker), connect(worker)
    stalled.sendall(SAVE[:30])
    partial.sendall(SAVE[:10])

    def gathering():
        return [conn for conn in worker.pending_conns if conn.parser and conn.parser.unreader.buf.getvalue()]

    while len(gathering()) < 2:
        worker.wait_for_and_dispatch_events(timeout=5)
    new, first, second = worker.pending_conns  # the two with bytes went back in after the idle one
    assert new.parser.unreader.buf.getvalue() == b""
    first.timeout, second.timeout, new.timeout = 1e12, 0.0, 1e12  # only one in the middle is past its time
    worker.murder_pending()
    assert list(worker.pending_conns) == [new, first]
    assert worker.nr_conns == 2
    for client in (stalled, idle, partial):
        client.close()


def test_at_the_waiting_cap_new_connections_stay_in_the_backlog_and_kept_alive_requests_in_their_sockets(
    worker,
):
    worker.waiting_max = 2
    first, second = connect(worker), connect(worker)
    first.sendall(PAGE)
    second.sendall(PAGE)
    arrived(worker, 2)
    late = socket.create_connection(worker.sockets[0].getsockname())
    late.sendall(SAVE)
    for _ in range(3):
        worker.take_arrivals(timeout=0.2)
    assert (worker.nr_conns, len(worker.waiting)) == (2, 2)  # not accepted
    # Another process takes it from the listen backlog, whole.
    worker.sockets[0].setblocking(True)
    taken, _ = worker.sockets[0].accept()
    taken.settimeout(30)
    assert taken.recv(len(SAVE), socket.MSG_WAITALL) == SAVE
    taken.close()
    late.close()
    worker.sockets[0].setblocking(False)
    # A kept-alive client's next request is read only once the queue is below the cap.
    worker.serve_next()
    answer(first)
    first.sendall(SAVE)
    worker.take_arrivals(timeout=5)  # below the cap (one waits): its request is taken
    assert len(worker.waiting) == 2
    worker.serve_next()
    worker.serve_next()
    assert answer(second) == b"GET /articles/1/annotate/\n"
    assert answer(first) == b'POST /api/v1/sets/1/spans/\n{"start": 0}\n'


def test_requests_taken_and_not_served_are_answered_503_and_idle_connections_closed(worker):
    waiting, kept_with_request, kept_idle = connect(worker), connect(worker), connect(worker)
    for client in (kept_with_request, kept_idle):
        client.sendall(PAGE)
        arrived(worker, 1)
        worker.serve_next()
        answer(client)
    waiting.sendall(SAVE)
    arrived(worker, 1)
    kept_with_request.sendall(SAVE)  # in its socket, not yet read by the worker
    worker.refuse_waiting()
    for client in (waiting, kept_with_request):
        refused = everything(client)
        assert refused.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
        assert b"\r\nRetry-After: 1\r\n" in refused
        assert b"\r\nConnection: close\r\n" in refused
        assert refused.endswith(b"\r\n\r\nThe server is restarting: send the request again.\n")
    assert everything(kept_idle) == b""  # nothing was asked on it: closed without an answer
    assert worker.wsgi.served == ["GET /articles/1/annotate/", "GET /articles/1/annotate/"]
    assert (worker.nr_conns, len(worker.keepalived_conns), len(worker.waiting)) == (0, 0, 0)


def test_a_large_body_that_stalls_is_given_up_after_the_client_timeout_and_the_next_request_served(worker):
    stalled, next_one = connect(worker), connect(worker)
    stalled.sendall(b"PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + b"a" * 1000)
    arrived(worker, 1)  # a large body: served once its head is here
    next_one.sendall(PAGE)
    arrived(worker, 2)
    worker.serve_next()  # the body stops coming: the read gives up at WEB_CLIENT_TIMEOUT (1 s)
    assert everything(stalled) == b""
    worker.serve_next()
    assert answer(next_one) == b"GET /articles/1/annotate/\n"
    assert worker.wsgi.served == ["GET /articles/1/annotate/"]  # the upload's read of its body failed


def test_a_request_cut_short_by_the_worker_timeout_is_answered_500_unless_its_answer_had_begun(worker):
    client = connect(worker)
    client.sendall(SAVE)
    arrived(worker, 1)

    def killed():
        raise SystemExit(1)  # what handle_abort raises in the request under way

    worker.wsgi.then = killed
    with pytest.raises(SystemExit):
        worker.serve_next()
    received = everything(client)  # it may have taken effect: no Retry-After
    assert received == client_io.CUT_SHORT
    assert received.startswith(b"HTTP/1.1 500 Internal Server Error\r\n")
    assert b"Retry-After" not in received


def test_an_answer_under_way_is_not_followed_by_another(worker):
    client = connect(worker)
    client.sendall(PAGE)
    arrived(worker, 1)

    def answering_then_killed(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "10")])
        yield b"part"
        raise SystemExit(1)

    worker.wsgi = answering_then_killed
    worker.serve_next()  # gunicorn ends a begun answer by closing the connection (StopIteration)
    received = everything(client)
    assert received.startswith(b"HTTP/1.1 200 OK\r\n")
    assert received.endswith(b"\r\n\r\npart")
    assert b"500" not in received


def test_a_client_socket_bounds_its_waits_and_says_whether_an_answer_began():
    left, right = socket.socketpair()
    sock = ClientSocket.adopt(left, limit=1)
    sock.setblocking(True)
    assert sock.gettimeout() == 1
    sock.setblocking(False)
    assert sock.gettimeout() == 0.0
    sock.setblocking(True)
    sock.serving(now=serving.time.monotonic())
    with pytest.raises(TimeoutError):  # nothing comes: the read gives up after `limit`
        sock.recv(10)
    assert sock.sent is False
    sock.sendall(b"x")
    assert sock.sent is True
    assert right.recv(1) == b"x"
    sock.close()
    right.close()


@pytest.mark.parametrize(("value", "seconds"), [("", client_io.CLIENT_TIMEOUT), ("3", 3)])
def test_the_client_timeout_is_web_client_timeout(monkeypatch, value, seconds):
    monkeypatch.setenv("WEB_CLIENT_TIMEOUT", value)
    assert client_io.client_timeout_seconds() == seconds


@pytest.mark.parametrize("value", ["0", "1.5", "soon"])
def test_a_client_timeout_that_is_not_whole_seconds_is_refused(monkeypatch, value):
    monkeypatch.setenv("WEB_CLIENT_TIMEOUT", value)
    with pytest.raises(
        ValueError, match=f"WEB_CLIENT_TIMEOUT must be a whole number of seconds, at least 1, not '{value}'"
    ):
        client_io.client_timeout_seconds()


def test_the_waiting_cap_is_web_waiting_max(monkeypatch):
    monkeypatch.setenv("WEB_WAITING_MAX", "5")
    assert serving.waiting_max() == 5
    monkeypatch.delenv("WEB_WAITING_MAX")
    assert serving.waiting_max() == serving.WAITING_MAX
