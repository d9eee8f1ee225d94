"""Prepared statements on the server: a failed run leaves none behind, a kept one is reused."""

import pytest
from django.db import DataError, connection

from annotator.core.prepared import prepared_cursor

POSTGRES = connection.vendor == "postgresql"
pytestmark = [
    pytest.mark.skipif(not POSTGRES, reason="needs PostgreSQL: prepared statements (SQLite has no server)"),
    pytest.mark.django_db(transaction=True),  # autocommit, as the hot requests run
]


def _on_the_server(marker: str) -> list[str]:
    """The names of the session's prepared statements whose text holds the marker."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name FROM pg_prepared_statements WHERE statement LIKE %s ORDER BY prepare_time",
            [f"%{marker}%"],
        )
        return [name for (name,) in cursor.fetchall()]


def test_a_statement_whose_first_run_fails_is_closed_on_the_server():
    # Parsed (prepared) without fault; only running it with 0 fails. psycopg forgot the name and prepares
    # the statement again under a new one: the first stayed on the server, one per such failure.
    sql = "SELECT 6 / %s::integer AS i29db_first_run"
    with prepared_cursor(connection) as cursor, pytest.raises(DataError, match="division by zero"):
        cursor.execute(sql, [0])
    with prepared_cursor(connection) as cursor:
        cursor.execute(sql, [2])
        assert cursor.fetchone() == (3,)
        cursor.execute(sql, [3])
        assert cursor.fetchone() == (2,)
    # The one the second run prepared, which the third reused; the failed one was closed.
    assert len(_on_the_server("i29db_first_run")) == 1


def test_the_next_statement_of_any_cursor_closes_it():
    with prepared_cursor(connection) as cursor, pytest.raises(DataError, match="division by zero"):
        cursor.execute("SELECT 6 / %s::integer AS i29db_then_plain", [0])
    with connection.cursor() as cursor:  # Django's own cursor, values bound on the client
        cursor.execute("SELECT 1")
    assert _on_the_server("i29db_then_plain") == []


def test_a_statement_prepared_before_its_run_fails_is_kept_and_reused():
    sql = "SELECT 6 / %s::integer AS i29db_kept"
    with prepared_cursor(connection) as cursor:
        cursor.execute(sql, [6])
        assert cursor.fetchone() == (1,)
    (name,) = _on_the_server("i29db_kept")
    with prepared_cursor(connection) as cursor, pytest.raises(DataError, match="division by zero"):
        cursor.execute(sql, [0])
    with prepared_cursor(connection) as cursor:
        cursor.execute(sql, [3])
        assert cursor.fetchone() == (2,)
    assert _on_the_server("i29db_kept") == [name]


def test_a_statement_the_server_refuses_to_prepare_leaves_nothing_and_breaks_nothing():
    # The Parse itself fails (no such column): there is no statement to close, and closing the name the
    # server never made (a protocol Close) must not fail the next statement.
    with prepared_cursor(connection) as cursor, pytest.raises(Exception, match="i29db_no_such_column"):
        cursor.execute("SELECT i29db_no_such_column + %s::integer", [1])
    with prepared_cursor(connection) as cursor:
        cursor.execute("SELECT 6 / %s::integer AS i29db_after_refusal", [3])
        assert cursor.fetchone() == (2,)
    assert len(_on_the_server("i29db_after_refusal")) == 1
    assert _on_the_server("i29db_no_such_column") == []
