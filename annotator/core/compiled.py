"""Hot querysets built and compiled to SQL once per process, then run with new values.

Django builds a queryset (filter, annotate, Q objects, subqueries) and compiles it to SQL on every
request. For the few querysets the busiest pages run on every request, that Python work costs more than
the database does answering them (profiles of the annotate page: about half of its CPU). A
`CompiledQuery` builds its queryset once, with a placeholder for each value that changes between calls
(ids), compiles it, and keeps the SQL and Django's description of the result columns. A call binds its
values in the placeholders' places and reads the rows through Django's own iterables, so the result is
exactly what the queryset would give: model instances with `select_related` objects and annotations, or
`values()` rows.

The values that vary are whole numbers (ids) and strings (names), as the build function's annotations
say (`int` or `str`). The placeholders are integers no id takes and strings no name holds; compiling
refuses a queryset that writes one into the SQL text instead of passing it as a parameter, or drops
one. The SQL is kept per database alias. A queryset whose shape depends on the values (a list of ids,
an empty `IN`, a user who may be anonymous) cannot be compiled this way and must not be.

On PostgreSQL the SQL also runs as a prepared statement of the pooled connection (`core.prepared`, unless
ANNOTATOR_DB_PREPARED is off): PostgreSQL parses and plans it once per connection instead of on every
request, which was half of the database's CPU for the annotate page and more than running the reads of
the hot writes. Only these statements (and the writes' own, through `prepared_cursor`) are prepared;
every other query keeps Django's client-side binding.
"""

from __future__ import annotations

import copy
import inspect
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.db import connections, router
from django.db.models import Model, QuerySet

from annotator.core.prepared import prepared_cursor

Row = TypeVar("Row")

# The placeholders a queryset is built with, one per argument: a string no name holds, or an integer
# that an integer column holds (Django finds nothing, without asking, for a value outside a column's
# range) but that no query of ours has as a constant.
_PLACEHOLDER_BASE = 1_987_654_321


def _placeholder(index: int, kind: type) -> int | str:
    return _PLACEHOLDER_BASE - index if kind is int else f"\x1fplaceholder {index}\x1f"


def _kind(param: object) -> type:
    return int if isinstance(param, int) and not isinstance(param, bool) else type(param)


def _bound(placeholder: object, value: int | str) -> object:
    """The value as the placeholder was passed: the PostgreSQL backend wraps some integers in a type
    (psycopg's Int4, so that PostgreSQL knows the parameter's type); the value keeps that wrapper."""
    kind: Callable[[int | str], object] = type(placeholder)
    return value if kind in (int, str) else kind(value)


def _fits(placeholder: object, value: int | str) -> bool:
    """Whether the parameter's column type holds the value: a 4-byte integer where the PostgreSQL backend
    wrapped the placeholder in psycopg's Int4, else an 8-byte one (SQLite's and PostgreSQL's bigint)."""
    if not isinstance(value, int):
        return True
    bits = 32 if type(placeholder).__name__ == "Int4" else 64
    return -(2 ** (bits - 1)) <= value < 2 ** (bits - 1)


@dataclass(frozen=True)
class _Compiled:
    queryset: QuerySet[Any]
    compiler: Any  # the SQLCompiler that compiled it: its select, klass_info and converters read the rows
    sql: str
    params: tuple[Any, ...]
    slots: tuple[str | None, ...]  # for each parameter, the argument it takes, or None (a constant)
    # The compiler's converters per list of result columns (by the columns' identity): which columns need
    # converting, and how, is the query's, not the values'; working it out cost about a tenth of a call.
    converters: dict[tuple[int, ...], Any] = field(default_factory=dict)


