"""Writing many rows at once: PostgreSQL binary `COPY`, or one prepared INSERT run over all rows on SQLite.

Ids are reserved before the rows are written (from the table's sequence on PostgreSQL; on SQLite, whose
IMMEDIATE transactions hold the write lock from BEGIN, by counting up from the largest id), so a batch
of articles, their sets, spans, links and relations goes in table by table with every reference known.
Columns a writer does not name get their model default, so a field added later with a default does
not break imports; one without a default makes `Table` refuse to start, loudly, in the tests.

Foreign keys, on PostgreSQL: every key is declared DEFERRABLE INITIALLY DEFERRED, so the server queues one
check per row and key and runs them all at COMMIT: for 500,000 spans, two million single-row look-ups, a
third of the import. When the role may set `session_replication_role` (a superuser, or on PostgreSQL 15+
`GRANT SET ON PARAMETER session_replication_role`), the writer COPYs with those per-row checks off and makes
the same check itself, once per key and COPY: the distinct values the rows refer to, looked up and locked
`FOR KEY SHARE` in one query (what each per-row check does, for the few thousand parents instead of the
half million children). Only tables whose only INSERT triggers are foreign-key checks are written so; a
missing parent raises the IntegrityError PostgreSQL would, and nothing is kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter
from typing import Any

import orjson
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, IntegrityError, connection, models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from psycopg import errors
from psycopg.types.json import set_json_dumps

Converter = Callable[[Any], Any]
COPY_CHUNK = 2**20  # bytes handed to COPY at a time

# PostgreSQL column types (as Django declares them, without a length) that binary COPY writes, by the name
# psycopg knows them by. Binary COPY needs each value in its column's exact binary form, hence the types.
BINARY_TYPES = {
    "bigint": "int8",
    "integer": "int4",
    "smallint": "int2",
    "varchar": "text",  # the same binary form as text
    "text": "text",
    "jsonb": "jsonb",
    "timestamp with time zone": "timestamptz",
    "boolean": "bool",
    "double precision": "float8",
    "date": "date",
}


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def copy_escape(value: str) -> str:
    """A string in COPY's text format: backslash, tab and line breaks escaped (NUL is refused earlier)."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return value


def _copy_json(value: Any) -> str:
    return copy_escape(orjson.dumps(value).decode())


@lru_cache(maxsize=16)  # an import stamps every row with the same few timestamps
def _copy_datetime(value: Any) -> str:
    return str(value.isoformat())


def _copy_bool(value: Any) -> str:
    return "t" if value else "f"


def copy_formatter(field: models.Field) -> Callable[[Any], str]:
    """How one column's values are written in COPY's text format (None is always \\N)."""
    if isinstance(field, models.JSONField):
        return _copy_json
    if isinstance(field, models.BooleanField):
        return _copy_bool
    if isinstance(field, models.DateTimeField):
        return _copy_datetime
    if isinstance(field, models.CharField | models.TextField):
        return copy_escape
    return str


def _referred(
    rows: Sequence[Sequence[Any]], keys: list[ForeignKey], offset: int, constants: tuple[Any, ...]
) -> list[set[Any]]:
    """What each key's columns hold across the rows (a key made of constants holds one value)."""
    found = []
    for key in keys:
        if all(position >= offset for position in key.positions):
            whole = (*([None] * offset), *constants)
            found.append({tuple(whole[p] for p in key.positions)} if len(key.positions) > 1 else
                         {whole[key.positions[0]]})  # fmt: skip
        elif len(key.positions) == 1:
            found.append(set(map(itemgetter(key.positions[0]), rows)))
        else:
            found.append({tuple((*row, *constants)[p] for p in key.positions) for row in rows})
    return found


def id_runs(ids: Sequence[int]) -> list[tuple[int, int]]:
    """The distinct ids as (first, last) runs of consecutive values, in order: one run for ids reserved at
    once."""
    if not ids:
        return []
    low, high = min(ids), max(ids)
    if high - low + 1 == len(ids) == len(set(ids)):
        return [(low, high)]
    runs: list[tuple[int, int]] = []
    for value in sorted(ids):
        if runs and runs[-1][1] + 1 == value:
            runs[-1] = (runs[-1][0], value)
        elif not runs or runs[-1][1] != value:
            runs.append((value, value))
    return runs


