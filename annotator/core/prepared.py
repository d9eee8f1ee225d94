"""Statements PostgreSQL plans once per connection: prepared statements for the few that run all day.

Django binds parameters on the client (psycopg's `ClientCursor`), so PostgreSQL parses and plans every
statement it is sent. For the hot writes that costs more than running them: the set's read (its
permission subqueries) and the write's one statement (a claim, a row and its history in CTEs) took
2.5-3.7 ms of database CPU per REST call, against 0.6-1.0 ms once prepared (bench/write_path.py, same
minute). A `prepared_cursor` binds on the server and prepares each statement the first time a pooled
connection runs it; later runs send only the statement's name and the values.

Only statements run through `prepared_cursor` (and every `core.compiled.CompiledQuery`) are prepared: Django's
own queries stay as they are (the ORM does not promise SQL that server-side binding always accepts;
these statements are few, fixed and tested). psycopg keeps at most 100 per connection and drops them all
after a rollback (the server keeps a statement across one, but an object it names may have been dropped
and made again); the next run prepares again. `ANNOTATOR_DB_PREPARED=false` turns it off, e.g. behind a
PgBouncer older than 1.21 in transaction mode, which does not carry a prepared statement from one
transaction's server connection to the next.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils.connection import ConnectionProxy

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.backends.utils import CursorWrapper

# psycopg prepares a statement only when its connection has a threshold; Django connects with none (never
# prepare). A threshold no count reaches lets the statements that ask (prepare=True) be prepared, and no
# other: a client-side cursor never prepares.
_ONLY_WHEN_ASKED = 2**62


def prepared_cursor(connection: BaseDatabaseWrapper) -> CursorWrapper:
    """A cursor of `connection` (as `connection.cursor()`: logged, wrapped, its errors Django's) whose
    statements are prepared on PostgreSQL; a plain cursor elsewhere or when ANNOTATOR_DB_PREPARED is off."""
    if isinstance(connection, ConnectionProxy):
        # `django.db.connection` looks this thread's connection up again on each attribute read (an
        # asgiref Local, ~5 K instructions); this function reads nine: look it up once.
        connection = connection._connections[connection._alias]  # type: ignore[attr-defined]
    if connection.vendor != "postgresql" or not settings.ANNOTATOR_DB_PREPARED:
        return connection.cursor()
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        raw = connection.connection
        if raw.prepare_threshold is None:
            raw.prepare_threshold = _ONLY_WHEN_ASKED
        cursor = _preparing_cursor_class()(raw)
        _match_time_zone(connection, cursor)
        return connection._prepare_cursor(cursor)  # type: ignore[attr-defined]


def _match_time_zone(connection: BaseDatabaseWrapper, cursor: Any) -> None:
    """What Django's `create_cursor` does to each cursor: read timestamps in the connection's zone."""
    timestamptz, text, register_tzloader = _time_zone_tools()
    loader = connection.connection.adapters.get_loader(timestamptz, text)
    if connection.timezone != loader.timezone:
        register_tzloader(connection.timezone, cursor)


@cache
def _time_zone_tools() -> tuple[int, Any, Callable[..., None]]:
    """Imported on first use (the PostgreSQL backend, psycopg), once: an import statement in the function
    above ran on every cursor, a sixth of what making one costs."""
    from django.db.backends.postgresql.base import TIMESTAMPTZ_OID
    from django.db.backends.postgresql.psycopg_any import register_tzloader
    from psycopg.pq import Format

    return TIMESTAMPTZ_OID, Format.TEXT, register_tzloader


_cursor_class: type | None = None


def _preparing_cursor_class() -> type:
    """Django's server-binding cursor, asking psycopg to prepare every statement it executes."""
    global _cursor_class
    if _cursor_class is None:
        from django.db.backends.postgresql.base import ServerBindingCursor

        class PreparingCursor(ServerBindingCursor):  # type: ignore[misc, valid-type]
            def execute(self, query: Any, params: Any = None, *, prepare: bool | None = None,
                        binary: bool | None = None) -> Any:  # fmt: skip
                # psycopg's PrepareManager of the connection: which name a statement prepared now takes
                statements = self.connection._prepared  # type: ignore[attr-defined]
                named = statements._prepared_idx
                try:
                    return super().execute(query, params, prepare=True, binary=binary)  # type: ignore[misc]
                except Exception:
                    _forget_on_the_server(statements, named)
                    raise
                finally:
                    # Django's query log (tests' query counts, DEBUG) reads the statement sent from here,
                    # which psycopg leaves empty when it runs a prepared one: the SQL, placeholders kept.
                    self._query = _Sent(query)

        _cursor_class = PreparingCursor
    return _cursor_class


def _forget_on_the_server(statements: Any, named: int) -> None:
    """After a statement failed: if this run was the one to prepare it, have the server drop it too.

    psycopg prepares a statement (Parse, under a new name) and then runs it; when the run fails (a unique
    key, a value out of range, a cancelled statement), it forgets the name and prepares the statement
    again under another the next time, but the server keeps the first: a pooled connection that lives
    for days would collect one plan per such failure. The name goes on psycopg's own list of statements
    to close (the list its cache sends when it evicts one), closed with the next statement the connection
    runs: a protocol Close, which a name the server never made (the Parse itself failed) does not
    trouble, and which PgBouncer 1.21+ forwards."""
    if statements._prepared_idx == named or not _closes_by_protocol():
        # Prepared already (psycopg keeps it), or a libpq before 17, which would close it with a DEALLOCATE
        # statement: that fails for a name the server never made and in a transaction that failed.
        return
    name = f"_pg3_{named}".encode()
    if name not in statements._names.values():
        statements._to_flush.append(name)


@cache
def _closes_by_protocol() -> bool:
    from psycopg._connection_base import _HAS_SEND_CLOSE

    return bool(_HAS_SEND_CLOSE)


class _Sent:
    """A statement as Django's `last_executed_query` reads it from a psycopg cursor. Encoded only when
    read: only a query log (DEBUG, tests' query counts) reads it, and a hot request runs several."""

    __slots__ = ("_text",)

    def __init__(self, query: Any) -> None:
        self._text = query

    @property
    def query(self) -> bytes:
        return self._text.encode() if isinstance(self._text, str) else bytes(self._text)
