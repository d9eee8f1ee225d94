"""Writing many rows at once: PostgreSQL binary `COPY`, or one prepared INSERT run over all rows on SQLite.

Ids are reserved before the rows are written (from the table's sequence on PostgreSQL; on SQLite, whose
IMMEDIATE transactions hold the write lock from BEGIN, by counting up from the largest id), so a batch
of articles, their sets, spans, links and relations goes in table by table with every reference known.
Columns a writer does not name get their model default, so a field added later with a default does
not break imports; one without a default makes `Table` refuse to start, loudly, in the tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from typing import Any

import orjson
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, models
from django.db.backends.base.base import BaseDatabaseWrapper
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


class Table:
    """One model's table: the columns a writer fills, and constants for all the others."""

    def __init__(self, model: type[models.Model], columns: Sequence[str]) -> None:
        self.model = model
        self.name = model._meta.db_table
        by_column = {str(field.column): field for field in model._meta.concrete_fields}
        unknown = set(columns) - by_column.keys()
        if unknown:
            raise ImproperlyConfigured(f"{self.name} has no column(s) {sorted(unknown)}.")
        self.columns = list(columns)
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
            names.append(BINARY_TYPES[declared])
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


class BulkWriter:
    """Inserts rows through the current connection, inside the caller's transaction."""

    def __init__(self) -> None:
        self.vendor = connection.vendor
        self._next_id: dict[str, int] = {}
        self._sequences: dict[str, str] = {}
        self._converters: dict[int, tuple[list[Converter | None], tuple[Any, ...]]] = {}
        self._lines: dict[int, Callable[[Sequence[Any]], str]] = {}
        self._binary: dict[int, list[str] | None] = {}

    def reserve_ids(self, table: Table, count: int) -> list[int]:
        if count == 0:
            return []
        with connection.cursor() as cursor:
            if self.vendor == "postgresql":
                if table.name not in self._sequences:
                    cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table.name])
                    self._sequences[table.name] = cursor.fetchone()[0]
                cursor.execute(
                    "SELECT nextval(%s) FROM generate_series(1, %s)", [self._sequences[table.name], count]
                )
                return [row[0] for row in cursor.fetchall()]
            if table.name not in self._next_id:
                cursor.execute(f'SELECT MAX(id) FROM "{table.name}"')  # noqa: S608  # a model's table name
                largest = cursor.fetchone()[0] or 0
                cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table.name])
                found = cursor.fetchone()
                self._next_id[table.name] = max(largest, found[0] if found else 0) + 1
        first = self._next_id[table.name]
        self._next_id[table.name] = first + count
        return list(range(first, first + count))

    def insert(self, table: Table, rows: Iterable[Sequence[Any]]) -> int:
        """Write the rows (values in `table.columns` order); returns how many were written."""
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
        if id(table) not in self._binary:
            self._binary[id(table)] = table.binary_types(connection)
        types = self._binary[id(table)]
        if types is None:
            return self._copy_text(table, columns, rows)
        constants = tuple(table.constants.values())
        count = 0
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN (FORMAT BINARY)') as copy,
        ):
            set_json_dumps(orjson.dumps, cursor.cursor)  # as the text format does: fast, and the same JSON
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
        return count

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