class Table:
    """One model's table: the columns a writer fills, and constants for all the others."""

    def __init__(self, model: type[models.Model], columns: Sequence[str], *, raw: Sequence[str] = ()) -> None:
        """`raw`: columns whose values come as bytes already in the column's binary COPY form (a text's
        UTF-8; a jsonb's version byte 1 and its JSON), sent as they are. Such a table is written by binary
        COPY only (`BulkWriter.takes_raw`)."""
        self.model = model
        self.name = model._meta.db_table
        by_column = {str(field.column): field for field in model._meta.concrete_fields}
        unknown = (set(columns) | set(raw)) - by_column.keys()
        if unknown:
            raise ImproperlyConfigured(f"{self.name} has no column(s) {sorted(unknown)}.")
        if not set(raw) <= set(columns):
            raise ImproperlyConfigured(
                f"{self.name}: raw columns {sorted(set(raw) - set(columns))} not written."
            )
        self.columns = list(columns)
        self.raw = frozenset(raw)
        self.constants: dict[str, Any] = {}
        for column, field in by_column.items():
            if column in columns or (field.primary_key and isinstance(field, models.AutoField)):
                continue
            if not field.has_default() and not field.null:
                raise ImproperlyConfigured(
                    f"{self.name}.{column} has no default: the import must fill it in (interchange/bulk.py)."
                )
            self.constants[column] = field.get_default() if field.has_default() else None
        self._fields = [by_column[column] for column in [*self.columns, *self.constants]]

    def copy_line(self) -> Callable[[Sequence[Any]], str]:
        """A function that turns one row (the writer's columns) into one line of COPY text input."""
        formatters = [copy_formatter(field) for field in self._fields[: len(self.columns)]]
        tail = "".join(
            "\t" + ("\\N" if value is None else copy_formatter(field)(value))
            for field, value in zip(self._fields[len(self.columns) :], self.constants.values(), strict=True)
        )
        end = tail + "\n"

        def line(row: Sequence[Any]) -> str:
            return (
                "\t".join([f(v) if v is not None else "\\N" for f, v in zip(formatters, row, strict=True)])
                + end
            )

        return line

    def binary_types(self, db: BaseDatabaseWrapper) -> list[str] | None:
        """The psycopg type of every column (the writer's, then the constants'), or None when a column has
        a type binary COPY is not taught here (the table is then written in text format)."""
        names = []
        for field in self._fields:
            declared = (field.db_type(db) or "").split("(")[0].strip()
            if declared not in BINARY_TYPES:
                return None
            # A raw value goes as bytea, whose binary form is the bytes themselves: the server reads them
            # as the column's own type (and checks them: UTF-8 for text, the JSON for jsonb).
            names.append("bytea" if field.column in self.raw else BINARY_TYPES[declared])
        return names

    def converters(self, vendor: str, db: BaseDatabaseWrapper) -> list[Converter | None]:
        """How each value becomes what the driver takes: JSON as text everywhere, dates as text on SQLite."""
        result: list[Converter | None] = []
        for field in self._fields:
            if isinstance(field, models.JSONField):
                result.append(_json)
            elif vendor == "sqlite" and isinstance(field, models.DateTimeField):
                result.append(db.ops.adapt_datetimefield_value)
            elif vendor == "sqlite" and isinstance(field, models.BooleanField):
                result.append(lambda value: None if value is None else int(value))
            else:
                result.append(None)
        return result


