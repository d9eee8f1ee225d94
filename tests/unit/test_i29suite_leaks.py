"""A connection left open on a PostgreSQL test database is found: after its test (a pooled connection out
of the pool) and before the run drops the database (any session on it), by tests/conftest.py."""

from __future__ import annotations

import threading

import psycopg
import pytest
from django.db import connection, connections

from tests.conftest import _other_sessions, connections_out_of_the_pool

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL: sessions and its connection pool (SQLite has neither)",
    ),
    pytest.mark.django_db(transaction=True),
]


def in_a_thread(work):
    thread = threading.Thread(target=work)
    thread.start()
    thread.join()


def test_a_connection_another_thread_took_and_kept_is_counted_until_it_is_given_back(news):
    if connection.pool is None:
        pytest.skip("needs the connection pool (ANNOTATOR_DB_POOL is off)")
    connection.ensure_connection()  # this thread's own: never counted
    kept = []

    def take_and_keep():
        wrapper = connections.create_connection("default")
        wrapper.ensure_connection()
        kept.append(wrapper)

    in_a_thread(take_and_keep)
    assert connections_out_of_the_pool() == 1
    kept[0].inc_thread_sharing()  # closed here, as the thread should have closed it
    kept[0].close()
    assert connections_out_of_the_pool() == 0


def test_a_thread_that_closes_its_connections_leaves_none_out(news):
    def read_and_close():
        from annotator.projects.models import Project

        assert Project.objects.filter(pk=news.project.pk).exists()
        connections.close_all()

    in_a_thread(read_and_close)
    assert connections_out_of_the_pool() == 0


def test_a_session_left_on_a_database_is_named_and_ended():
    settings_dict = connection.settings_dict
    params = {
        "host": settings_dict["HOST"],
        "port": settings_dict["PORT"] or None,
        "user": settings_dict["USER"],
    }
    with psycopg.connect(dbname=settings_dict["NAME"], application_name="left-behind", autocommit=True, **{
        k: v for k, v in params.items() if v is not None
    }) as left:  # fmt: skip
        left.execute("SELECT 'the last query'")
        # This process's own connections are no sessions left behind: the guard closes them first.
        connection.close()
        connection.close_pool()
        found = _other_sessions(settings_dict, wait_s=0.2)
        assert len(found) == 1
        assert "application 'left-behind', idle" in found[0]
        assert found[0].endswith("last query: \"SELECT 'the last query'\"")
        with pytest.raises(psycopg.OperationalError):
            left.execute("SELECT 1")  # ended by the guard, so that the database can be dropped


def test_this_process_s_sessions_say_whose_they_are():
    import os

    with connection.cursor() as cursor:
        cursor.execute("SHOW application_name")
        (name,) = cursor.fetchone()
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    assert name == os.environ.get("PGAPPNAME") == f"annotator-tests-{worker}"


def test_connections_used_while_a_loop_runs_in_the_thread_are_a_set_a_later_close_misses(monkeypatch):
    """What Playwright does between its calls (tests/browser/conftest.py): this thread's running loop is
    its loop, and Django's connections of the thread are then another set. A close after Playwright stops
    reaches only the first set; the browser fixture closes the second before it stops."""
    import asyncio

    if connection.pool is None:
        pytest.skip("needs the connection pool (ANNOTATOR_DB_POOL is off)")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # as the browser tests set it
    # In a process whose browser tests ran first, Playwright's loop is this thread's running loop between
    # its calls: step out of it for the test (and back after), and count only what the test adds.
    playwright_s = asyncio._get_running_loop()
    asyncio._set_running_loop(None)
    outside = connections["default"]
    outside.ensure_connection()
    already_out = connections_out_of_the_pool()
    loop = asyncio.new_event_loop()

    def while_the_loop_runs(work):
        asyncio._set_running_loop(loop)
        try:
            return work()
        finally:
            asyncio._set_running_loop(None)

    try:
        inside = while_the_loop_runs(lambda: connections["default"])
        assert inside is not outside
        while_the_loop_runs(inside.ensure_connection)
        connections.close_all()  # after the loop: the first set only
        assert (outside.connection, connections_out_of_the_pool()) == (None, already_out + 1)
        while_the_loop_runs(connections.close_all)  # the browser fixture's close, before Playwright stops
        assert connections_out_of_the_pool() == already_out
    finally:
        loop.close()
        asyncio._set_running_loop(playwright_s)
