"""A large upload to the default worker (SavesFirstWorker) in a real gunicorn: one that keeps arriving is read
whole however long it takes, past WEB_CLIENT_TIMEOUT (3 s here) and past the master's worker timeout
(--timeout 6: the process tells the master it is alive while the body moves). The client is paced by waits on
an event, so that more than both pass; nothing asserts a duration."""

from __future__ import annotations

import threading

from tests.integration.test_i29serve_live_worker import answer, client, served

CHUNK = 256 * 1024
CHUNKS = 30  # 7.5 MiB, 0.3 s apart: 9 s or more in all


def test_an_upload_that_keeps_arriving_is_read_whole_past_the_client_and_worker_timeouts(tmp_path):
    with served(tmp_path, "--timeout 6", client_timeout=3) as (address, _):
        sock = client(address)
        sock.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (CHUNK * CHUNKS))
        pause = threading.Event()
        for _ in range(CHUNKS):
            pause.wait(0.3)
            sock.sendall(b"a" * CHUNK)
        received = answer(sock)
        assert received.startswith(b"HTTP/1.1 200 OK\r\n")
        assert received.endswith(b"\r\n\r\nPOST /upload %d" % (CHUNK * CHUNKS))
        sock.sendall(b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")  # the same connection, kept open
        assert answer(sock).endswith(b"GET /ok 0")
        sock.close()
