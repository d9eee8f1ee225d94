"""How long the one thread of a SavesFirstWorker (annotator.core.serving) may wait for a client, and what a
client whose request will not be served is told.

A process that serves one request at a time must never wait on a client for long: every other request it
holds waits too. So a request is taken into the queue only once it has arrived whole (its head, and its body
when that is small: `request_is_whole`), the bytes gathered by the process's poller while it serves others;
and while a request is served, its socket (ClientSocket) bounds each wait that is left: each read of the rest
of a large or streamed body and each write of the answer, with a minimum rate over them. A stalled client
(slowloris) then holds a file descriptor, not the thread; a large upload that keeps arriving is not cut. A
request that began to arrive and stopped part-way is answered 408 (TIMED_OUT).

A request the process took but cannot serve (it is being stopped past its graceful timeout, or killed for
its own timeout) is answered 503 with Retry-After (`refuse_unserved`): it was never begun, so the client may
safely send it again, and it is told so instead of finding its connection closed. The request cut short
while it ran is answered 500 (CUT_SHORT), without Retry-After: it may have taken effect.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Callable
from typing import Any

SMALL_BODY_BYTES = 65536  # a body up to this size is gathered before the request is served
HEAD_LIMIT_BYTES = 32768  # a head that has not ended within this is served as it is (gunicorn refuses it)
CLIENT_TIMEOUT = 10  # seconds (WEB_CLIENT_TIMEOUT)
MIN_RATE_BYTES = 1024  # a second, averaged over each WEB_CLIENT_TIMEOUT of waiting on a client being served
RETRY_AFTER_SECONDS = 1


def _closing_answer(status: bytes, body: bytes, *headers: bytes) -> bytes:
    """A whole plain-text answer, written by the process itself (not the app), that closes its connection."""
    head = b"".join(header + b"\r\n" for header in headers)
    return (
        b"HTTP/1.1 %s\r\nContent-Type: text/plain; charset=utf-8\r\n%sConnection: close\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (status, head, len(body), body)
    )


UNAVAILABLE = _closing_answer(
    b"503 Service Unavailable",
    b"The server is restarting: send the request again.\n",
    b"Retry-After: %d" % RETRY_AFTER_SECONDS,
)
TIMED_OUT = _closing_answer(b"408 Request Timeout", b"The request did not arrive whole in time.\n")
CUT_SHORT = _closing_answer(
    b"500 Internal Server Error",
    b"The request took longer than the server allows; it may or may not have taken effect.\n",
)


def client_timeout_seconds() -> float:
    """WEB_CLIENT_TIMEOUT, else CLIENT_TIMEOUT: how long a request may take to come whole before it is
    queued (head and small body), and, once it is served, how long each read of the rest of its body and each
    write of its answer may wait for the client (with at least MIN_RATE_BYTES a second over that time)."""
    text = os.environ.get("WEB_CLIENT_TIMEOUT", "").strip()
    if not text:
        return CLIENT_TIMEOUT
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"WEB_CLIENT_TIMEOUT must be a whole number of seconds, at least 1, not {text!r}.")
    return int(text)


def request_is_whole(data: bytes) -> bool:
    """Whether `data`, the start of a request, is all the process needs to serve it without waiting on the
    client: its head and, when it declares a body of at most SMALL_BODY_BYTES, that body. A larger or
    streamed body, or one the client sends only once told to (Expect: 100-continue), is read while it is
    served; a head past HEAD_LIMIT_BYTES is served as it is, for gunicorn to refuse."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return len(data) >= HEAD_LIMIT_BYTES
    lowered = data[:end].lower()
    if (
        b"\ncontent-length" not in lowered
        and b"\ntransfer-encoding" not in lowered
        and b"\nexpect" not in lowered
    ):
        return True  # no body (most reads): whole with its head, without going through its lines
    length = 0
    for line in data[:end].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"transfer-encoding" or (name == b"expect" and value.strip().lower() == b"100-continue"):
            return True
        if name == b"content-length":
            value = value.strip()
            if not value.isdigit():
                return True  # gunicorn refuses it
            length = int(value)
    return length > SMALL_BODY_BYTES or len(data) >= end + 4 + length


