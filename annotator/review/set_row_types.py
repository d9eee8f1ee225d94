"""The project's entity types and the set's counts of spans and relations, read as columns of the set's row.

The annotate page read them in a statement of their own (the types, each row carrying the counts): a
round trip and a compiled query's reading of a result, about a tenth of an open's CPU for three or four
rows. Here the set's query carries them: the types as one JSON text (`[[id, name, key], ...]` in the
pickers' order: position, then name, as the database orders them), the counts as two scalar subqueries.
JSON texts are read with `json.loads` on both databases (PostgreSQL's `json` cast to text, SQLite's
`json_group_array`), so the names come back exactly as stored.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, NamedTuple

from django.db.models import Expression, F, Func, IntegerField, OuterRef, QuerySet, Subquery, TextField

from annotator.annotations.models import AnnotationSet, Relation, Span
from annotator.projects.models import EntityType


class TypeWithCounts(NamedTuple):
    """What the annotate page shows of an entity type (its pickers and its help: id, name and key), with
    the set's counts of spans and relations, the same on every type's row."""

    pk: int
    name: str
    key: str
    n_spans: int | None
    n_relations: int | None


class CarriedTypes(NamedTuple):
    """The project's types (in the pickers' order) and the set's counts, as the set's row carried them."""

    types: list[TypeWithCounts]
    n_spans: int
    n_relations: int


class ProjectTypesJson(Expression):
    """The entity types of the project `project_id` (an expression of the outer query) as JSON text,
    `[[id, name, key], ...]` ordered by position then name; NULL or `[]` for a project without types."""

    def __init__(self, project_id: Any) -> None:
        super().__init__(output_field=TextField())
        self.project_id = project_id

    def get_source_expressions(self) -> list[Any]:
        return [self.project_id]

    def set_source_expressions(self, exprs: Sequence[Any]) -> None:
        (self.project_id,) = exprs

    def _columns(self, connection: Any, prefix: str = "") -> dict[str, str]:
        """The table's name and its columns' (behind `prefix`, a table alias), quoted."""
        meta = EntityType._meta
        quote = connection.ops.quote_name
        columns = {name: meta.get_field(name).column for name in ("id", "name", "key", "position", "project")}  # type: ignore[union-attr]
        return {"table": quote(meta.db_table)} | {name: prefix + quote(col) for name, col in columns.items()}

    def as_postgresql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        project, params = compiler.compile(self.project_id)
        c = self._columns(connection, prefix="page_type.")
        row = f"json_build_array({c['id']}, {c['name']}, {c['key']})"
        ordered = f"ORDER BY {c['position']}, {c['name']}"
        where = f"{c['project']} = {project}"
        # Column names quoted from the model, the outer column compiled by Django: no value in the text.
        sql = f"(SELECT json_agg({row} {ordered})::text FROM {c['table']} page_type WHERE {where})"  # noqa: S608
        return sql, list(params)

    def as_sqlite(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        # SQLite before 3.44 has no ORDER BY inside an aggregate: an ordered subquery feeds it, which
        # SQLite does not flatten into an aggregate query, so the rows reach it in that order.
        project, params = compiler.compile(self.project_id)
        c = self._columns(connection)
        columns = f"{c['id']}, {c['name']}, {c['key']}"
        ordered = f"ORDER BY {c['position']}, {c['name']}"
        where = f"{c['project']} = {project}"
        rows = f"SELECT {columns} FROM {c['table']} WHERE {where} {ordered}"  # noqa: S608 - as above
        sql = f"(SELECT json_group_array(json_array({columns})) FROM ({rows}))"  # noqa: S608 - as above
        return sql, list(params)

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, Any]:
        raise NotImplementedError(f"No JSON aggregate for {connection.vendor}.")


def _count(rows: QuerySet[Any]) -> Subquery:
    return Subquery(
        rows.order_by().annotate(n=Func(F("pk"), function="COUNT")).values("n")[:1],
        output_field=IntegerField(),
    )


def with_types_and_counts(sets: QuerySet[AnnotationSet]) -> QuerySet[AnnotationSet]:
    """The sets, each carrying its project's types (`page_types`) and its counts (`page_n_spans`,
    `page_n_relations`): read back with `carried_types`."""
    return sets.annotate(
        page_types=ProjectTypesJson(F("article__project_id")),
        page_n_spans=_count(Span.objects.filter(annotation_set_id=OuterRef("pk")).values("annotation_set")),
        page_n_relations=_count(
            Relation.objects.filter(annotation_set_id=OuterRef("pk")).values("annotation_set")
        ),
    )


def carried_types(annotation_set: AnnotationSet) -> CarriedTypes | None:
    """The types and counts the set's row carried (`with_types_and_counts`); None if it carried none."""
    found = getattr(annotation_set, "page_types", ...)
    if found is ...:
        return None
    n_spans = int(annotation_set.page_n_spans or 0)  # type: ignore[attr-defined]
    n_relations = int(annotation_set.page_n_relations or 0)  # type: ignore[attr-defined]
    types = [
        TypeWithCounts(pk, name, key, n_spans, n_relations) for pk, name, key in json.loads(found or "[]")
    ]
    return CarriedTypes(types, n_spans, n_relations)
