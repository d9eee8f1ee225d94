"""One request at a time, saves first (annotator.core.serving.SavesFirstWorker and WaitingRequests): the order
in which waiting requests are served, the age limit that keeps reads from starving, kept-alive connections,
a request's bytes reaching the app as sent, and no request dropped. The worker runs in this process on real
loopback sockets; the test turns its loop one pass at a time, so nothing depends on timing."""

from __future__ import annotations

import selectors
import socket
from collections.abc import Iterator

import pytest
from gunicorn import glogging, util
from gunicorn.config import Config

from annotator.core import serving
from annotator.core.serving import READS, SAVES, SavesFirstWorker, WaitingRequests

SAVE = b'POST /api/v1/sets/1/spans/ HTTP/1.1\r\nHost: x\r\nContent-Length: 13\r\n\r\n{"start": 0}\n'
PAGE = b"GET /articles/1/annotate/ HTTP/1.1\r\nHost: x\r\n\r\n"
LIST = b"GET /api/v1/projects/1/articles/ HTTP/1.1\r\nHost: x\r\n\r\n"


# --- WaitingRequests: the order alone -------------------------------------------------------------------


def test_saves_go_before_reads_and_each_kind_keeps_its_arrival_order():
    waiting = WaitingRequests(read_wait=0.5)
    for name, priority in [("page", READS), ("span", SAVES), ("list", READS), ("accept", SAVES)]:
        waiting.add(name, priority, now=10.0)
    assert len(waiting) == 4
    assert [waiting.take() for _ in range(5)] == ["span", "accept", "page", "list", None]
    assert len(waiting) == 0


def test_a_read_goes_before_the_saves_that_came_more_than_the_read_wait_after_it():
    waiting = WaitingRequests(read_wait=0.5)
    waiting.add("page", READS, now=10.0)  # due at 10.5
    waiting.add("span", SAVES, now=10.4)
    waiting.add("list", READS, now=10.45)  # due at 10.95
    waiting.add("accept", SAVES, now=10.6)
    waiting.add("decision", SAVES, now=11.0)
    assert [waiting.take() for _ in range(5)] == ["span", "page", "accept", "list", "decision"]


def test_far_behind_saves_keep_their_head_start_and_reads_still_come_round():
    """A process seconds behind (every read long past the read wait): saves still go before the reads
    that came less than the read wait before them, and a steady stream of saves never holds a read back
    for longer than the read wait."""
    waiting = WaitingRequests(read_wait=0.5)
    for tenth in range(40):  # four seconds of arrivals, a read and a save every tenth of a second
        waiting.add(f"read {tenth}", READS, now=tenth / 10)
        waiting.add(f"save {tenth}", SAVES, now=tenth / 10 + 0.05)
    served = [waiting.take() for _ in range(80)]
    assert served[:6] == ["save 0", "save 1", "save 2", "save 3", "save 4", "read 0"]
    # every read is served right after the save that came 0.45 s after it, each save before reads 5 later
    assert all(served.index(f"read {n}") == served.index(f"save {n + 4}") + 1 for n in range(36))
    assert served[-4:] == ["read 36", "read 37", "read 38", "read 39"]


def test_with_no_read_wait_requests_are_served_in_arrival_order():
    waiting = WaitingRequests(read_wait=0.0)
    waiting.add("page", READS, now=1.0)
    waiting.add("span", SAVES, now=2.0)
    waiting.add("list", READS, now=3.0)
    assert [waiting.take(), waiting.take(), waiting.take()] == ["page", "span", "list"]


def test_clear_hands_back_every_waiting_request_saves_first():
    waiting = WaitingRequests(read_wait=0.5)
    waiting.add("page", READS, now=1.0)
    waiting.add("span", SAVES, now=2.0)
    assert waiting.clear() == ["span", "page"]
    assert waiting.take() is None


@pytest.mark.parametrize(("value", "seconds"), [("", 0.5), ("250", 0.25), ("0", 0.0)])
def test_the_read_wait_is_web_read_wait_ms(monkeypatch, value, seconds):
    monkeypatch.setenv("WEB_READ_WAIT_MS", value)
    assert serving.read_wait_seconds() == seconds


def test_a_read_wait_that_is_not_whole_milliseconds_is_refused(monkeypatch):
    monkeypatch.setenv("WEB_READ_WAIT_MS", "0.5")
    with pytest.raises(
        ValueError, match="WEB_READ_WAIT_MS must be a whole number of milliseconds, not '0.5'"
    ):
        serving.read_wait_seconds()


# --- SavesFirstWorker: the loop on real sockets -----------------------------------------------------------


class Echo:
    """A WSGI app that answers every request with what it was sent, and notes the order it was called in."""

    def __init__(self) -> None:
        self.served: list[str] = []

    def __call__(self, environ, start_response):
        body = environ["wsgi.input"].read()
        line = f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}"
        self.served.append(line)
        answer = line.encode() + b"\n" + body
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(answer)))])
        return [answer]


@pytest.fixture
def worker(monkeypatch, tmp_path) -> Iterator[SavesFirstWorker]:
    """A SavesFirstWorker set up as init_process sets it up (without its signals or its endless loop),
    listening on the loopback, serving Echo, with gunicorn's defaults (2 s keep-alive)."""
    monkeypatch.setattr(util, "close_graceful", serving.close_now_or_linger)
    monkeypatch.setenv("WEB_READ_WAIT_MS", "60000")  # reads wait as long as the test needs
    cfg = Config()
    cfg.set("worker_tmp_dir", str(tmp_path))
    listener = socket.create_server(("127.0.0.1", 0))
    made = SavesFirstWorker(0, 0, [listener], None, 30, cfg, glogging.Logger(cfg))
    made.poller = selectors.DefaultSelector()
    made.waiting = WaitingRequests(serving.read_wait_seconds())
    made.wsgi = Echo()
    made.set_accept_enabled(True)
    yield made
    made.murder_keepalived(force=True)
    made.poller.close()
    listener.close()
    made.tmp.close()