@dataclass(frozen=True)
class ForeignKey:
    """One foreign key of a table: its name, its columns' positions in a written row, what it refers to."""

    name: str
    positions: tuple[int, ...]
    columns: tuple[str, ...]
    target: str
    target_columns: tuple[str, ...]
    types: tuple[str, ...]  # the SQL types of the columns, for the arrays the check sends

    def check(self, cursor: Any, keys: set[Any], table: str) -> None:
        """Look up and lock (FOR KEY SHARE, as PostgreSQL's own check does) the rows these keys name;
        raise PostgreSQL's IntegrityError for the first one missing."""
        keys.discard(None)
        if not keys:
            return
        quoted = ", ".join(f'"{column}"' for column in self.target_columns)
        if len(self.positions) == 1:
            cursor.execute(
                f'SELECT {quoted} FROM "{self.target}" WHERE {quoted} = ANY(%s::{self.types[0]}[]) '  # noqa: S608
                "FOR KEY SHARE",
                [list(keys)],
            )
            found: set[Any] = {row[0] for row in cursor.fetchall()}
        else:
            keys = {key for key in keys if None not in key}  # MATCH SIMPLE: a null column checks nothing
            arrays = ", ".join(f"%s::{type_}[]" for type_ in self.types)
            cursor.execute(
                f'SELECT {quoted} FROM "{self.target}" WHERE ({quoted}) IN '  # noqa: S608
                f"(SELECT * FROM unnest({arrays})) FOR KEY SHARE",
                [list(column) for column in zip(*keys, strict=True)],
            )
            found = {tuple(row) for row in cursor.fetchall()}
        missing = keys - found
        if missing:
            key = min(missing, key=repr)
            values = ", ".join(map(str, key if isinstance(key, tuple) else (key,)))
            raise IntegrityError(
                f'insert or update on table "{table}" violates foreign key constraint "{self.name}"\n'
                f"DETAIL:  Key ({', '.join(self.columns)})=({values}) is not present in table "
                f'"{self.target}".'
            )


FOREIGN_KEYS_SQL = """
SELECT c.conname, c.conkey::int[],
       array(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(n, i)
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.i),
       c.confrelid::regclass::text,
       array(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY k(n, i)
             JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.i),
       array(SELECT format_type(a.atttypid, NULL) FROM unnest(c.conkey) WITH ORDINALITY k(n, i)
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.i)
FROM pg_constraint c WHERE c.contype = 'f' AND c.conrelid = %s::regclass ORDER BY c.conname
"""
# Triggers that would fire on INSERT (the bit 1 << 2 of tgtype) and are not a foreign key's check: if a
# table has any, or a check that replica mode would not skip, its rows go through the server's checks.
OTHER_INSERT_TRIGGERS_SQL = """
SELECT count(*) FROM pg_trigger
WHERE tgrelid = %s::regclass AND tgtype & 4 <> 0 AND tgenabled <> 'D'
  AND NOT (tgfoid = 'pg_catalog."RI_FKey_check_ins"'::regproc AND tgenabled = 'O')
"""


