"""A process serving one request at a time keeps its clean pooled connection between requests
(annotator/core/kept_connections.py); everything else keeps the pool's behaviour.

Each request goes through the app's WSGI handler with Django's own end-of-request handling
(`close_old_connections` on request_started and request_finished), in autocommit as gunicorn serves it
(transactional tests: no test transaction around the requests).
"""

from __future__ import annotations

import contextlib
import io
import math
import sys
import threading
from typing import Any

import psycopg
import pytest
from django.contrib.auth.decorators import login_not_required
from django.db import DataError, close_old_connections, connection, connections
from django.http import HttpRequest, JsonResponse
from django.test.utils import override_settings
from django.urls import path

from annotator.api.tokens import create_token, forget_tokens
from annotator.core import resolving
from annotator.core.handler import AnnotatorWSGIHandler

pytestmark = pytest.mark.django_db(transaction=True)

pooled = pytest.mark.skipif(
    connection.vendor != "postgresql" or not connection.settings_dict["OPTIONS"].get("pool"),
    reason="needs PostgreSQL with psycopg_pool (DATABASE_URL=postgres://...): SQLite has no pool",
)


@login_not_required
def _status(request: HttpRequest) -> JsonResponse:
    """What the connection looks like to a request: its backend and transaction status."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    return JsonResponse({"pid": pid, "status": int(connection.connection.info.transaction_status)})


@login_not_required
def _leave_a_transaction_open(request: HttpRequest) -> JsonResponse:
    """A bug: a transaction begun behind Django's back and never ended."""
    with connection.cursor() as cursor:
        cursor.execute("BEGIN")
        cursor.execute("CREATE TEMPORARY TABLE i29me_left_behind (n int)")
    return JsonResponse({})


@login_not_required
def _leave_a_failed_transaction(request: HttpRequest) -> JsonResponse:
    """A bug: a transaction begun behind Django's back, failed, and left so."""
    with connection.cursor() as cursor:
        cursor.execute("BEGIN")
        with contextlib.suppress(DataError):  # the failure is the point
            cursor.execute("SELECT 1 / 0")
    return JsonResponse({})


urlpatterns = [
    path("status", _status),
    path("open", _leave_a_transaction_open),
    path("failed", _leave_a_failed_transaction),
]


def call(app: Any, method: str, target: str, **headers: str) -> tuple[int, bytes]:
    """One request as gunicorn makes it: the answer read whole, then closed (request_finished)."""
    environ = {
        "REQUEST_METHOD": method, "PATH_INFO": target, "QUERY_STRING": "", "SCRIPT_NAME": "",
        "SERVER_NAME": "testserver", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "testserver", "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""), "wsgi.errors": sys.stderr, "CONTENT_LENGTH": "0", **headers,
    }  # fmt: skip
    answer: list[Any] = []
    response = app(environ, lambda status, headers, exc_info=None: answer.append(status))
    body = b"".join(response)
    response.close()
    return int(answer[0].split()[0]), body


class CountingPool:
    """Counts the pool's hand-outs and returns (the pool stays psycopg_pool's)."""

    def __init__(self, monkeypatch: Any) -> None:
        self.taken = self.returned = 0
        pool = connection.pool
        take, give = pool.getconn, pool.putconn

        def getconn(*args: Any, **kwargs: Any) -> Any:
            self.taken += 1
            return take(*args, **kwargs)

        def putconn(*args: Any, **kwargs: Any) -> Any:
            self.returned += 1
            return give(*args, **kwargs)

        monkeypatch.setattr(pool, "getconn", getconn)
        monkeypatch.setattr(pool, "putconn", putconn)


@pytest.fixture
def app():
    resolving.forget_paths()
    connection.close()  # each test starts with the connection in the pool
    with override_settings(ROOT_URLCONF=__name__):
        yield AnnotatorWSGIHandler()
    connection.close()
    resolving.forget_paths()


def pid_of(body: bytes) -> int:
    import json

    return json.loads(body)["pid"]


@pooled
def test_a_sync_worker_takes_its_connection_once_and_keeps_it(app, monkeypatch):
    pool = CountingPool(monkeypatch)
    answers = [call(app, "GET", "/status") for _ in range(3)]
    assert [status for status, _ in answers] == [200, 200, 200]
    assert len({pid_of(body) for _, body in answers}) == 1  # the same backend every time
    assert (pool.taken, pool.returned) == (1, 0)
    assert connection.connection is not None  # kept after the last request, in autocommit, idle
    assert connection.connection.info.transaction_status == psycopg.pq.TransactionStatus.IDLE