def connect(worker: SavesFirstWorker) -> socket.socket:
    """A client connection the worker has accepted (nothing sent on it yet: it waits in the poller)."""
    client = socket.create_connection(worker.sockets[0].getsockname())
    client.settimeout(30)
    before = worker.nr_conns
    while worker.nr_conns == before:
        worker.wait_for_and_dispatch_events(timeout=5)
    return client


def answer(client: socket.socket) -> bytes:
    """One HTTP answer read whole from the client's socket."""
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


def arrived(worker: SavesFirstWorker, count: int) -> None:
    """Polls (without serving) until `count` requests wait."""
    while len(worker.waiting) < count:
        worker.wait_for_and_dispatch_events(timeout=5)


def test_saves_sent_after_reads_are_served_before_them_on_kept_alive_connections(worker):
    clients = [connect(worker) for _ in range(4)]
    assert len(worker.pending_conns) == 4  # connected, nothing sent: in the poller, not waiting to be served
    # Every connection serves one request first: then all four are kept alive, in the poller.
    for client in clients:
        client.sendall(LIST)
        arrived(worker, 1)
        worker.serve_next()
        assert answer(client) == b"GET /api/v1/projects/1/articles/\n"
    assert len(worker.keepalived_conns) == 4
    worker.wsgi.served.clear()
    for client, request in zip(clients, [PAGE, SAVE, LIST, SAVE], strict=True):
        client.sendall(request)
    arrived(worker, 4)
    for _ in range(4):
        worker.serve_next()
    assert worker.wsgi.served == [
        "POST /api/v1/sets/1/spans/",
        "POST /api/v1/sets/1/spans/",
        "GET /articles/1/annotate/",
        "GET /api/v1/projects/1/articles/",
    ]
    # Each answer went back on its own connection, whole: what each one sent.
    assert [answer(client) for client in clients] == [
        b"GET /articles/1/annotate/\n",
        b'POST /api/v1/sets/1/spans/\n{"start": 0}\n',
        b"GET /api/v1/projects/1/articles/\n",
        b'POST /api/v1/sets/1/spans/\n{"start": 0}\n',
    ]
    assert (worker.nr_conns, len(worker.keepalived_conns)) == (4, 4)  # all still open for the next request
    for client in clients:
        client.close()


def test_a_read_that_came_the_read_wait_before_a_save_is_served_before_it(worker):
    worker.waiting.read_wait = 0  # a read goes before every save that came after it
    page, save = connect(worker), connect(worker)
    page.sendall(PAGE)
    arrived(worker, 1)
    save.sendall(SAVE)
    arrived(worker, 2)
    worker.serve_next()
    worker.serve_next()
    assert worker.wsgi.served == ["GET /articles/1/annotate/", "POST /api/v1/sets/1/spans/"]
    page.close()
    save.close()


def test_a_large_body_and_a_request_sent_with_the_previous_one_reach_the_app_as_sent(worker):
    """A write with a body over SMALL_BODY_BYTES waits with the reads; two requests sent at once on one
    connection (the second read ahead with the first) are both served, in order, on that connection."""
    client = connect(worker)
    body = bytes(range(256)) * 300  # 76,800 bytes, every byte value
    upload = b"PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    client.sendall(upload + SAVE)
    arrived(worker, 1)
    assert serving.request_priority(upload[: serving.PEEKED_BYTES]) == READS
    worker.serve_next()
    assert answer(client) == b"PUT /upload\n" + body
    arrived(worker, 1)  # the save read ahead is waiting again, without the poller having seen it
    worker.serve_next()
    assert answer(client) == b'POST /api/v1/sets/1/spans/\n{"start": 0}\n'
    assert worker.wsgi.served == ["PUT /upload", "POST /api/v1/sets/1/spans/"]
    client.close()


def test_a_request_that_arrives_as_its_kept_alive_connection_expires_is_served_not_dropped(worker):
    client = connect(worker)
    client.sendall(LIST)
    arrived(worker, 1)
    worker.serve_next()
    answer(client)
    (kept,) = worker.keepalived_conns
    client.sendall(PAGE)
    kept.timeout = 0.0  # past its keep-alive, with its next request already in the socket
    worker.murder_keepalived()
    assert len(worker.waiting) == 1  # served, not closed
    worker.serve_next()
    assert answer(client) == b"GET /articles/1/annotate/\n"
    client.close()


def test_a_connection_the_client_closed_is_closed_and_counted_out(worker):
    client = connect(worker)
    client.sendall(PAGE)
    arrived(worker, 1)
    worker.serve_next()
    answer(client)
    client.close()
    while worker.keepalived_conns:  # the poller sees the end of the stream as readable
        worker.wait_for_and_dispatch_events(timeout=5)
    worker.serve_next()  # reading finds no request: the connection is closed
    assert (worker.nr_conns, len(worker.waiting)) == (0, 0)


def test_a_stopping_worker_answers_the_request_under_way_and_closes_the_connection(worker):
    client = connect(worker)
    client.sendall(SAVE)
    arrived(worker, 1)
    worker.alive = False
    worker.serve_next()
    received = b""
    while chunk := client.recv(65536):  # the answer, then the end of the stream
        received += chunk
    assert b"Connection: close" in received
    assert received.endswith(b'POST /api/v1/sets/1/spans/\n{"start": 0}\n')
    assert worker.nr_conns == 0
    client.close()