class CompiledQuery(Generic[Row]):
    """`build(**ids)` -> a queryset; calling this object with the same keyword ids returns its rows."""

    def __init__(self, build: Callable[..., QuerySet[Any, Row]]) -> None:
        self.build = build
        parameters = inspect.signature(build).parameters.values()
        self.names = tuple(parameter.name for parameter in parameters)
        self.kinds = {
            parameter.name: str if parameter.annotation in (str, "str") else int for parameter in parameters
        }
        self._model: type[Model] | None = None
        self._compiled: dict[str, _Compiled] = {}
        self._lock = threading.Lock()

    def __call__(self, **ids: int | str) -> list[Row]:
        if set(ids) != set(self.names):
            raise TypeError(f"{self.build.__name__} takes {', '.join(self.names)}; got {', '.join(ids)}.")
        for name, value in ids.items():
            if type(value) is not self.kinds[name]:
                wanted = "a whole number" if self.kinds[name] is int else "a string"
                raise TypeError(f"{name} must be {wanted}, not {value!r}.")
        compiled, alias = self._compile()
        pairs = list(zip(compiled.params, compiled.slots, strict=True))
        if not all(slot is None or _fits(param, ids[slot]) for param, slot in pairs):
            # A number no column of that type can hold (an id of 2**63 in a URL): Django's own lookups know
            # what that means (no row, or every row under a NOT), where the database would refuse to bind it.
            return list(self.build(**ids))
        params = tuple(param if slot is None else _bound(param, ids[slot]) for param, slot in pairs)
        compiler = copy.copy(compiled.compiler)
        compiler.connection = self._connection(alias)  # this thread's connection, not the compiling one's
        compiler.as_sql = lambda *args, **kwargs: (compiled.sql, params)
        compiler.get_converters = partial(_kept_converters, compiled, compiler)
        if compiled.queryset._prefetch_related_lookups:  # type: ignore[attr-defined]
            queryset = compiled.queryset._chain()  # type: ignore[attr-defined]
            queryset.query.get_compiler = lambda *args, **kwargs: compiler
            return list(queryset)  # the queryset's own evaluation, which prefetches
        # The queryset's own iterable (model instances, values...) over this call's compiler, as `list(queryset)`
        # without a copy of the queryset and its query (a tenth of a call; the compiler reads the query only).
        iterable: Any = compiled.queryset._iterable_class  # type: ignore[attr-defined]
        return list(iterable(_ThisCall(compiled.queryset, compiler, alias)))

    def _connection(self, alias: str) -> Any:
        connection = connections[alias]
        if connection.vendor == "postgresql" and settings.ANNOTATOR_DB_PREPARED:
            return _PreparingConnection(connection)
        return connection

    def sql(self) -> str:
        """The compiled SQL (with %s placeholders), for tests and EXPLAIN."""
        return self._compile()[0].sql

    def _compile(self) -> tuple[_Compiled, str]:
        if self._model is not None:
            alias = router.db_for_read(self._model)
            if (compiled := self._compiled.get(alias)) is not None:
                return compiled, alias
        with self._lock:
            probe = self.build(**self._placeholders())
            self._model, alias = probe.model, probe.db
            compiled = self._compiled.get(alias) or self._compile_now(probe)
            self._compiled[alias] = compiled
        return compiled, alias

    def _placeholders(self) -> dict[str, int | str]:
        return {name: _placeholder(i, self.kinds[name]) for i, name in enumerate(self.names)}

    def _compile_now(self, queryset: QuerySet[Any]) -> _Compiled:
        placeholders = {(_kind(value), value): name for name, value in self._placeholders().items()}
        compiler = queryset.query.get_compiler(using=queryset.db)
        sql, params = compiler.as_sql()
        slots = tuple(
            placeholders.get((_kind(param), param)) if isinstance(param, int | str) else None
            for param in params
        )
        for (_, value), name in placeholders.items():
            if str(value).strip("\x1f") in sql:
                raise ValueError(f"{self.build.__name__}: {name} went into the SQL text, not a parameter.")
            if name not in slots:
                raise ValueError(f"{self.build.__name__}: {name} is not a parameter of the SQL.")
        return _Compiled(queryset, compiler, sql, tuple(params), slots)