@pooled
@pytest.mark.parametrize("bug", ["/open", "/failed"])
def test_a_connection_left_in_a_transaction_or_in_error_goes_back_to_the_pool(app, monkeypatch, bug):
    first = pid_of(call(app, "GET", "/status")[1])
    pool = CountingPool(monkeypatch)
    assert call(app, "GET", bug)[0] == 200
    assert (pool.taken, pool.returned) == (0, 1)  # handed back: the pool rolls it back
    assert connection.connection is None
    status, body = call(app, "GET", "/status")
    assert (status, pool.taken) == (200, 1)
    assert b'"status": 0' in body  # the next request starts outside any transaction (IDLE)
    with connection.cursor() as cursor:  # what the bug made in its transaction was rolled back
        cursor.execute("SELECT to_regclass('pg_temp.i29me_left_behind') IS NULL")
        assert cursor.fetchone() == (True,)
    assert first  # (the first request's connection was the kept one)


@pooled
def test_a_keep_check_that_fails_hands_the_connection_back_even_if_an_earlier_request_kept_it(
    app, monkeypatch
):
    from annotator.core import kept_connections

    assert call(app, "GET", "/status")[0] == 200
    assert connection.connection is not None  # kept by that request: its close_at is in the future
    pool = CountingPool(monkeypatch)

    def broken(*args: Any) -> bool:
        raise RuntimeError("the check itself failed")

    monkeypatch.setattr(kept_connections, "_is_clean", broken)
    call(app, "GET", "/status")  # Django swallows the closer's error; the answer is not the point
    assert pool.returned == 1  # the earlier "kept" did not stand: the state is unknown, so it went back
    assert connection.connection is None


@pooled
def test_a_kept_connection_that_died_answers_one_503_then_the_next_request_recovers(app, news):
    secret = create_token(user=news.annotator, name="script", scope="read")[1]
    forget_tokens()
    token = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    with override_settings(ROOT_URLCONF="annotator.urls"):
        resolving.forget_paths()
        assert call(app, "GET", "/api/v1/account", **token)[0] == 200
        kept = connection.connection
        assert kept is not None
        # A database restart, as the worker's connection sees it: its backend is gone.
        with psycopg.connect(**_params(), autocommit=True) as other:
            other.execute("SELECT pg_terminate_backend(%s)", [kept.info.backend_pid])
        status, body = call(app, "GET", "/api/v1/account", **token)
        assert (status, b"database_unavailable" in body) == (503, True)
        assert connection.connection is None  # the dead one was dropped, not kept
        assert call(app, "GET", "/api/v1/account", **token)[0] == 200
        assert connection.connection is not kept
    resolving.forget_paths()


@pooled
def test_after_a_quiet_spell_a_kept_connection_that_died_is_replaced_before_the_request_uses_it(app, news):
    from annotator.core import kept_connections

    assert call(app, "GET", "/status")[0] == 200
    kept = connection.connection
    with psycopg.connect(**_params(), autocommit=True) as other:  # dropped while nobody worked
        other.execute("SELECT pg_terminate_backend(%s)", [kept.info.backend_pid])
    kept_connections._test_after = 0.0  # QUIET_SECONDS passed since the last test
    status, body = call(app, "GET", "/status")
    assert status == 200  # not a 503: the dead connection was tested and dropped first
    assert pid_of(body) != kept.info.backend_pid
    assert kept_connections._test_after > 0.0  # kept again, tested again only after the next quiet spell


@pooled
def test_requests_that_send_nothing_do_not_put_the_test_of_a_kept_connection_off(app, monkeypatch):
    from annotator.core import kept_connections

    monkeypatch.setattr(kept_connections, "_test_after", kept_connections._test_after)
    assert call(app, "GET", "/status")[0] == 200
    kept = connection.connection
    due = kept_connections._test_after
    assert due < math.inf  # the first keeping set the next test's time
    for _ in range(3):  # static files, 404s, a login page: kept, nothing sent on it
        call(app, "GET", "/nothing-here/")
    assert kept_connections._test_after == due  # not pushed back by them
    with psycopg.connect(**_params(), autocommit=True) as other:  # dropped meanwhile
        other.execute("SELECT pg_terminate_backend(%s)", [kept.info.backend_pid])
    monkeypatch.setattr(kept_connections, "_test_after", 0.0)  # its time came (the clock is not patched)
    status, body = call(app, "GET", "/status")
    assert status == 200  # tested first: not a 503
    assert pid_of(body) != kept.info.backend_pid


