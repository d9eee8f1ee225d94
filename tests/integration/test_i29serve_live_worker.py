"""The default web worker (gunicorn.conf.py with no WEB_* set: SavesFirstWorker, one request at a time per
process) in a real gunicorn, over real sockets: a stalled client does not hold the process, and neither the
master's worker timeout nor a stop that outlasts the graceful timeout drops the requests the process had
taken: each waiting one is answered 503 with Retry-After, the one cut short 500 (it may have taken effect),
and a connection still in the listen backlog is served by the worker started in the killed one's place.
A stalled client is answered 408. The app is this module's `app` (no Django, no database), so what is
tested is the serving alone. The tests wait for events (an answer, a file the app writes), never for a time
to pass."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from annotator.core import client_io
from annotator.core.serving import web_threads, web_worker_class
from tests.live import api_call, app_environment, gunicorn_process, listening_socket, worker_pids

ROOT = Path(__file__).resolve().parents[2]


def app(environ, start_response):
    """Answers "METHOD PATH BODY-LENGTH". /hang writes the file HANG_MARK, then never answers (until the
    process is stopped); /block writes it and waits for the file BLOCK_RELEASE to exist."""
    path = environ["PATH_INFO"]
    body = environ["wsgi.input"].read()
    if path in ("/hang", "/block"):
        Path(os.environ["HANG_MARK"]).write_text("serving")
        release = Path(os.environ["BLOCK_RELEASE"])
        while path == "/hang" or not release.exists():
            time.sleep(0.01)
    answer = f"{environ['REQUEST_METHOD']} {path} {len(body)}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(answer)))])
    return [answer]


GET = b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n"
SAVE = b'POST /save HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n\r\n{"start": 0}'
HANG = b"GET /hang HTTP/1.1\r\nHost: x\r\n\r\n"
BLOCK = b"GET /block HTTP/1.1\r\nHost: x\r\n\r\n"


@contextmanager
def served(
    tmp_path: Path, gunicorn_options: str, client_timeout: int = 1
) -> Iterator[tuple[tuple[str, int], subprocess.Popen]]:
    """gunicorn with one worker of gunicorn.conf.py's default class serving `app`; yields its address and
    its master. GUNICORN_CMD_ARGS: `gunicorn_options`; WEB_CLIENT_TIMEOUT: `client_timeout`."""
    listener = listening_socket()
    address = listener.getsockname()
    env = app_environment(
        GUNICORN_CMD_ARGS=gunicorn_options,
        WEB_CLIENT_TIMEOUT=str(client_timeout),
        ANNOTATOR_SUGGEST_ON_OPEN="false",
        HANG_MARK=str(tmp_path / "hanging"),
        BLOCK_RELEASE=str(tmp_path / "release"),
    )
    for name in ("WEB_SAVES_FIRST", "WEB_THREADS", "WEB_CONCURRENCY", "WEB_WAITING_MAX", "WEB_READ_WAIT_MS"):
        env.pop(name, None)  # the default configuration
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", f"{__name__}:app", "--bind", f"fd://{listener.fileno()}",
             "--workers", "1", "--log-level", "warning"],
            cwd=ROOT, env=env, pass_fds=[listener.fileno()],
        )  # fmt: skip
    finally:
        listener.close()
    try:
        deadline = time.monotonic() + 180
        while True:  # its first answer: started
            try:
                with socket.create_connection(address, timeout=5) as probe:
                    probe.sendall(GET)
                    if probe.recv(100).startswith(b"HTTP/1.1 200"):
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not start")
            time.sleep(0.1)
        yield address, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def client(address: tuple[str, int]) -> socket.socket:
    sock = socket.create_connection(address)
    sock.settimeout(60)  # a test that fails does so here, not by hanging
    return sock


_read_ahead: dict[int, bytes] = {}  # bytes of the next answer read with the last one, by socket


def answer(sock: socket.socket) -> bytes:
    """One answer read whole (head and body); b"" when the connection closed without one."""
    data = _read_ahead.pop(id(sock), b"")
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(
        next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))[15:]
    )
    while len(body) < length:
        body += sock.recv(65536)
    if body[length:]:
        _read_ahead[id(sock)] = body[length:]
    return head + b"\r\n\r\n" + body[:length]


def kept_alive(address: tuple[str, int]) -> socket.socket:
    """A connection that has had one request answered and is kept open."""
    sock = client(address)
    sock.sendall(GET)
    assert answer(sock).endswith(b"GET /ok 0")
    return sock


def serving_the_hang(tmp_path: Path) -> None:
    deadline = time.monotonic() + 60
    while not (tmp_path / "hanging").exists():
        assert time.monotonic() < deadline, "the worker never began /hang"
        time.sleep(0.02)


def cut_short(received: bytes) -> bool:
    return received.startswith(b"HTTP/1.1 500 Internal Server Error\r\n") and b"Retry-After" not in received


def refused(received: bytes) -> bool:
    return (
        received.startswith(b"HTTP/1.1 503 Service Unavailable\r\n") and b"\r\nRetry-After: 1\r\n" in received
    )


def test_a_stalled_client_does_not_hold_the_one_thread(tmp_path):
    with served(tmp_path, "--timeout 300") as (address, _):
        stalled_head, stalled_body, prompt = client(address), client(address), client(address)
        stalled_head.sendall(SAVE[:20])  # a slowloris: part of a head, then nothing
        stalled_body.sendall(SAVE[:-3])  # a small body that stops 3 bytes short
        prompt.sendall(SAVE)
        assert answer(prompt).endswith(b"\r\n\r\nPOST /save 12")
        # Neither is ever served: each is answered 408 and closed once the client timeout (1 s) after its
        # first byte is past.
        for stalled in (stalled_head, stalled_body):
            assert answer(stalled) == client_io.TIMED_OUT
            assert stalled.recv(100) == b""
        prompt.sendall(GET)  # and the process goes on serving
        assert answer(prompt).endswith(b"GET /ok 0")


def test_the_worker_timeout_answers_what_the_killed_process_had_taken_and_the_backlog_is_served(tmp_path):
    with served(tmp_path, "--timeout 10") as (address, _):  # headroom: a loaded machine may pause a process
        reader, saver = kept_alive(address), kept_alive(address)
        hung = client(address)
        hung.sendall(HANG)
        serving_the_hang(tmp_path)
        reader.sendall(GET)  # taken by the process, which is busy
        saver.sendall(SAVE)
        queued = client(address)  # not accepted: in the listen backlog
        queued.sendall(GET)
        # The master kills the process for its timeout (10 s without a heartbeat).
        assert cut_short(answer(hung))  # it may have taken effect
        assert refused(answer(reader))
        assert refused(answer(saver))
        assert answer(queued).endswith(b"GET /ok 0")  # the new process took it from the backlog


def test_a_stop_that_outlasts_the_graceful_timeout_answers_503_instead_of_dropping(tmp_path):
    with served(tmp_path, "--timeout 300 --graceful-timeout 10") as (address, master):
        reader, saver = kept_alive(address), kept_alive(address)
        hung = client(address)
        hung.sendall(HANG)
        serving_the_hang(tmp_path)
        reader.sendall(GET)
        saver.sendall(SAVE)
        master.send_signal(signal.SIGTERM)
        assert cut_short(answer(hung))  # a second before the master's 10 s: it may have taken effect
        assert refused(answer(reader))
        assert refused(answer(saver))
        assert master.wait(timeout=60) == 0


def test_a_graceful_stop_serves_the_requests_taken_and_closes_their_connections(tmp_path):
    with served(tmp_path, "--timeout 300 --graceful-timeout 120") as (address, master):
        reader, saver = kept_alive(address), kept_alive(address)
        blocked = client(address)
        blocked.sendall(BLOCK)
        serving_the_hang(tmp_path)
        reader.sendall(GET)
        saver.sendall(SAVE)
        # Signalled itself (the master's stop would reach it later, maybe after the release): its handler
        # runs before its next bytecode, so before the app sees the release.
        (worker,) = worker_pids(master)
        os.kill(worker, signal.SIGTERM)
        (tmp_path / "release").write_text("go")
        assert answer(blocked).endswith(b"GET /block 0")
        for sock, expected in ((reader, b"GET /ok 0"), (saver, b"POST /save 12")):
            received = answer(sock)
            assert received.startswith(b"HTTP/1.1 200 OK\r\n")
            assert b"\r\nConnection: close\r\n" in received
            assert received.endswith(expected)
            assert sock.recv(100) == b""


@pytest.mark.parametrize("pipelined", [False, True])
def test_a_kept_alive_connection_serves_one_request_after_another(tmp_path, pipelined):
    with served(tmp_path, "--timeout 300") as (address, _):
        sock = client(address)
        if pipelined:
            sock.sendall(SAVE + GET)
            assert answer(sock).endswith(b"POST /save 12")
        else:
            sock.sendall(SAVE)
            assert answer(sock).endswith(b"POST /save 12")
            sock.sendall(GET)
        assert answer(sock).endswith(b"GET /ok 0")
        assert sock.recv(100) == b""  # closed once idle for the keep-alive (2 s)


@pytest.mark.django_db(transaction=True)
def test_the_app_served_by_the_default_worker_saves_and_keeps_connections_open(news, monkeypatch):
    """The Django app behind the default worker: a span saved with its ETag, a stale one refused, the set read
    back, and two calls on one kept-alive connection."""
    # Here, not at the top: gunicorn imports this module for `app`, before Django has loaded its models.
    from annotator.api.tokens import create_token
    from tests.conftest import NARYSHKIN

    monkeypatch.delenv("WEB_SAVES_FIRST", raising=False)
    monkeypatch.delenv("WEB_THREADS", raising=False)
    default = web_worker_class(web_threads())
    assert default == "annotator.core.serving.SavesFirstWorker"
    token = create_token(user=news.annotator, name="default", scope="write")[1]
    set_url = f"/api/v1/sets/{news.annotation_set.pk}/"
    span = {"start": NARYSHKIN[0], "end": NARYSHKIN[1], "type": "PERSON"}
    with gunicorn_process(workers=1, arguments=["--worker-class", default]) as (base, _):
        assert api_call("POST", f"{base}{set_url}spans/", token, span, if_match='"1"')[:2] == (201, '"2"')
        assert api_call("POST", f"{base}{set_url}spans/", token, span, if_match='"1"')[0] == 412
        status, etag, body = api_call("GET", base + set_url, token)
        assert (status, etag) == (200, '"2"')
        assert [(s["start"], s["end"]) for s in body["spans"]] == [NARYSHKIN]  # type: ignore[index]
        kept = http.client.HTTPConnection(base.removeprefix("http://"), timeout=60)
        kept.request("GET", "/healthz")
        first = kept.getresponse()
        first.read()
        sock = kept.sock
        kept.request("GET", "/healthz")
        second = kept.getresponse()
        second.read()
        assert (first.status, second.status, first.getheader("Connection")) == (200, 200, "keep-alive")
        assert kept.sock is sock  # the same connection
        kept.close()