class _ThisCall:
    """The compiled queryset as its iterable reads it for one call: its database, and its query, whose
    compiler is this call's; everything else is the queryset's own."""

    def __init__(self, queryset: QuerySet[Any], compiler: Any, alias: str) -> None:
        self._queryset = queryset
        self.query = _ThisCallsQuery(queryset.query, compiler)
        self.db = alias

    def __getattr__(self, name: str) -> Any:
        return getattr(self._queryset, name)


class _ThisCallsQuery:
    """A compiled query whose compiler is one call's."""

    def __init__(self, query: Any, compiler: Any) -> None:
        self._query = query
        self._compiler = compiler

    def get_compiler(self, *args: Any, **kwargs: Any) -> Any:
        return self._compiler

    def __getattr__(self, name: str) -> Any:
        return getattr(self._query, name)


_KEPT_CONVERTER_LISTS = 8  # per compiled query: a query reads its columns in one or two ways


def _kept_converters(compiled: _Compiled, compiler: Any, expressions: list[Any]) -> Any:
    """`compiler.get_converters(expressions)`, worked out once per compiled query and list of columns."""
    key = tuple(map(id, expressions))
    found = compiled.converters.get(key)
    if found is None:
        found = type(compiler).get_converters(compiler, expressions)
        if len(compiled.converters) < _KEPT_CONVERTER_LISTS:  # columns made afresh per call: not kept
            compiled.converters[key] = found
    return found


class _PreparingConnection:
    """The connection as the compiler sees it, its cursors `prepared_cursor`s."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection

    def cursor(self) -> Any:
        return prepared_cursor(self._connection)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)


Scope = Callable[[QuerySet[Any, Any]], QuerySet[Any, Any]]


class ProjectScoped(Generic[Row]):
    """A hot read in two compiled forms: for any project the user may read, and limited to one project
    (an API token limited to a project). Call it with the ids and `project_id` (None: any project).

    The build takes the ids and `in_scope`, which it applies to the queryset the project filter belongs
    on: as it is for the first form, filtered by `path` (the lookup of the project's id) for the other.
    Two statements, each compiled and prepared once, rather than one with an "any project" value, whose
    one generic plan would serve neither well."""

    def __init__(self, path: str, build: Callable[..., QuerySet[Any, Row]]) -> None:
        parameters = [p for p in inspect.signature(build).parameters.values() if p.name != "in_scope"]
        if any(p.name == "project_id" for p in parameters):
            raise TypeError(f"{build.__name__} must not take project_id: the scoped form adds it.")

        def anywhere(**ids: int | str) -> QuerySet[Any, Row]:
            return build(**ids, in_scope=_as_it_is)

        def in_project(**ids: int | str) -> QuerySet[Any, Row]:
            project_id = ids.pop("project_id")
            return build(**ids, in_scope=lambda queryset: queryset.filter(**{path: project_id}))

        project = inspect.Parameter("project_id", inspect.Parameter.KEYWORD_ONLY, annotation=int)
        for form, extra, suffix in ((anywhere, [], ""), (in_project, [project], "_in_project")):
            form.__name__ = form.__qualname__ = f"{build.__name__}{suffix}"
            form.__signature__ = inspect.Signature(parameters + extra)  # type: ignore[attr-defined]
        self.anywhere: CompiledQuery[Row] = CompiledQuery(anywhere)
        self.in_project: CompiledQuery[Row] = CompiledQuery(in_project)

    def __call__(self, *, project_id: int | None, **ids: int | str) -> list[Row]:
        if project_id is None:
            return self.anywhere(**ids)
        return self.in_project(project_id=project_id, **ids)


def project_scoped(path: str) -> Callable[[Callable[..., QuerySet[Any, Row]]], ProjectScoped[Row]]:
    """`@project_scoped("article__project_id")` over a build that takes `in_scope` (see ProjectScoped)."""
    return partial(ProjectScoped, path)


def _as_it_is(queryset: QuerySet[Any, Any]) -> QuerySet[Any, Any]:
    return queryset