class BulkWriter:
    """Inserts rows through the current connection, inside the caller's transaction."""

    def __init__(self) -> None:
        self.vendor = connection.vendor
        self._next_id: dict[str, int] = {}
        self._sequences: dict[str, str] = {}
        self._converters: dict[int, tuple[list[Converter | None], tuple[Any, ...]]] = {}
        self._lines: dict[int, Callable[[Sequence[Any]], str]] = {}
        self._binary: dict[int, list[str] | None] = {}
        self._keys: dict[int, list[ForeignKey] | None] = {}
        self._replica: bool | None = None  # whether this role may turn the per-row checks off

    def reserve_ids(self, table: Table, count: int) -> list[int]:
        if count == 0:
            return []
        with connection.cursor() as cursor:
            if self.vendor == "postgresql":
                if table.name not in self._sequences:
                    cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table.name])
                    self._sequences[table.name] = cursor.fetchone()[0]
                # Summed up by the server: the ids come in one run unless another session took some of
                # the sequence's values meanwhile, and a run is two numbers, not `count` rows to fetch.
                cursor.execute(
                    "SELECT min(id), max(id), CASE WHEN max(id) - min(id) + 1 <> count(*) THEN array_agg(id) "
                    "END FROM (SELECT nextval(%s) AS id FROM generate_series(1, %s)) AS taken",
                    [self._sequences[table.name], count],
                )
                low, high, scattered = cursor.fetchone()
                return list(range(low, high + 1)) if scattered is None else list(scattered)
            if table.name not in self._next_id:
                cursor.execute(f'SELECT MAX(id) FROM "{table.name}"')  # noqa: S608  # a model's table name
                largest = cursor.fetchone()[0] or 0
                cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table.name])
                found = cursor.fetchone()
                self._next_id[table.name] = max(largest, found[0] if found else 0) + 1
        first = self._next_id[table.name]
        self._next_id[table.name] = first + count
        return list(range(first, first + count))

    def takes_raw(self, table: Table) -> bool:
        """Whether this writer sends the table's rows by binary COPY, so that it may take raw values."""
        if self.vendor != "postgresql":
            return False
        if id(table) not in self._binary:
            self._binary[id(table)] = table.binary_types(connection)
        return self._binary[id(table)] is not None

    def insert(self, table: Table, rows: Iterable[Sequence[Any]]) -> int:
        """Write the rows (values in `table.columns` order); returns how many were written."""
        if table.raw and not self.takes_raw(table):
            raise ImproperlyConfigured(f"{table.name}: raw values need binary COPY (PostgreSQL).")
        columns = ", ".join(f'"{column}"' for column in [*table.columns, *table.constants])
        if self.vendor == "postgresql":
            return self._copy(table, columns, rows)
        converters, constants = self._prepared(table)
        count = 0

        def converted() -> Iterable[tuple[Any, ...]]:
            nonlocal count
            for row in rows:
                count += 1
                values = (*row, *constants)
                yield tuple(
                    value if convert is None or value is None else convert(value)
                    for convert, value in zip(converters, values, strict=True)
                )

        with connection.cursor() as cursor:
            marks = ", ".join(["%s"] * (len(table.columns) + len(table.constants)))
            statement = f'INSERT INTO "{table.name}" ({columns}) VALUES ({marks})'  # noqa: S608
            cursor.executemany(statement, list(converted()))
        return count

    def _copy(self, table: Table, columns: str, rows: Iterable[Sequence[Any]]) -> int:
        """Binary COPY, each row packed by psycopg's C code: 2-3 times as fast as text lines built in Python
        (which the server must parse again)."""
        types = self._binary[id(table)] if self.takes_raw(table) else None
        if types is None:
            return self._copy_text(table, columns, rows)
        constants = tuple(table.constants.values())
        keys = self._foreign_keys(table)
        if keys:
            rows = rows if isinstance(rows, list) else list(rows)  # a batch: bounded, and read twice
            seen = _referred(rows, keys, len(table.columns), constants)
        count = 0
        with connection.cursor() as cursor:
            if keys:
                cursor.execute("SET LOCAL session_replication_role = replica")
            with cursor.cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN (FORMAT BINARY)') as copy:
                set_json_dumps(orjson.dumps, cursor.cursor)  # as the text format does: fast, the same JSON
                copy.set_types(types)
                write = copy.write_row
                if constants:
                    for row in rows:
                        write((*row, *constants))
                        count += 1
                else:
                    for row in rows:
                        write(row)
                        count += 1
            if keys:
                cursor.execute("SET LOCAL session_replication_role = origin")
                for key, values in zip(keys, seen, strict=True):
                    key.check(cursor, values, table.name)
        return count

    def insert_history(
        self, table: Table, history: Table, rows: Sequence[Sequence[Any]], values: dict[str, Any]
    ) -> int:
        """The history rows of `rows`, just written to `table` (their ids first): each row's columns as
        stored, then `values` for the history's own columns (date, reason, type, user).

        On PostgreSQL the server copies them itself, `INSERT ... SELECT` from the rows by their ids: no row
        goes through Python or COPY's parser a second time (the writer's half of an import's span rows).
        The ids are this transaction's own (reserved from the sequence), so the ranges they make hold
        these rows and no others. Elsewhere, or for a history table with a foreign key on a copied column
        (checked by the server row by row, or here from the rows), rows are written as they are."""
        if not rows:
            return 0
        order = [*history.columns, *history.constants]
        copied = [column for column in order if column not in values]
        known = {*table.columns, *table.constants}
        keys = self._foreign_keys(history) if self.vendor == "postgresql" else None
        simple = self.vendor == "postgresql" and set(copied) <= known and "id" in table.columns
        if simple and keys:
            simple = all(column in values for key in keys for column in key.columns)
        if not simple:
            constants = tuple(values[column] for column in history.columns if column in values)
            return self.insert(history, (tuple(row) + constants for row in rows))
        runs = id_runs([row[0] for row in rows])
        given = [column for column in order if column in values]
        names = ", ".join(f'"{column}"' for column in [*copied, *given])
        sources = ", ".join([*(f's."{column}"' for column in copied), *(["%s"] * len(given))])
        with connection.cursor() as cursor:
            if keys:
                cursor.execute("SET LOCAL session_replication_role = replica")
            cursor.execute(
                f'INSERT INTO "{history.name}" ({names}) SELECT {sources} FROM "{table.name}" s '  # noqa: S608
                "JOIN unnest(%s::bigint[], %s::bigint[]) AS r(low, high) ON s.id BETWEEN r.low AND r.high",
                [*(values[column] for column in given), [low for low, _ in runs], [high for _, high in runs]],
            )
            count = cursor.rowcount
            if keys:
                cursor.execute("SET LOCAL session_replication_role = origin")
                for key in keys:
                    value = tuple(values[column] for column in key.columns)
                    key.check(cursor, {value if len(value) > 1 else value[0]}, history.name)
        if count != len(rows):  # the ids were not all this table's new rows: a caller's mistake, loudly
            raise DatabaseError(f"{history.name}: {count} history rows for {len(rows)} rows.")
        return count

    def _foreign_keys(self, table: Table) -> list[ForeignKey] | None:
        """The table's foreign keys when this writer checks them itself (None: the server checks each row)."""
        if id(table) in self._keys:
            return self._keys[id(table)]
        found: list[ForeignKey] | None = None
        with connection.cursor() as cursor:
            cursor.execute(OTHER_INSERT_TRIGGERS_SQL, [table.name])
            if cursor.fetchone()[0] == 0 and self._may_skip_checks():
                cursor.execute(FOREIGN_KEYS_SQL, [table.name])
                order = {
                    column: position for position, column in enumerate([*table.columns, *table.constants])
                }
                declared = cursor.fetchall()
                if all(column in order for _, _, columns, *_ in declared for column in columns):
                    found = [
                        ForeignKey(name, tuple(order[c] for c in columns), tuple(columns), target,
                                   tuple(targets), tuple(types))
                        for name, _, columns, target, targets, types in declared
                    ]  # fmt: skip
        self._keys[id(table)] = found or None
        return self._keys[id(table)]

    def _may_skip_checks(self) -> bool:
        """Whether this role may set session_replication_role (tried once, in a savepoint)."""
        if self._replica is None:
            try:
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute("SET LOCAL session_replication_role = replica")
                    cursor.execute("SET LOCAL session_replication_role = origin")
                self._replica = True
            except DatabaseError as error:  # a refusal says no; anything else is a real error
                if not isinstance(error.__cause__, errors.InsufficientPrivilege):
                    raise
                self._replica = False
        return self._replica

    def _copy_text(self, table: Table, columns: str, rows: Iterable[Sequence[Any]]) -> int:
        """COPY in text format, formatted here: several times faster than adapting value by value."""
        if id(table) not in self._lines:
            self._lines[id(table)] = table.copy_line()
        line = self._lines[id(table)]
        count, size, chunk = 0, 0, []
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN') as copy,
        ):
            for row in rows:
                text = line(row)
                chunk.append(text)
                size += len(text)
                count += 1
                if size >= COPY_CHUNK:
                    copy.write("".join(chunk).encode())
                    chunk, size = [], 0
            if chunk:
                copy.write("".join(chunk).encode())
        return count

    def _prepared(self, table: Table) -> tuple[list[Converter | None], tuple[Any, ...]]:
        key = id(table)
        if key not in self._converters:
            converters = table.converters(self.vendor, connection)
            # Constants are converted here, once; the per-row conversion skips them.
            offset = len(table.columns)
            constants = tuple(
                value if convert is None or value is None else convert(value)
                for convert, value in zip(converters[offset:], table.constants.values(), strict=True)
            )
            self._converters[key] = ([*converters[:offset], *([None] * len(constants))], constants)
        return self._converters[key]
