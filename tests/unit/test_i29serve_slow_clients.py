"""Slow clients under SavesFirstWorker (annotator.core.serving, annotator.core.client_io): WEB_CLIENT_TIMEOUT
bounds each wait on a client being served, not its whole body or answer, so a large upload or a slow reader
of a big answer that keeps moving is served whole, while one trickling below 1 KiB/s is given up; and a
process at WEB_WAITING_MAX reads a connection before closing it at its deadline, so a request that came
whole is served and one that stopped part-way is answered 408. Real loopback sockets; the client side is paced
by waits on events (so that more than WEB_CLIENT_TIMEOUT = 1 s passes), nothing asserts a duration."""

from __future__ import annotations

import select
import socket
import threading

import pytest

from annotator.core import client_io, serving
from annotator.core.client_io import ClientSocket

from .test_i29serve_saves_first_safety import PAGE, SAVE, answer, arrived, connect, everything, worker  # noqa: F401

CHUNK = 65536


def paced(send, chunks: int, pause: float, stop: threading.Event) -> threading.Thread:
    """A thread calling send(i) `chunks` times, `pause` seconds apart (or until `stop`)."""

    def run() -> None:
        for i in range(chunks):
            if stop.wait(pause):
                return
            send(i)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def served_pair(limit: float = 1, heartbeat=None) -> tuple[ClientSocket, socket.socket]:
    """(the server's ClientSocket, blocking as gunicorn sets it, serving; the client's socket)."""
    listener = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(listener.getsockname())
    accepted, _ = listener.accept()
    listener.close()
    sock = ClientSocket.adopt(accepted, limit=limit)
    sock.heartbeat = heartbeat
    sock.setblocking(True)
    sock.serving(now=serving.time.monotonic())
    client.settimeout(30)
    return sock, client


def test_a_large_body_that_keeps_arriving_past_the_client_timeout_is_read_whole_with_heartbeats():
    beats = []
    sock, client = served_pair(heartbeat=lambda: beats.append(1))
    stop = threading.Event()
    body = bytes(range(256)) * (CHUNK // 256)
    sender = paced(lambda i: client.sendall(body), chunks=8, pause=0.25, stop=stop)  # 2 s or more in all
    received = bytearray()
    try:
        while len(received) < 8 * CHUNK:
            received += sock.recv(CHUNK)
    finally:
        stop.set()
        sender.join()
    assert received == body * 8
    assert beats  # the master heard from the process while it read (its timeout kills a silent one)
    sock.close()
    client.close()


def read_until_closed(sock: socket.socket) -> None:
    while sock.recv(CHUNK):
        pass


def test_a_client_trickling_below_the_minimum_rate_is_given_up():
    sock, client = served_pair()
    stop = threading.Event()
    sender = paced(lambda i: client.sendall(b"a" * 10), chunks=1000, pause=0.1, stop=stop)
    try:
        with pytest.raises(TimeoutError, match=r"the client moved \d+ bytes in [\d.]+ s of waiting on it"):
            read_until_closed(sock)
    finally:
        stop.set()
        sender.join()
    sock.close()
    client.close()


def test_a_slow_reader_of_a_large_answer_gets_all_of_it():
    sock, client = served_pair()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16384)
    answer_bytes = bytes(range(256)) * (16 * CHUNK // 256)  # 1 MiB
    received = bytearray()
    stop = threading.Event()

    def read_slowly() -> None:
        while len(received) < len(answer_bytes) and not stop.wait(0.1):
            received.extend(client.recv(CHUNK))  # 64 KiB each 0.1 s at most: 1.6 s or more in all

    reader = threading.Thread(target=read_slowly, daemon=True)
    reader.start()
    try:
        sock.sendall(answer_bytes)
    finally:
        reader.join(60)
        stop.set()
    assert bytes(received) == answer_bytes
    assert sock.sent is True
    sock.close()
    client.close()


def test_a_reader_that_stops_is_given_up_after_the_client_timeout():
    sock, client = served_pair()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16384)
    with pytest.raises(TimeoutError):
        sock.sendall(b"x" * (64 * 1024 * 1024))  # more than any socket buffer holds; nobody reads
    sock.close()
    client.close()


def readable(conn) -> None:
    """Wait until the bytes a client sent are in its connection's socket (select does not read them)."""
    assert select.select([conn.sock], [], [], 30)[0]


def at_the_cap_with_a_pending_connection(worker):  # noqa: F811
    """The worker at WEB_WAITING_MAX (1) with one page waiting, and a connection accepted before that
    with nothing sent yet: (the page's client, the late client, the late connection)."""
    worker.waiting_max = 1
    late = connect(worker)
    (late_conn,) = worker.pending_conns
    first = connect(worker)
    first.sendall(PAGE)
    arrived(worker, 1)
    return first, late, late_conn


def test_a_request_that_came_whole_while_the_process_was_at_its_cap_is_served_not_dropped(worker):  # noqa: F811
    first, late, late_conn = at_the_cap_with_a_pending_connection(worker)
    late.sendall(SAVE)
    readable(late_conn)
    for _ in range(3):
        worker.take_arrivals(timeout=0.2)  # at the cap: nothing is read
    assert late_conn.parser.unreader.buf.getvalue() == b""
    late_conn.timeout = 0.0  # its deadline passes while the process is still at the cap
    worker.murder_pending()
    assert len(worker.waiting) == 2
    assert not worker.pending_conns
    worker.serve_next()
    worker.serve_next()
    assert answer(first) == b"GET /articles/1/annotate/\n"
    assert answer(late) == b'POST /api/v1/sets/1/spans/\n{"start": 0}\n'
    assert worker.wsgi.served == ["POST /api/v1/sets/1/spans/", "GET /articles/1/annotate/"]  # saves first


def test_a_request_that_stopped_part_way_while_the_process_was_at_its_cap_is_answered_408(worker):  # noqa: F811
    _first, late, late_conn = at_the_cap_with_a_pending_connection(worker)
    late.sendall(SAVE[:30])
    readable(late_conn)
    worker.take_arrivals(timeout=0.2)
    late_conn.timeout = 0.0
    worker.murder_pending()
    received = everything(late)
    assert received == client_io.TIMED_OUT
    assert received.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert b"\r\nConnection: close\r\n" in received
    assert (worker.nr_conns, len(worker.waiting)) == (1, 1)


def test_refusing_again_from_inside_a_refusal_answers_each_connection_once(worker, monkeypatch):  # noqa: F811
    kept = connect(worker)
    kept.sendall(PAGE)
    arrived(worker, 1)
    worker.serve_next()
    answer(kept)
    waiting = connect(worker)
    waiting.sendall(SAVE)
    arrived(worker, 1)
    kept.sendall(SAVE)  # in its socket, not read
    refused = []
    original = serving.refuse_unserved

    def alarm_fires_here(sock, answer=client_io.UNAVAILABLE):
        refused.append(sock)
        worker.refuse_waiting()  # as the overdue stop's alarm would, inside the normal refusal
        original(sock, answer)

    monkeypatch.setattr(serving, "refuse_unserved", alarm_fires_here)
    worker.refuse_waiting()
    assert len(refused) == 2
    assert len(set(refused)) == 2
    for client in (kept, waiting):
        got = everything(client)
        assert got == client_io.UNAVAILABLE
