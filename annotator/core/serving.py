"""What gunicorn.conf.py changes in gunicorn's handling of each request (see its comments), and what its
master loads before it forks the workers.

gunicorn 27 ends every connection by half-closing it and then reading until the client closes its side
(up to 2 s), so that unread request bytes never make the kernel reset the connection and cut the answer
short. A sync worker serves nobody else meanwhile: each request holds its worker for one more round trip
to the client and for however long the client takes to close (a busy client process: milliseconds).
When nothing is left unread in the socket there is nothing to cut short, and the worker closes at once,
as gunicorn did before 27; otherwise it still lingers.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import functools
import itertools
import logging
import os
import queue
import selectors
import signal
import socket
import ssl
import time
from concurrent import futures
from typing import Any

from gunicorn import glogging, http, util
from gunicorn.http2 import negotiation
from gunicorn.workers import base
from gunicorn.workers.gthread import DEFAULT_WORKER_DATA_TIMEOUT, STOP_KEEPALIVE_LINGER, TConn, ThreadWorker

from annotator.core.client_io import (
    CUT_SHORT,
    SMALL_BODY_BYTES,
    TIMED_OUT,
    ClientSocket,
    client_timeout_seconds,
    refuse_unserved,
    request_is_whole,
)

_linger = util.close_graceful

# What every way of serving runs (gunicorn.conf.py, so `manage.py serve`, the Dockerfile and
# docker-compose.yml alike, and bench/load.py): WEB_CONCURRENCY processes of WEB_THREADS threads each; one
# thread is gunicorn's sync worker, more are PriorityThreadWorker (below). The default stays 2 sync workers:
# on a quiet machine, 50 reviewers, the same minutes (README "How fast it is"), 2 x 16 threads served fewer
# requests (360-369 against 403 req/s), spent more CPU per request (3.5-3.6 + 1.3 ms of workers and database
# against 3.2 + 1.0) and made pages wait twice as long (p95 362-424 against 190 ms) for saves about as fast;
# threads won only on a machine whose cores other work held (load 13-38), where a sync worker waiting for a
# core holds its only request slot.
DEFAULT_WORKERS = 2
DEFAULT_THREADS = 1
SYNC_WORKER = "sync"
THREAD_WORKER = "annotator.core.serving.PriorityThreadWorker"
SAVES_FIRST_WORKER = "annotator.core.serving.SavesFirstWorker"
DEFAULT_SAVES_FIRST = True


def web_workers() -> int:
    """gunicorn's worker processes: WEB_CONCURRENCY, else DEFAULT_WORKERS."""
    return _positive("WEB_CONCURRENCY", DEFAULT_WORKERS)


def web_threads() -> int:
    """Threads per worker process: WEB_THREADS, else DEFAULT_THREADS (more than 1: gunicorn's gthread worker)."""
    return _positive("WEB_THREADS", DEFAULT_THREADS)


def web_saves_first() -> bool:
    """WEB_SAVES_FIRST: whether one-thread processes serve waiting saves before waiting reads
    (SavesFirstWorker, below) rather than in arrival order (gunicorn's sync worker); else DEFAULT_SAVES_FIRST."""
    text = os.environ.get("WEB_SAVES_FIRST", "").strip().lower()
    if not text:
        return DEFAULT_SAVES_FIRST
    if text not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
        raise ValueError(f"WEB_SAVES_FIRST must be true or false, not {text!r}.")
    return text in ("true", "1", "yes", "on")


def web_worker_class(threads: int) -> str:
    """gunicorn's worker for `threads` threads per process: for one, SavesFirstWorker when WEB_SAVES_FIRST
    is on, else sync; PriorityThreadWorker (saves first among threads) for more."""
    if threads > 1:
        return THREAD_WORKER
    return SAVES_FIRST_WORKER if web_saves_first() else SYNC_WORKER