class ClientSocket(socket.socket):
    """A connection's socket whose blocking waits are bounded: gunicorn sets it blocking to read a request
    and write its answer; here that means each read and each write waits at most `limit` seconds for the
    client (an inactivity limit, not a deadline for the whole body or answer: a large upload or export that
    keeps moving is never cut), and, while a request is served (`serving`), the client must move at least
    MIN_RATE_BYTES a second on average over each `limit` seconds the thread spent waiting on it, so that one
    trickling a byte now and then cannot hold the thread for ever. Every second of such waiting it calls
    `heartbeat` (the worker's notify), so the master's timeout does not kill a process busy moving a large
    body. Made from an accepted socket (`adopt`)."""

    limit: float = CLIENT_TIMEOUT
    heartbeat: Callable[[], None] | None = None
    sent = False  # whether any byte of an answer was written since `serving` (a 503 must not follow it)
    _metering = False  # whether the minimum rate applies (a request is being served)
    _waited = 0.0  # seconds spent in blocking reads and writes in the current window
    _moved = 0  # bytes read or written in the current window
    _beaten = 0.0  # when `heartbeat` was last called (time.monotonic())

    @classmethod
    def adopt(
        cls, sock: socket.socket, limit: float, heartbeat: Callable[[], None] | None = None
    ) -> ClientSocket:
        made = cls(sock.family, sock.type, sock.proto, fileno=sock.detach())
        made.limit, made.heartbeat = limit, heartbeat
        return made

    def serving(self, now: float) -> None:
        """A request is served from `now`: its reads and writes are metered from here."""
        self._metering, self._waited, self._moved, self.sent = True, 0.0, 0, False
        self._beaten = now

    def served(self) -> None:
        self._metering = False

    def setblocking(self, flag: bool) -> None:
        self.settimeout(self.limit if flag else 0.0)

    def _progress(self, count: int, started: float) -> None:
        """`count` bytes moved in a blocking call begun at `started`. Raises TimeoutError once the client has
        moved fewer than MIN_RATE_BYTES a second over a window of `limit` seconds of waiting on it."""
        now = time.monotonic()
        if self._metering:
            self._waited += now - started
            self._moved += count
            if self._waited >= self.limit:
                if self._moved < MIN_RATE_BYTES * self._waited:
                    raise TimeoutError(
                        f"the client moved {self._moved} bytes in {self._waited:.1f} s of waiting on it"
                    )
                self._waited, self._moved = 0.0, 0
        if self.heartbeat is not None and now - self._beaten >= 1:
            self._beaten = now
            self.heartbeat()

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        if not self.gettimeout():
            return super().recv(bufsize, flags)  # polled: never waits
        started = time.monotonic()
        data = super().recv(bufsize, flags)
        self._progress(len(data), started)
        return data

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        if not self.gettimeout():
            return super().recv_into(buffer, nbytes, flags)
        started = time.monotonic()
        count = super().recv_into(buffer, nbytes, flags)
        self._progress(count, started)
        return count

    def send(self, data: Any, flags: int = 0) -> int:
        self.sent = True
        if not self.gettimeout():
            return super().send(data, flags)
        started = time.monotonic()
        count = super().send(data, flags)  # waits at most `limit` for room, then sends what fits
        self._progress(count, started)
        return count

    def sendall(self, data: Any, flags: int = 0) -> None:
        """As socket.sendall, but `limit` bounds each wait for the client to make room, not the whole call
        (Python's sendall applies its timeout to all of it: a slow reader of a big answer would be cut)."""
        self.sent = True
        if not self.gettimeout():
            super().sendall(data, flags)
            return
        sent = self.send(data, flags)  # most answers fit the socket's buffer: sent at once
        if sent < len(data):
            left = memoryview(data).cast("B")[sent:]
            while left:
                left = left[self.send(left, flags) :]

    def sendfile(self, file: Any, offset: int = 0, count: int | None = None) -> int:
        self.sent = True  # Python's sendfile applies the timeout to each wait already
        return super().sendfile(file, offset, count)


def refuse_unserved(sock: socket.socket, answer: bytes = UNAVAILABLE) -> None:
    """Answer 503 (Retry-After) on a connection whose request was taken but will not be served (or `answer`:
    CUT_SHORT for one cut short while it ran, which may have taken effect, so no "send it again"), then close
    it without resetting it: the unread request bytes are read away first (they are there: the request had
    arrived), so the kernel sends the answer and a FIN, not an RST that could cut the answer short. Never
    waits: the process may have a second at most before it is killed."""
    with contextlib.suppress(OSError):
        sock.settimeout(0.0)
        sock.send(answer)  # an empty send buffer takes these few bytes at once
        sock.shutdown(socket.SHUT_WR)
        for _ in range(16):  # at most 1 MiB read away
            if not sock.recv(65536):
                break
    with contextlib.suppress(OSError):
        sock.close()
