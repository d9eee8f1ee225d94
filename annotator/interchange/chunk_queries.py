"""Queries an export runs once per chunk, compiled by Django once per export.

An export runs the same handful of queries for every chunk of 500 articles, and only the chunk's ids
change. Compiling a queryset costs Django about as much as the database spends answering a small one,
and psycopg dumps a list parameter one element at a time in Python: so each query is compiled once, with
a marker where the ids go, and run per chunk with the ids as one text parameter (a PostgreSQL array
literal, a JSON list on SQLite), made once per chunk whatever the number of queries that use it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection
from django.db.models import BigIntegerField, BooleanField, Expression, F, QuerySet, Subquery

Rows = list[tuple[Any, ...]]


@contextmanager
def one_round_trip() -> Iterator[None]:
    """Queries sent (`ChunkQuery.send`) inside this block reach PostgreSQL together and their answers
    come back together (psycopg's pipeline mode): one round trip for all instead of one each. A round
    trip costs little CPU, but on a loaded machine each is a wait for the backend to be scheduled and for
    this thread to get the GIL back from the thread writing the export. On SQLite, one at a time."""
    if connection.vendor != "postgresql":
        yield
        return
    connection.ensure_connection()
    with connection.connection.pipeline():
        yield


def sent(sql: str, params: list[Any], *, prepare: Callable[[Any], None] | None = None) -> Callable[[], Rows]:
    """Run a query; return what fetches its rows (in `one_round_trip`, the answer is waited for only
    then). `prepare` is given the psycopg cursor first (to register loaders)."""
    cursor = connection.cursor()
    try:
        if prepare is not None:
            prepare(cursor.cursor)
        cursor.execute(sql, params)
    except BaseException:
        cursor.close()
        raise

    def fetch() -> Rows:
        with cursor:
            return cursor.fetchall()

    return fetch


def _none() -> Rows:
    return []


class ChunkIds:
    """The ids of one chunk as the text parameter `InIds` compares a column with."""

    def __init__(self, ids: list[int] | tuple[int, ...]) -> None:
        self.ids = [int(pk) for pk in ids]
        digits = ",".join(map(str, self.ids))
        self.param = f"{{{digits}}}" if connection.vendor == "postgresql" else f"[{digits}]"

    def __len__(self) -> int:
        return len(self.ids)


class _ChunkMarker:
    """Where a compiled query takes the chunk's ids."""

    def __repr__(self) -> str:
        return "<the chunk's ids>"


CHUNK = _ChunkMarker()


class _AfterMarker:
    """Where a compiled keyset query takes the id it reads after."""

    def __repr__(self) -> str:
        return "<the id read after>"


AFTER = _AfterMarker()


class After(Expression):
    """The id a chunk's articles come after, in a query compiled once (`KeysetQuery`): `pk__gt=After()`."""

    output_field = BigIntegerField()

    def as_sql(self, compiler: Any, connection: Any) -> Any:
        return "%s", [AFTER]


class KeysetQuery:
    """A values_list queryset that takes `After()`, compiled once and sent for one id after another:
    building and compiling an export's chunk queries again for every chunk cost Django more CPU (in the
    thread that reads, beside the one that writes) than the database spent answering them."""

    def __init__(self, queryset: QuerySet[Any], *, prepare: Callable[[Any], None] | None = None) -> None:
        sql, params = queryset.query.get_compiler(using=queryset.db).as_sql()
        if AFTER not in params:
            raise ValueError("A keyset query takes the id it reads after: filter it with After().")
        self.sql = sql
        self.params = tuple(params)
        self.prepare = prepare  # given the psycopg cursor before each run (see `sent`)

    def send(self, after: int) -> Callable[[], Rows]:
        """Run the query for the rows after `after`; return what fetches them (see `one_round_trip`)."""
        params = [after if param is AFTER else param for param in self.params]
        return sent(self.sql, params, prepare=self.prepare)


class InIds(Expression):
    """`column IN (ids)` with the ids as one text parameter (an array literal cast on PostgreSQL, a JSON
    list on SQLite): a chunk's 500 ids cost Django and psycopg more as 500 placeholders, or as a list psycopg
    dumps element by element, than the database's answer. `ids` may be `CHUNK`: see `ChunkQuery`."""

    output_field = BooleanField()
    conditional = True

    def __init__(self, field: str, ids: list[int] | tuple[int, ...] | ChunkIds | _ChunkMarker) -> None:
        super().__init__()
        self.column = F(field)
        self.ids = ids if isinstance(ids, ChunkIds | _ChunkMarker) else ChunkIds(ids)

    def get_source_expressions(self) -> list[Any]:
        return [self.column]

    def set_source_expressions(self, exprs: Any) -> None:
        (self.column,) = exprs

    def as_sql(self, compiler: Any, connection: Any) -> Any:
        column, params = compiler.compile(self.column)
        ids = self.ids if self.ids is CHUNK else self.ids.param  # type: ignore[union-attr]
        if connection.vendor == "postgresql":
            return f"{column} = ANY(%s::bigint[])", [*params, ids]
        in_json = f"{column} IN (SELECT value FROM json_each(%s))"  # noqa: S608 - a column name, ids bound
        return in_json, [*params, ids]


class InSubquery(Expression):
    """`column IN (subquery)`, on PostgreSQL as `column = ANY(ARRAY(subquery))`: the subquery (a chunk's
    ids, say) runs once, first, and the column is looked up by index for each id, as with `InIds`;
    as a semi-join PostgreSQL hashed the subquery and scanned the whole table for every chunk."""

    output_field = BooleanField()
    conditional = True

    def __init__(self, field: str, queryset: QuerySet[Any]) -> None:
        super().__init__()
        self.column = F(field)
        self.subquery = Subquery(queryset)

    def get_source_expressions(self) -> list[Any]:
        return [self.column, self.subquery]

    def set_source_expressions(self, exprs: Any) -> None:
        self.column, self.subquery = exprs

    def as_sql(self, compiler: Any, connection: Any) -> Any:
        column, params = compiler.compile(self.column)
        subquery, subquery_params = compiler.compile(self.subquery)
        if connection.vendor == "postgresql":
            return f"{column} = ANY(ARRAY{subquery})", [*params, *subquery_params]
        return f"{column} IN {subquery}", [*params, *subquery_params]


class ChunkQuery:
    """A values_list queryset filtered with `InIds(..., CHUNK)`, compiled once, run for chunk after chunk
    with a bare cursor (only for columns Django converts nothing in: ints, floats, text, the ISO times and
    JSON text made by the database)."""

    def __init__(self, queryset: QuerySet[Any]) -> None:
        sql, params = queryset.query.get_compiler(using=queryset.db).as_sql()
        if CHUNK not in params:
            raise ValueError("A chunk query takes the chunk's ids: filter it with InIds(field, CHUNK).")
        self.sql = sql
        self.params = tuple(params)

    def rows(self, ids: ChunkIds) -> Rows:
        return self.send(ids)()

    def send(self, ids: ChunkIds) -> Callable[[], Rows]:
        """Run the query for these ids; return what fetches its rows (see `one_round_trip`)."""
        if not ids.ids:
            return _none
        return sent(self.sql, [ids.param if param is CHUNK else param for param in self.params])
