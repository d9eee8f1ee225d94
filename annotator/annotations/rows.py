"""Writing one new row with its history row in one round trip, as the hot write paths need.

`Model.save()` on a model with `HistoricalRecords` costs two INSERTs and, in Python, Django's save
machinery plus django-simple-history's signal handler (which builds a history model instance and saves
that too): about half of the CPU of creating a span or recording a decision. `insert_with_history`
writes exactly the same two rows (the history row as simple-history writes it for a creation: type
"+", the user, no change reason) from SQL built once per model and database:

- PostgreSQL: one statement, `WITH new AS (INSERT ... ON CONFLICT DO NOTHING RETURNING id) INSERT INTO
  history SELECT ... FROM new`: both rows or neither;
- SQLite: the same two INSERTs one after the other (in the caller's transaction).

`ON CONFLICT DO NOTHING` makes a row that a unique constraint refuses (the same span twice, a second
decision on one suggestion) come back as `False` instead of an IntegrityError that would abort the
transaction: the caller says why, and its transaction rolls back whatever it wrote before (its claim of
the set's version, in an earlier statement).

The guarded form (`insert_with_history_if`) writes the claim in the same statement as the row, so it has
no `DO NOTHING`: a row written under the same unique key after the statement's snapshot (which the
guard's own "no such row yet" condition cannot see) would otherwise leave the claim written for no row.
The unique key's error fails the statement whole instead, and, in autocommit, comes back as `False`
with nothing written, as a duplicate the guard found does.

The app has no other `post_save` receivers on these models (the history was the only one); a model
whose history does not have exactly the model's own columns plus simple-history's four is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import IntegrityError, connections, router
from django.utils import timezone

from annotator.core.prepared import prepared_cursor

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django.db.models import Field, Model

# PostgreSQL's SQLSTATE for a unique key's refusal.
_UNIQUE_VIOLATION = "23505"

# The columns simple-history adds to a model's own in its history table (besides its own key).
_HISTORY_COLUMNS = ("history_date", "history_change_reason", "history_type", "history_user")


@dataclass(frozen=True)
class _Statements:
    fields: tuple[Field, ...]  # the model's columns written, its key left out
    history_fields: tuple[Field, ...]  # the history's copies of the model's columns, its key left out
    # Whether each copy is of its column's own field class (simple-history copies fields): a copy then
    # prepares a value for the database as its column does, and the row's prepared values serve both.
    same_preparation: bool
    combined: str | None  # PostgreSQL: both rows in one statement
    guarded: str | None  # PostgreSQL: the same, if a guard statement (an UPDATE ... RETURNING) gives a row
    row: str  # SQLite: the row, returning its key
    history: str  # SQLite: its history row


_statements: dict[tuple[type[Model], str], _Statements] = {}
_GUARD = "\x1fguard\x1f"


def _build(model: type[Model], vendor: str, quote: Any) -> _Statements:
    history_model = model.history.model  # type: ignore[attr-defined]
    pk = model._meta.pk
    assert pk is not None
    fields = tuple(f for f in model._meta.concrete_fields if f is not pk)
    own = {f.attname for f in model._meta.concrete_fields}
    copies = {f.attname: f for f in history_model._meta.concrete_fields if f.name not in _HISTORY_COLUMNS}
    copies.pop("history_id")
    if set(copies) != own:
        raise TypeError(f"{history_model.__name__} does not copy exactly the columns of {model.__name__}.")
    history_fields = tuple(copies[f.attname] for f in fields)
    same_preparation = all(type(copy) is type(f) for copy, f in zip(history_fields, fields, strict=True))
    table, history_table = quote(model._meta.db_table), quote(history_model._meta.db_table)
    key = quote(pk.column)
    columns = ", ".join(quote(f.column) for f in fields)
    history_columns = ", ".join(
        [key, *(quote(f.column) for f in history_fields), *(quote(c) for c in ("history_date",
         "history_change_reason", "history_type", "history_user_id"))]
    )  # fmt: skip
    values = ", ".join(["%s"] * len(fields))
    # Names from the models' own metadata, quoted; every value is a parameter.
    row = f"INSERT INTO {table} ({columns}) VALUES ({values}) ON CONFLICT DO NOTHING RETURNING {key}"  # noqa: S608
    history_values = ", ".join(["%s"] * (len(fields) + 4))
    history = f"INSERT INTO {history_table} ({history_columns}) VALUES (%s, {history_values})"  # noqa: S608
    combined = guarded = None
    if vendor == "postgresql":
        guarded = (
            f'WITH "guard" AS ({_GUARD}), "new" AS (INSERT INTO {table} ({columns}) '  # noqa: S608
            f'SELECT {values} FROM "guard" RETURNING {key}) '
            f"INSERT INTO {history_table} ({history_columns}) "
            f'SELECT "new".{key}, {history_values} FROM "new" RETURNING {key}'
        )
        combined = (
            f'WITH "new" AS ({row}) INSERT INTO {history_table} ({history_columns}) '  # noqa: S608
            f'SELECT "new".{key}, {history_values} FROM "new" RETURNING {key}'
        )
    return _Statements(fields, history_fields, same_preparation, combined, guarded, row, history)


def insert_with_history(instance: Model, *, by: User | None) -> bool:
    """INSERT the new `instance` and its history row ("+", by `by`); fills in its key and timestamps.
    False, and nothing written, when a unique constraint already has such a row."""
    return _insert(instance, by, None)


def insert_with_history_if(guard: tuple[str, list[Any]], instance: Model, *, by: User | None) -> bool:
    """PostgreSQL: as `insert_with_history`, in one statement with `guard`, a data-changing statement
    (`UPDATE ... RETURNING ...`) that the rows are written after, and only if it returns a row: both
    happen, or neither. False when nothing was written: the guard returned no row, or (in autocommit)
    a unique key refused the row, one written after the statement's snapshot, and the statement failed
    whole. In a caller's transaction that error is raised: the transaction is aborted, and its atomic
    block undoes it (no request runs in one)."""
    try:
        return _insert(instance, by, guard)
    except IntegrityError as error:
        connection = connections[router.db_for_write(type(instance))]
        if getattr(error.__cause__, "sqlstate", None) != _UNIQUE_VIOLATION or connection.in_atomic_block:
            raise
        return False  # autocommit: the statement was its own transaction, undone whole


def _insert(instance: Model, by: User | None, guard: tuple[str, list[Any]] | None) -> bool:
    model = type(instance)
    alias = router.db_for_write(model)
    connection = connections[alias]
    if not getattr(settings, "SIMPLE_HISTORY_ENABLED", True):
        raise RuntimeError("insert_with_history writes history: SIMPLE_HISTORY_ENABLED is off.")
    statements = _statements.get((model, alias))
    if statements is None:
        statements = _build(model, connection.vendor, connection.ops.quote_name)
        _statements[(model, alias)] = statements
    raw = [field.pre_save(instance, True) for field in statements.fields]  # auto_now(_add) timestamps
    values = [
        field.get_db_prep_save(value, connection) for field, value in zip(statements.fields, raw, strict=True)
    ]
    copied = (
        values
        if statements.same_preparation
        else [f.get_db_prep_save(v, connection) for f, v in zip(statements.history_fields, raw, strict=True)]
    )
    history_values = [
        *copied,
        connection.ops.adapt_datetimefield_value(getattr(instance, "_history_date", None) or timezone.now()),
        getattr(instance, "_change_reason", None),
        "+",
        by.pk if by is not None else None,
    ]  # fmt: skip
    with prepared_cursor(connection) as cursor:
        if guard is not None:
            if statements.guarded is None:
                raise RuntimeError("A guarded INSERT is PostgreSQL's.")
            cursor.execute(
                statements.guarded.replace(_GUARD, guard[0]), [*guard[1], *values, *history_values]
            )
            found = cursor.fetchone()
        elif statements.combined is not None:
            cursor.execute(statements.combined, [*values, *history_values])
            found = cursor.fetchone()
        else:
            cursor.execute(statements.row, values)
            found = cursor.fetchone()
            if found is not None:
                cursor.execute(statements.history, [found[0], *history_values])
    if found is None:
        return False
    instance.pk = found[0]
    instance._state.adding = False
    instance._state.db = alias
    return True


@dataclass(frozen=True)
class RowParts:
    """What a statement that writes a row and its history among others needs (see `row_parts`)."""

    table: str
    columns: str  # the row's columns, quoted, its key left out
    values: list[Any]  # their values, prepared for the database, in that order
    history: str  # `INSERT INTO <history> (...) SELECT <r>.<key>, <r>.<column>..., %s, %s, '+', %s FROM <r>`
    history_values: list[Any]  # its three parameters: the date, no change reason, the user
    column_names: tuple[str, ...]  # the columns' names, unquoted, in order


# The SQL text of `row_parts` per (model, database alias, source): it depends on nothing else.
_parts_sql: dict[tuple[type[Model], str, str], tuple[str, str, str, tuple[str, ...]]] = {}


def row_parts(instance: Model, *, by: User | None, source: str) -> RowParts:
    """The parts of `insert_with_history`'s statement, for a statement that writes this row with others
    (its timestamps filled in): the history row copies the row from `source`, a CTE that returns it
    (`INSERT ... RETURNING *`)."""
    model = type(instance)
    connection = connections[router.db_for_write(model)]
    statements = _statements.get((model, connection.alias))
    if statements is None:
        statements = _build(model, connection.vendor, connection.ops.quote_name)
        _statements[(model, connection.alias)] = statements
    sql = _parts_sql.get((model, connection.alias, source))
    if sql is None:
        sql = _parts_sql[(model, connection.alias, source)] = _parts_text(
            model, statements, connection, source
        )
    table, columns, history, column_names = sql
    raw = [field.pre_save(instance, True) for field in statements.fields]
    return RowParts(
        table=table,
        columns=columns,
        values=[f.get_db_prep_save(v, connection) for f, v in zip(statements.fields, raw, strict=True)],
        history=history,
        history_values=[
            connection.ops.adapt_datetimefield_value(timezone.now()),
            getattr(instance, "_change_reason", None),
            by.pk if by is not None else None,
        ],
        column_names=column_names,
    )


def _parts_text(
    model: type[Model], statements: _Statements, connection: Any, source: str
) -> tuple[str, str, str, tuple[str, ...]]:
    """`row_parts`' table, columns, history statement and column names."""
    quote: Any = connection.ops.quote_name
    history = _history_copy(model, statements, quote, source, ("%s", "%s", "%s"))
    return (
        quote(model._meta.db_table),
        ", ".join(quote(f.column) for f in statements.fields),
        history,
        tuple(str(f.column) for f in statements.fields),
    )