@pooled
def test_within_the_minute_a_kept_connection_is_not_tested_again(app, monkeypatch):
    from annotator.core import kept_connections

    assert call(app, "GET", "/status")[0] == 200
    tests = []
    monkeypatch.setattr(type(connections["default"]), "is_usable", lambda self: tests.append(self) or True)
    for _ in range(3):
        assert call(app, "GET", "/status")[0] == 200
    assert tests == []  # no round trip per request
    assert kept_connections._test_after < math.inf


def _params() -> dict[str, Any]:
    settings = connection.settings_dict
    return {
        "host": settings["HOST"] or None, "port": settings["PORT"] or None,
        "user": settings["USER"] or None, "password": settings["PASSWORD"] or None,
        "dbname": settings["NAME"],
    }  # fmt: skip


@pooled
def test_a_request_on_another_thread_returns_its_connection_as_before(app):
    seen: dict[str, Any] = {}

    def serve() -> None:
        seen["status"] = call(app, "GET", "/status")[0]
        seen["connection after"] = connection.connection
        connection.close()

    worker = threading.Thread(target=serve)  # as gunicorn's threaded worker serves (not its main thread)
    worker.start()
    worker.join()
    assert seen == {"status": 200, "connection after": None}


@pooled
def test_code_outside_the_handler_keeps_django_s_behaviour(monkeypatch):
    """Management commands and the task worker run queries and Django's end-of-work handling without
    the WSGI handler: their connection goes back to the pool as before."""
    connection.close()
    pool = CountingPool(monkeypatch)
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    close_old_connections()
    assert (pool.taken, pool.returned, connection.connection) == (1, 1, None)


@pooled
def test_a_kept_connection_goes_back_once_the_pool_s_lifetime_is_over(app, monkeypatch):
    first = pid_of(call(app, "GET", "/status")[1])
    pool = CountingPool(monkeypatch)
    assert pid_of(call(app, "GET", "/status")[1]) == first
    connection.close_at = 0.0  # the pool's max_lifetime after it was first kept, passed
    call(app, "GET", "/status")
    assert pool.returned == 1  # returned at the request's start, then taken again
    assert pool.taken == 1


def test_without_a_pool_the_connection_follows_django_s_own_settings(app):
    if connection.settings_dict["OPTIONS"].get("pool"):
        pytest.skip("needs a database without a pool (SQLite): the pooled case is the tests above")
    with override_settings(ROOT_URLCONF="annotator.urls"):
        resolving.forget_paths()
        assert call(app, "GET", "/healthz")[0] == 200
    assert connection.connection is None  # CONN_MAX_AGE 0: closed at the end of each request, as before


@pooled
@pytest.mark.parametrize("worker", ["sync", "annotator.core.serving.SavesFirstWorker"])
def test_one_thread_workers_whose_kept_connections_are_cut_mid_burst_give_503_at_worst_and_recover(
    news, worker
):
    """gunicorn's one-thread workers (sync, and the saves-first default), each keeping its connection,
    while a database restart cuts them again and again: no acknowledged save is lost, a cut answers 503
    at worst, the app recovers."""
    from tests.integration.test_crashes import (
        APP_NAME,
        Burst,
        assert_consistent_and_recovered,
        set_up,
        terminate_app_connections,
    )
    from tests.live import database_url, gunicorn_process

    token, set_id = set_up(news)
    named = f"{database_url()}?application_name={APP_NAME}"
    with gunicorn_process(workers=2, arguments=["--worker-class", worker], DATABASE_URL=named) as (base, _):
        with Burst(base, token, set_id) as burst:
            cut = 0
            for round_ in range(4):
                burst.wait_for(10 * (round_ + 1))
                cut += terminate_app_connections()
            burst.wait_for(burst.saves() + 20)
        assert cut >= 4  # the workers' kept connections really were cut
        assert_consistent_and_recovered(base, token, set_id, burst.results)
