"""A process that serves one request at a time keeps its pooled database connection between requests.

Django returns a pooled connection to psycopg_pool at the end of every request (its CONN_MAX_AGE is 0 with a
pool) and takes one again at the first query of the next: the pool's lock and bookkeeping, Django's
`connect()` (connection parameters, autocommit, time zone, the `connection_created` signal) and the pool's
return checks, about 0.2 M instructions of a 1.5 M who-am-I call. A sync worker (gunicorn's, or
core/serving.py's SavesFirstWorker) runs its requests one after the other on its main thread and takes the
same connection back each time: handing it to the pool bought nothing. Such a request keeps it instead,
when it is clean: in autocommit, outside any atomic block, no error since the last statement, and idle at
the protocol level (no transaction open, none failed). Anything else is left to Django, which returns it
to the pool; the pool rolls back or discards it, as for every request before. So a connection in a
transaction or in error never reaches the next request, and a dead one (a database restart) is dropped
at the end of the request that met it (its 503, core/middleware.py), the next request taking a new one.

Kept until the pool's `max_lifetime` from the time it was first kept (then returned, and the pool
replaces it as it replaces its own): a long-lived backend's memory is recycled as before. A connection
kept through a quiet spell (no request for QUIET_SECONDS) may have been dropped meanwhile (a night, a
load balancer's or the server's idle timeout, a failover): so the first request once QUIET_SECONDS have
passed since the kept connections were last tested (or first kept) tests them (one round trip, at most one
a minute however busy the worker: requests that send nothing, such as static files, must not put the test
off) and gives a dead one back to be discarded, so its first query gets a live one instead of answering
503. A connection that dies between two tests still costs the request that meets it one 503, as a pooled
one did. libpq's TCP keepalives and user timeout (settings.py) bound how long a test, or any statement, can
wait on a peer that vanished without a reset. Each one-thread worker holds its one connection while idle (the pool's
`max_idle` no longer closes it): count WEB_CONCURRENCY of them in PostgreSQL's `max_connections`. Requests on any
other thread (gunicorn's threaded workers, Django's development and live-test servers) and everything that
does not go through the WSGI handler (management commands, the task worker) keep Django's behaviour.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from typing import TYPE_CHECKING, Any

from django.db import connections

if TYPE_CHECKING:
    from django.http import HttpResponseBase

_MAIN_THREAD = threading.main_thread()
# How long after their last test (or their first keeping) the next request tests the kept connections.
QUIET_SECONDS = 60.0
# When the main thread's kept connections are next tested (none kept: never).
_test_after = math.inf
# psycopg's TransactionStatus.IDLE: connected, outside any transaction (not ACTIVE, INTRANS, INERROR, UNKNOWN).
_IDLE = 0


def serves_one_at_a_time() -> bool:
    """Whether this request runs on the process's main thread, where a sync worker runs all of its own."""
    return threading.current_thread() is _MAIN_THREAD


def keep_clean_connections_after(response: HttpResponseBase) -> None:
    """Have `response`'s close (the server calls it once the answer is sent) keep the clean pooled
    connections, before Django's end-of-request handling (`request_finished`) would return them."""
    response._resource_closers.append(keep_clean_connections)  # type: ignore[attr-defined]


def check_kept_connections_after_a_while() -> None:
    """At the start of a request on the main thread, QUIET_SECONDS after the last test: drop each kept
    connection that no longer answers (Django's `is_usable`, a round trip; any error counts as no answer),
    back to its pool, which discards it; the request's first query takes a live one."""
    global _test_after  # the main thread's own, as its kept connections are
    if time.monotonic() < _test_after:
        return
    _test_after = math.inf
    local = connections._connections  # type: ignore[attr-defined]
    for alias in connections.settings:
        connection = getattr(local, alias, None)
        if connection is None or getattr(connection.connection, "_pool", None) is None:
            continue  # not made in this thread, not connected, or not pooled: nothing kept
        try:
            usable = connection.is_usable()
        except Exception:  # runs before Django's handling of the request: nothing here may escape
            usable = False
        if not usable:
            with contextlib.suppress(Exception):  # Django forgets the connection even when closing fails
                connection.close()


def keep_clean_connections() -> None:
    """Mark each clean pooled connection of this thread to outlive the request, and every other one to be
    returned to its pool now: their `close_at`, which Django's `close_old_connections` reads next."""
    global _test_after  # the main thread's own, as its kept connections are
    # `connections.all(initialized_only=True)` asks the thread-local store twice per alias (~5 K
    # instructions each); one `getattr` per alias answers the same.
    local = connections._connections  # type: ignore[attr-defined]
    for alias in connections.settings:
        connection = getattr(local, alias, None)
        if connection is None:
            continue  # not made in this thread yet
        raw = connection.connection
        pool = getattr(raw, "_pool", None)  # psycopg_pool's, on each connection it hands out
        if pool is None:
            continue  # not connected, SQLite, or PostgreSQL without a pool: Django's CONN_MAX_AGE decides
        # Returned now unless clean: one kept by an earlier request has a deadline still to come. Marked
        # returned first, so that a check that raises (Django swallows errors of response closers) cannot
        # leave an earlier request's "kept" on a connection whose state is unknown.
        connection.close_at = 0.0
        if _is_clean(connection, raw):
            connection.close_at = _kept_until(connection, raw, pool)
            if _test_after == math.inf:  # just tested, or kept for the first time: the next test's time
                _test_after = time.monotonic() + QUIET_SECONDS


def _is_clean(connection: Any, raw: Any) -> bool:
    return (
        not connection.in_atomic_block
        and not connection.errors_occurred
        and not connection.closed_in_transaction
        and connection.autocommit
        and not raw.closed
        and raw.info.transaction_status == _IDLE
    )


def _kept_until(connection: Any, raw: Any, pool: Any) -> float:
    """When the kept connection goes back to its pool: the pool's max_lifetime after it was first kept."""
    kept = connection.__dict__.get("_kept")
    if kept is None or kept[0] is not raw:
        kept = (raw, time.monotonic() + pool.max_lifetime)
        connection._kept = kept
    return kept[1]