def _positive(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{name} must be a whole number of at least 1, not {text!r}.")
    return int(text)


def close_now_or_linger(sock: socket.socket, *args: Any, **kwargs: Any) -> None:
    """Close at once when the client has sent nothing more than was read, else gunicorn's own close."""
    if isinstance(sock, ssl.SSLSocket):  # TLS (gunicorn's certfile) cannot be peeked under
        _linger(sock, *args, **kwargs)
        return
    try:
        # With a timeout set (ClientSocket), Python waits for the socket to be readable even under
        # MSG_DONTWAIT: made non-blocking first, it only looks. gunicorn's close sets its own timeout.
        sock.settimeout(0.0)
        unread = sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except BlockingIOError:
        unread = b""  # nothing waiting: the request was read whole
    except OSError:
        unread = b""  # the connection is already gone: closing is all there is to do
    if unread:
        _linger(sock, *args, **kwargs)
        return
    with contextlib.suppress(OSError):
        sock.close()


def close_at_once_when_read() -> None:
    util.close_graceful = close_now_or_linger


class Logger(glogging.Logger):
    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        # The access log's level (ANNOTATOR_LOG_LEVEL, logconfig_dict) is known only now.
        writes = self.access_log.isEnabledFor(logging.INFO)
        self._access_log_enabled = bool(self.access_log_enabled) and writes


def load_before_forking(preloaded: bool) -> None:
    """In gunicorn's master, once it has loaded the app (preload_app) and before it forks a worker: spaCy,
    which the annotate page loads on its first open when it suggests (ANNOTATOR_SUGGEST_ON_OPEN).

    Loaded in each worker instead, that first open took about 1 s of CPU more (importing spaCy 0.76 s,
    its first blank pipeline 0.21 s): on a busy machine past gunicorn's 30 s timeout, and every worker
    started in a killed one's place died the same way. Forked from this master, workers have it from the
    start and share its pages."""
    if not preloaded:
        return  # the app is not loaded here: nothing of Django's may be read in the master
    from django.conf import settings

    if not settings.ANNOTATOR_SUGGEST_ON_OPEN:
        return  # the web workers never suggest: spaCy stays out of them
    import spacy

    spacy.blank("en")  # fills spaCy's registries, which its first pipeline in a process reads


def size_pools_for_threads(threads: int, log: logging.Logger | Any) -> None:
    """In each worker before its first request: every pool holds a connection for each of its threads.

    A thread holds one pooled connection from its request's first query to its end, so a worker with more
    threads than its pool has connections (ANNOTATOR_DB_POOL_MAX) makes the others wait for one, up to
    ANNOTATOR_DB_POOL_TIMEOUT, and then answer 503. Such a pool is raised to the thread count (said in
    the log, as information: WEB_THREADS decides); a larger one is left as it is. Nothing has connected
    yet: the pool is made on the first query."""
    from django.db import connections

    for alias in connections:
        options = connections.settings[alias].setdefault("OPTIONS", {})
        pool = options.get("pool")
        if not pool:
            continue  # SQLite, or PostgreSQL without a pool: each thread opens its own connection
        # pool=True takes psycopg_pool's own defaults: 4 connections at least, and at most as many as at least.
        chosen = {} if pool is True else pool
        most = chosen.get("max_size") or chosen.get("min_size", 4)
        if most < threads:
            log.info(
                "Database %s: a pool of at most %d connections (ANNOTATOR_DB_POOL_MAX) for %d threads per "
                "worker; each worker's pool holds %d.",
                alias,
                most,
                threads,
                threads,
            )
            options["pool"] = {**chosen, "max_size": threads}


# Saves before reads: the order in which a threaded worker's waiting requests get a thread.
SAVES = 0  # small writes (a span, a decision, a form) and /healthz
READS = 1  # everything else, and whatever cannot be told from its first bytes
PEEKED_BYTES = 4096  # the request line and headers looked at; a longer head is a read
# SMALL_BODY_BYTES (annotator.core.client_io): a write with a larger body (an upload) waits with the reads
_WRITES = (b"POST", b"PUT", b"PATCH", b"DELETE")


def request_priority(head: bytes) -> int:
    """SAVES or READS for a request whose first bytes (its request line and headers, or their start) are
    `head`: a write whose body is small, or a GET of /healthz, goes first; anything else in arrival order."""
    end = head.find(b"\r\n\r\n")
    if end < 0:
        return READS  # headers not all here (or longer than peeked): nothing to go by
    lines = head[:end].split(b"\r\n")
    method, _, rest = lines[0].partition(b" ")
    target = rest.partition(b" ")[0]
    if method in (b"GET", b"HEAD"):
        return SAVES if target == b"/healthz" else READS
    if method not in _WRITES:
        return READS
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"transfer-encoding":
            return READS  # a streamed body, of any size
        if name == b"content-length":
            value = value.strip()
            if not value.isdigit():
                return READS  # gunicorn refuses it; no hurry
            length = int(value)
    return SAVES if length <= SMALL_BODY_BYTES else READS


def _waiting_request(conn: Any) -> bytes:
    """The start of the request waiting on a gthread connection, without taking it from the socket: what
    gunicorn already read ahead (a kept-alive connection), else a peek. Nothing under TLS (no peeking)."""
    if conn.cfg.is_ssl:
        return b""
    parser = conn.parser
    if parser is not None and (ahead := parser.unreader.buf.getvalue()):
        return bytes(ahead[:PEEKED_BYTES])
    try:
        return conn.sock.recv(PEEKED_BYTES, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except OSError:
        return b""  # nothing arrived yet, or the connection is gone: gunicorn's own reading finds out


class _PriorityWork(queue.PriorityQueue):  # type: ignore[type-arg]
    """A ThreadPoolExecutor's work queue that hands out saves before reads, each in arrival order. An item
    is a _WorkItem whose first argument is the connection (its `priority` set before it was queued), or
    None, the executor's signal to stop, which comes after the work already queued."""

    def __init__(self) -> None:
        super().__init__()
        self._arrival = itertools.count()

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        priority = READS + 1 if item is None else getattr(item.args[0], "priority", READS)
        super().put((priority, next(self._arrival), item), block, timeout)

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        return super().get(block, timeout)[2]


class PriorityThreadWorker(ThreadWorker):
    """gunicorn's threaded worker (gthread: keeps connections open, serves `threads` requests at once)
    whose waiting requests take a free thread saves first (request_priority), not in arrival order.

    With closed-loop clients the queue is long: a save that waits behind every page open queued before it
    takes as long as a page open (measured: create span p95 1.3-1.5x a page's mean). Taken first, it waits
    for a thread at most, then shares the process with the requests already running."""

    def get_thread_pool(self) -> futures.ThreadPoolExecutor:
        pool = futures.ThreadPoolExecutor(max_workers=self.cfg.threads)
        pool._work_queue = _PriorityWork()  # type: ignore[assignment]  # before any thread takes from it
        return pool

    def enqueue_req(self, conn: Any) -> None:
        head = _waiting_request(conn)
        if not head and not (conn.initialized or conn.data_ready or conn.cfg.is_ssl):
            # A new connection whose request has not arrived yet (a browser's preconnect, a slow link): it
            # waits for it in the poller, not on a thread, and takes its place in the queue once there is
            # something to place it by. It is given as long as gunicorn's own worker gives it (5 s in a
            # thread, then the keep-alive in the poller), not only the keep-alive: a request sent 2-7 s
            # after its connection would otherwise find the connection closed.
            conn.sock.setblocking(False)
            conn.timeout = time.monotonic() + DEFAULT_WORKER_DATA_TIMEOUT + self.cfg.keepalive
            self.pending_conns.append(conn)
            self.poller.register(
                conn.sock, selectors.EVENT_READ, functools.partial(self.on_pending_socket_readable, conn)
            )
            return
        conn.priority = request_priority(head)
        super().enqueue_req(conn)

    def murder_keepalived(self, force: bool = False) -> None:
        """gunicorn's closing of kept-alive connections idle past the keep-alive, except one whose next
        request has arrived meanwhile: it is served. With the threads busy the main loop can come round
        after the deadline with a request already sent on the connection, and closing it then dropped the
        request unanswered (3 of 24,000 /healthz calls, 50 clients on 2 x 16 threads at load 29)."""
        now = time.monotonic()
        while self.keepalived_conns:
            conn = self.keepalived_conns[0]
            if conn.timeout - now > 0 and not force:
                break
            self.keepalived_conns.popleft()
            with contextlib.suppress(OSError, KeyError, ValueError):
                self.poller.unregister(conn.sock)  # already unregistered: nothing to do
            if not force and self.alive and _waiting_request(conn):
                self.enqueue_req(conn)
                continue
            self.nr_conns -= 1
            conn.close()


# One request at a time, saves first: what WEB_SAVES_FIRST serves with one thread per process.
READ_WAIT_MS = 500  # how far ahead of a read a save may be served (WEB_READ_WAIT_MS; WaitingRequests)


def read_wait_seconds() -> float:
    """How long a read may wait while saves that came after it go before it: WEB_READ_WAIT_MS, else
    READ_WAIT_MS."""
    text = os.environ.get("WEB_READ_WAIT_MS", "").strip()
    if not text:
        return READ_WAIT_MS / 1000
    if not text.isdigit():
        raise ValueError(f"WEB_READ_WAIT_MS must be a whole number of milliseconds, not {text!r}.")
    return int(text) / 1000


class WaitingRequests:
    """The requests a SavesFirstWorker has seen arrive and not yet served, served by deadline: a save's is its
    arrival, a read's its arrival plus `read_wait` seconds, so a save goes before every read that arrived less
    than `read_wait` before it, and a read that has waited `read_wait` goes before the saves that arrived
    after its deadline. Each kind keeps its arrival order.

    Not a plain "a read that waited `read_wait` goes next": when the process is behind by more than that (a
    busy machine), every read is past it, and reads would then always go first, saves last. Deadlines keep
    the head start at `read_wait` however far behind, and no request waits for ever: each one's deadline
    comes round."""

    def __init__(self, read_wait: float) -> None:
        self.read_wait = read_wait
        self._saves: collections.deque[tuple[float, Any]] = collections.deque()
        self._reads: collections.deque[tuple[float, Any]] = collections.deque()

    def __len__(self) -> int:
        return len(self._saves) + len(self._reads)

    def add(self, request: Any, priority: int, now: float) -> None:
        """`request` arrived at `now` (time.monotonic()), a save or a read (request_priority)."""
        if priority == SAVES:
            self._saves.append((now, request))
        else:
            self._reads.append((now + self.read_wait, request))

    def take(self) -> Any | None:
        """The request to serve next (None when nothing waits)."""
        saves, reads = self._saves, self._reads
        if reads and (not saves or reads[0][0] < saves[0][0]):
            return reads.popleft()[1]
        if saves:
            return saves.popleft()[1]
        return None

    def clear(self) -> list[Any]:
        """Every waiting request, saves first, leaving none."""
        everything = [request for _, request in itertools.chain(self._saves, self._reads)]
        self._saves.clear()
        self._reads.clear()
        return everything


WAITING_MAX = 32  # requests a SavesFirstWorker holds at most before it stops taking more (WEB_WAITING_MAX)


def waiting_max() -> int:
    """WEB_WAITING_MAX, else WAITING_MAX: how many requests a one-thread process holds waiting before it
    stops accepting connections and reading its kept-alive ones until it has served some."""
    return _positive("WEB_WAITING_MAX", WAITING_MAX)


class SavesFirstWorker(ThreadWorker):
    """One request at a time per process, as gunicorn's sync worker runs them (one thread: no GIL handed
    between threads, one database connection per process), with what the threaded worker has besides: a
    poller that accepts connections and keeps them open between requests, so that the requests waiting
    for this process are known to it. Between two requests it polls without waiting, then serves the
    waiting request WaitingRequests puts first: a save before the reads that came at most WEB_READ_WAIT_MS
    before it.

    A sync worker's queue is the kernel's backlog of connections, served in arrival order: with 50
    closed-loop reviewers a save waited behind every page open queued before it. Here the queue is the
    process's own, and what makes that safe:

    - A request joins it only once it has arrived whole (annotator.core.client_io.request_is_whole: its head,
      and a body of at most 64 KiB): the poller gathers its bytes into the connection's parser while the
      thread serves others, so a stalled client holds a file descriptor, not the thread, and is closed
      WEB_CLIENT_TIMEOUT after its request began (a new connection: gunicorn's 5 s plus the keep-alive);
      answered 408 when it began and stopped part-way. The bytes reach the app as sent, read once. While a
      request is served, each read of what is left of a larger body and each write of the answer waits at
      most WEB_CLIENT_TIMEOUT, at 1 KiB/s at least over that time (ClientSocket): a large upload or export
      that keeps moving is never cut.
    - It holds at most WEB_WAITING_MAX requests: at that, the process neither accepts (new connections stay
      in the listen backlog, for the other processes) nor reads its kept-alive connections (their requests
      stay in their sockets) until it has served one. A connection past its deadline is read before it is
      closed, so a request that came whole while the process was at the cap is queued, not dropped.
    - A request taken and not served is answered 503 with Retry-After, never dropped: when a stop outlasts
      the graceful timeout, and when the master kills the process for its timeout (SIGABRT). The request under
      way then is answered 500 if nothing of its answer was written (it may have taken effect: no "send it
      again"). A stop serves the waiting requests first, as gthread.

    It serves HTTP/1.x; under TLS a request joins the queue as its connection does (nothing can be read
    before the handshake), the handshake and head read while it is served, within WEB_CLIENT_TIMEOUT."""

    alive: bool  # gunicorn's base.Worker sets it

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.waiting = WaitingRequests(read_wait_seconds())
        self.client_timeout = client_timeout_seconds()
        self.waiting_max = waiting_max()
        self.serving_conn: Any = None
        # Whether a connection may need its first bytes read by gunicorn itself (a TLS handshake, an HTTP/2
        # preface): asked of the settings once, not per request (each is a look-up through gunicorn's Config).
        self.sniffs_first = bool(self.cfg.is_ssl) or self.cfg.http2_cleartext in ("prior-knowledge", "both")

    def init_process(self) -> None:
        # gunicorn's threaded worker makes its thread pool and the pipe its threads report on here: this
        # worker has neither. The signal pipe (base.Worker's) wakes the poller instead.
        self.poller = selectors.DefaultSelector()
        base.Worker.init_process(self)

    def handle_exit(self, sig: int, frame: Any) -> None:
        """A graceful stop (SIGTERM): what waits is served, as the loop comes round; a second before the
        master's graceful timeout ends, whatever is still taken and not begun is answered 503, even when
        one request holds the thread that long (SIGALRM)."""
        if self.alive:
            signal.signal(signal.SIGALRM, self.handle_overdue_stop)
            signal.setitimer(signal.ITIMER_REAL, max(self.cfg.graceful_timeout - 1, 0.5))
        self.alive = False  # the signal's byte in the wake-up pipe ends the poller's wait

    def handle_overdue_stop(self, sig: int, frame: Any) -> None:
        self.refuse_waiting()
        raise SystemExit(0)

    def handle_quit(self, sig: int, frame: Any) -> None:
        self.refuse_waiting()
        base.Worker.handle_quit(self, sig, frame)

    def handle_abort(self, sig: int, frame: Any) -> None:
        """The master's timeout (SIGABRT; SIGKILL follows a second later): every request taken and not
        begun is answered 503, then the process exits (SystemExit, raised in the request under way, which
        serve_next answers 500)."""
        self.alive = False
        self.refuse_waiting()
        self.cfg.worker_abort(self)
        raise SystemExit(1)

    def refuse_waiting(self) -> None:
        """503 to every request taken and not begun: those waiting, and those that arrived on kept-alive or
        new connections without being read yet; the connections idle are closed."""
        # The lists are emptied before any answer is sent: a signal handler running this again from inside
        # (the overdue stop's alarm, the master's abort) then finds nothing to answer twice.
        waiting = self.waiting.clear()
        polled = [*self.keepalived_conns, *self.pending_conns]
        self.keepalived_conns.clear()
        self.pending_conns.clear()
        self.nr_conns = 0 if self.serving_conn is None else 1
        for conn in [*waiting, *polled]:
            with contextlib.suppress(Exception):
                self.poller.unregister(conn.sock)
            if conn in polled and not _waiting_request(conn):
                with contextlib.suppress(OSError):
                    conn.sock.close()  # idle: nothing asked, nothing to answer
                continue
            refuse_unserved(conn.sock)

    def enqueue_req(self, conn: Any) -> None:
        """Gather what the client sent (without waiting) into its parser; once its request is whole, place it
        among the waiting ones, else wait in the poller for the rest."""
        if self.sniffs_first and (
            conn.cfg.is_ssl or negotiation.prior_knowledge_allowed(conn.cfg, conn.client)
        ):
            conn.data_ready = True  # nothing can be read before the handshake or the preface: served as is
            self.waiting.add(conn, READS, time.monotonic())
            return
        if conn.parser is None:
            conn.parser = http.get_parser(self.cfg, conn.sock, conn.client)
        buffered = conn.parser.unreader.buf
        had = buffered.seek(0, os.SEEK_END)  # bytes gathered before (or read ahead with the last request)
        try:
            chunk = conn.sock.recv(65536)
        except BlockingIOError:
            chunk = None  # nothing more yet
        except OSError:
            chunk = b""  # the connection is gone
        if chunk == b"" and not (had and request_is_whole(buffered.getvalue())):
            self.nr_conns -= 1  # closed by the client before a whole request came: nothing to answer
            conn.close()
            return
        if chunk:
            buffered.write(chunk)
        data = buffered.getvalue()
        now = time.monotonic()
        if request_is_whole(data):
            conn.data_ready = True  # handle() reads it at once, without waiting in a selector of its own
            conn.gathering = False
            self.waiting.add(conn, request_priority(data[:PEEKED_BYTES]), now)
            return
        if not data:  # a new connection with nothing sent yet: as long as gunicorn's gthread gives it
            conn.timeout = now + DEFAULT_WORKER_DATA_TIMEOUT + self.cfg.keepalive
        elif not getattr(conn, "gathering", False):  # a request's first bytes: all of it within the timeout
            conn.gathering = True
            conn.timeout = now + self.client_timeout
        self.pending_conns.append(conn)
        self.poller.register(
            conn.sock, selectors.EVENT_READ, functools.partial(self.on_pending_socket_readable, conn)
        )

    def accept(self, listener: socket.socket) -> None:
        """One connection (each pass of the loop takes at most one per listener: a process busy with its
        requests leaves the next connections to an idle one)."""
        try:
            sock, client = listener.accept()
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        sock = ClientSocket.adopt(sock, self.client_timeout, heartbeat=self.notify)
        self.enqueue_req(TConn(self.cfg, sock, client, listener.getsockname()))

    murder_keepalived = PriorityThreadWorker.murder_keepalived

    def murder_pending(self) -> None:
        """Close the connections whose request has not come whole in its time. What the client sent is read
        first, without waiting: while the process was at WEB_WAITING_MAX it gathered nothing, so a request
        may have come whole in the socket since; it is queued (even past the cap: it was taken). A request
        that came only in part is answered 408; a connection that sent nothing is just closed. Not gthread's,
        which stops at the first one still in time: here a request's first bytes give it WEB_CLIENT_TIMEOUT
        from then, a new connection gunicorn's 7 s from its accept, so the queue is not in deadline order."""
        now = time.monotonic()
        for conn in [conn for conn in self.pending_conns if conn.timeout <= now]:
            self.pending_conns.remove(conn)
            with contextlib.suppress(OSError, KeyError, ValueError):
                self.poller.unregister(conn.sock)
            data, ended = self._gather_without_waiting(conn)
            if request_is_whole(data):
                conn.data_ready, conn.gathering = True, False
                self.waiting.add(conn, request_priority(data[:PEEKED_BYTES]), now)
                continue
            self.nr_conns -= 1
            if data and not ended:
                refuse_unserved(conn.sock, TIMED_OUT)  # it began and stopped part-way: told, not dropped
            else:
                conn.close()  # nothing asked, or the client has gone

    @staticmethod
    def _gather_without_waiting(conn: Any) -> tuple[bytes, bool]:
        """Everything the client has sent so far, read into its parser's buffer without waiting, and whether
        the client closed its side (or the connection broke)."""
        buffered = conn.parser.unreader.buf
        buffered.seek(0, os.SEEK_END)
        ended = False
        for _ in range(16):  # at most 1 MiB: more than a whole head and small body
            try:
                chunk = conn.sock.recv(65536)
            except BlockingIOError:
                break
            except OSError:
                ended = True
                break
            if not chunk:
                ended = True
                break
            buffered.write(chunk)
            if request_is_whole(buffered.getvalue()):
                break
        return buffered.getvalue(), ended

    def serve_next(self) -> None:
        conn = self.waiting.take()
        if conn is None:
            return
        sock = conn.sock
        if isinstance(sock, ClientSocket):
            sock.serving(time.monotonic())
        self.serving_conn = conn
        try:
            keepalive = self.handle(conn)  # gthread's: parses the request, runs the app, answers
        except SystemExit:
            # The master's timeout, raised in this request: answered 500 unless its answer had begun (not 503
            # "send it again": what it had done may have been committed).
            if isinstance(sock, ClientSocket) and not sock.sent:
                refuse_unserved(sock, CUT_SHORT)
            raise
        except Exception:  # handle() answers errors itself; anything past it closes the connection
            self.log.exception("Error serving a connection")
            keepalive = False
        finally:
            self.serving_conn = None
            if isinstance(sock, ClientSocket):
                sock.served()
        if not keepalive:
            self.nr_conns -= 1
            with contextlib.suppress(Exception):
                conn.close(graceful=True)
            return
        conn.sock.setblocking(False)  # polled, and read by enqueue_req, without waiting
        if conn.parser.unreader.buf.getvalue():  # the next request was read ahead with this one's body
            self.enqueue_req(conn)
            return
        conn.set_timeout()
        if not self.alive:
            conn.timeout = min(conn.timeout, time.monotonic() + STOP_KEEPALIVE_LINGER)
        self.keepalived_conns.append(conn)
        self.poller.register(
            conn.sock, selectors.EVENT_READ, functools.partial(self.on_client_socket_readable, conn)
        )

    def _drain_signal_pipe(self, pipe: int) -> None:
        with contextlib.suppress(OSError):
            os.read(pipe, 4096)

    def take_arrivals(self, timeout: float) -> None:
        """What arrived: new connections, requests, the rest of requests (waiting up to `timeout` when none
        waits to be served); nothing while WEB_WAITING_MAX wait, which leaves new connections in the
        listen backlog for the other processes and kept-alive clients' requests in their sockets."""
        if len(self.waiting) < self.waiting_max:
            self.wait_for_and_dispatch_events(timeout=0 if self.waiting else timeout)

    def _pass(self, timeout: float) -> None:
        """One turn of the loop: what arrived, connections past their time closed, one request served."""
        self.take_arrivals(timeout)
        self.murder_keepalived()
        self.murder_pending()
        self.serve_next()

    def run(self) -> None:
        os.set_blocking(self.PIPE[0], False)
        self.poller.register(self.PIPE[0], selectors.EVENT_READ, self._drain_signal_pipe)
        self.set_accept_enabled(True)
        notified = 0.0
        while self.alive:
            now = time.monotonic()
            if now - notified >= 1:  # the master's heartbeat: once a second is plenty for its timeout
                self.notify()
                notified = now
            can_accept = self.nr_conns < self.worker_connections
            if can_accept != self._accepting:
                self.set_accept_enabled(can_accept)
            self._pass(timeout=1.0)
            if not self.is_parent_alive():
                break

        # Stopping: no new connections; the requests that arrived are served (answered "Connection: close"),
        # kept-alive connections stay open STOP_KEEPALIVE_LINGER for one already on its way, as gthread does.
        # What is still waiting a second before the master's graceful timeout is answered 503.
        self.set_accept_enabled(False)
        self._cap_keepalive(time.monotonic() + STOP_KEEPALIVE_LINGER)
        deadline = time.monotonic() + max(self.cfg.graceful_timeout - 1, 0)
        while self.nr_conns > 0 and time.monotonic() < deadline:
            self.notify()
            ahead = self.keepalived_conns[0].timeout - time.monotonic() if self.keepalived_conns else 1.0
            self._pass(timeout=min(1.0, max(ahead, 0.0)))
        signal.setitimer(signal.ITIMER_REAL, 0)  # the overdue stop's alarm: not to fire inside what follows
        self.refuse_waiting()
        self.poller.close()
        for listener in self.sockets:
            listener.close()
