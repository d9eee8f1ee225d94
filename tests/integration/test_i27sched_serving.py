"""How gunicorn serves requests that wait: a threaded worker gives each of its threads a database connection
of its own (its pool sized for them), and its waiting requests take a free thread saves first
(annotator.core.serving.PriorityThreadWorker)."""

from __future__ import annotations

import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from annotator.api.tokens import create_token
from tests.conftest import MINSK, NARYSHKIN
from tests.live import api_call, gunicorn_process, worker_pids

pytestmark = pytest.mark.django_db(transaction=True)

PRIORITY = "annotator.core.serving.PriorityThreadWorker"


@contextmanager
def spans_held() -> Iterator[None]:
    """Every save waits until the block ends. PostgreSQL: an ACCESS EXCLUSIVE lock on the spans table (reads
    of it wait too). SQLite: the database's write lock (a save's BEGIN IMMEDIATE waits for it on its
    busy_timeout, 10 s; reads go on, WAL)."""
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        holder = sqlite3.connect(settings["NAME"], isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")
            yield
        finally:
            holder.close()  # rolls back: the lock is free
        return
    with psycopg.connect(host=settings["HOST"], port=settings["PORT"] or 5432, user=settings["USER"],
                         password=settings["PASSWORD"] or None, dbname=settings["NAME"]) as holder:  # fmt: skip
        holder.execute("LOCK TABLE annotations_span IN ACCESS EXCLUSIVE MODE")
        try:
            yield
        finally:
            holder.rollback()


def waiting_on_locks(server: subprocess.Popen) -> int:
    """Requests of the server waiting for a lock. PostgreSQL: server processes of the test database waiting
    on one. SQLite: threads of the server's workers asleep (SQLite's busy handler sleeps between tries to
    take the lock; a gunicorn worker's other threads wait in epoll or on a queue, never in a sleep)."""
    if connection.vendor == "sqlite":
        return sum(_asleep(pid) for pid in worker_pids(server))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def _asleep(pid: int) -> int:
    """Threads of the process asleep in the kernel's nanosleep (a thread or the process may end meanwhile)."""
    asleep = 0
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                asleep += "nanosleep" in Path(task, "wchan").read_text()
            except FileNotFoundError:
                continue
    except FileNotFoundError:
        pass
    return asleep


def settles(condition: Callable[[], bool], seconds: float = 60) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


class Call(threading.Thread):
    """An API call on a connection of its own, answered in the background."""

    def __init__(self, method: str, url: str, token: str, body: object = None, if_match: str | None = None):
        super().__init__()
        self.request = (method, url, token, body, if_match)
        self.answer: tuple[int, str | None, object] | None = None
        self.start()

    def run(self) -> None:
        method, url, token, body, if_match = self.request
        self.answer = api_call(method, url, token, body, if_match=if_match, timeout=120)

    def result(self) -> tuple[int, str | None, object]:
        self.join(timeout=180)
        assert self.answer is not None, f"{self.request[:2]} was not answered"
        return self.answer


@pytest.mark.parametrize(("worker_class", "save_first"), [(PRIORITY, True), ("gthread", False)])
def test_a_save_waiting_for_a_thread_is_served_before_a_read_that_queued_first(
    news, worker_class, save_first
):
    """One thread, held by a save waiting on the database; a read of the set queues, then a save. Taken
    saves first, the read runs last and sees the second save's span; in arrival order (gunicorn's own
    gthread, the contrast) it runs before it and sees only the first's."""
    token = create_token(user=news.annotator, name="order", scope="write")[1]
    set_url = f"/api/v1/sets/{news.annotation_set.pk}/"
    with gunicorn_process(workers=1, threads=1, arguments=["--worker-class", worker_class]) as (base, server):
        status, etag, _ = api_call("GET", base + set_url, token)
        assert (status, etag) == (200, '"1"')
        with spans_held():
            first = Call("POST", f"{base}{set_url}spans/", token, {"start": NARYSHKIN[0], "end": NARYSHKIN[1],
                         "type": "PERSON"}, if_match='"1"')  # fmt: skip
            assert settles(lambda: waiting_on_locks(server) == 1)  # the one thread is taken
            read = Call("GET", base + set_url, token)
            time.sleep(1.5)  # queued in the worker (its main thread is idle)
            second = Call("POST", f"{base}{set_url}spans/", token, {"start": MINSK[0], "end": MINSK[1],
                          "type": "GPE"}, if_match='"2"')  # fmt: skip
            time.sleep(2)
        assert first.result()[0] == 201, first.result()
        assert second.result()[0] == 201
        status, _, body = read.result()
        assert status == 200
        seen = sorted((span["start"], span["end"]) for span in body["spans"])  # type: ignore[index]
        assert seen == ([NARYSHKIN, MINSK] if save_first else [NARYSHKIN])


def test_every_thread_of_a_worker_gets_a_database_connection_of_its_own_beyond_the_configured_pool(news):
    """12 threads, ANNOTATOR_DB_POOL_MAX=2: the worker's pool is raised to 12 connections, so 12 reads that
    wait on a lock longer than the pool's timeout each wait on a connection of their own and all answer."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: the connection pool")
    token = create_token(user=news.annotator, name="pool", scope="read")[1]
    url = f"/api/v1/sets/{news.annotation_set.pk}/"
    with gunicorn_process(
        workers=1,
        threads=12,
        arguments=["--worker-class", PRIORITY],
        ANNOTATOR_DB_POOL_MAX="2",
        ANNOTATOR_DB_POOL_TIMEOUT="2",
    ) as (base, server):
        with spans_held():
            reads = [Call("GET", base + url, token) for _ in range(12)]
            concurrent = settles(lambda: waiting_on_locks(server) == 12)
            time.sleep(3)  # longer than the pool's timeout: a read without a connection would fail by now
        answers = [read.result()[0] for read in reads]
    assert concurrent  # twelve server processes waited at once: twelve connections
    assert answers == [200] * 12