def _history_copy(
    model: type[Model], statements: _Statements, quote: Any, source: str, values: tuple[str, str, str]
) -> str:
    """`INSERT INTO <history> (...) SELECT <source>.<key>, <source>.<column>..., <date>, <reason>, '+',
    <user> FROM <source>`, the three `values` SQL expressions."""
    history_model = model.history.model  # type: ignore[attr-defined]
    pk = model._meta.pk
    assert pk is not None
    copied = ", ".join(f"{source}.{quote(f.column)}" for f in (pk, *statements.fields))
    columns = ", ".join(quote(f.column) for f in (pk, *statements.history_fields))
    date, reason, user = values
    return (
        f"INSERT INTO {quote(history_model._meta.db_table)} ({columns}, {quote('history_date')}, "  # noqa: S608
        f"{quote('history_change_reason')}, {quote('history_type')}, {quote('history_user_id')}) "
        f"SELECT {copied}, {date}, {reason}, '+', {user} FROM {source}"
    )


def history_insert(model: type[Model], connection: Any, source: str) -> str:
    """The history rows ("+", as simple-history writes a creation: no change reason) of the rows `source`
    returns (a CTE's `INSERT ... RETURNING *`), for a statement with named parameters: the date is
    `%(now)s`, the user `%(user)s`."""
    statements = _statements.get((model, connection.alias))
    if statements is None:
        statements = _statements[(model, connection.alias)] = _build(
            model, connection.vendor, connection.ops.quote_name
        )
    quote = connection.ops.quote_name
    return _history_copy(model, statements, quote, source, ("%(now)s", "NULL", "%(user)s::integer"))
