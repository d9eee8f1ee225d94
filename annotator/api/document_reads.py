"""Fetching a document through the API: `GET /api/v1/articles/{id}/`, then `GET /api/v1/sets/{id}/`, each one
statement compiled once per process (prepared once per connection on PostgreSQL), no model instances.

The general paths cost about 6 million instructions each (bench/request_cost.py `article`, `set`): the
article's ModelSerializer built its fields on every request and the generic view its queryset; the set was
read as a model instance with its annotator, written by a ModelSerializer, then its spans and relations
were read as rows, made into dicts and encoded by the JSON renderer.

- The article is read as `values()` rows of its detail serializer's columns, within the projects the
  request reaches (`projects_for`), and shaped by `plain.represent` (the serializer's own fields).
- On PostgreSQL, the set's whole answer is written by the database in the statement that finds it: the
  set's readable rows (`set_reads.readable_sets`) with its fields, spans and relations each as
  `row_to_json` text, which writes keys in the order selected, whole numbers as digits, booleans as
  `true`/`false`, nulls as `null`, and strings escaped as Python's `json` escapes them without
  `ensure_ascii` (`"`, `\\`, `\\b\\f\\n\\r\\t`, other control characters as lowercase `\\u00XX`; nothing
  else): DRF's JSON renderer's bytes (U+2028 and U+2029 escaped over the whole answer as it does).
  `tests/unit/test_i28peers_document_reads.py` compares the two byte for byte, hostile text included.

The set's database-written answer holds only where the renderer's would be the same: PostgreSQL, the JSON
renderer chosen as it is (no indentation asked), aware date-times in UTC. A conditional GET (If-None-Match)
takes the general path, which reads the set alone and answers 304 without reading its contents.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connections, router
from django.db.models import Model, QuerySet, TextField
from django.db.models.expressions import RawSQL
from django.http import Http404
from django.utils import timezone
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request

from annotator.annotations.models import AnnotationSet, EntityLink, Relation, Span
from annotator.api import plain
from annotator.api.access import user_of
from annotator.api.annotation_serializers import ArticleDetailSerializer
from annotator.api.json_rows import WrittenResponse
from annotator.api.set_reads import readable_sets, token_project
from annotator.articles.models import Article
from annotator.core.compiled import Scope, project_scoped
from annotator.kb.models import KBEntity
from annotator.projects.models import EntityType, Project, RelationType

# Articles


def _reachable_articles(article_id: int, user_id: int) -> QuerySet[Article, dict[str, Any]]:
    """The article if it is in one of the user's projects (`projects_for` without a token's project), as
    its detail serializer's columns."""
    user = get_user_model()(pk=user_id)  # a stand-in: `visible_to` reads its id only
    articles = Article.objects.filter(project__in=Project.objects.visible_to(user), pk=article_id)
    return articles.order_by().values(*plain.columns(ArticleDetailSerializer))


@project_scoped("project_id")
def _article(article_id: int, user_id: int, in_scope: Scope) -> QuerySet[Article, dict[str, Any]]:
    return in_scope(_reachable_articles(article_id, user_id))


def article_data(request: Request, article_id: int) -> dict[str, Any]:
    """`ArticleDetailSerializer(article).data` of the article the request may read, else 404 (the message
    of `get_object_or_404` over `projects_for(request)`)."""
    found = _article(article_id=article_id, user_id=user_of(request).pk, project_id=token_project(request))
    if not found:
        raise Http404("No Article matches the given query.")
    return plain.represent(ArticleDetailSerializer, found)[0]


# Annotation sets: the answer written by PostgreSQL


def written_by_database(request: Request) -> bool:
    """Whether the set's answer to this request can be written by the database (see the module's text)."""
    return (
        type(getattr(request, "accepted_renderer", None)) is JSONRenderer
        and request.accepted_media_type == JSONRenderer.media_type
        and connections[router.db_for_read(AnnotationSet)].vendor == "postgresql"
        and settings.USE_TZ
        and timezone.get_current_timezone_name() == "UTC"
        and "HTTP_IF_NONE_MATCH" not in request.META
    )


def _quote(name: str) -> str:
    return connections[router.db_for_read(AnnotationSet)].ops.quote_name(name)  # type: ignore[no-any-return]


def _table(model: type[Model]) -> str:
    return _quote(model._meta.db_table)


def _column(model: type[Model], name: str, alias: str) -> str:
    """`alias`.column of the model's field `name`, quoted."""
    column = model._meta.get_field(name).column  # type: ignore[union-attr]  # a field of the table: has one
    assert column is not None
    return f"{alias}.{_quote(column)}"


def _select(expressions: dict[str, str], rest: str = "") -> str:
    """SELECT each expression under its key (the order is the JSON object's), then `rest` (FROM...)."""
    columns = ", ".join(f"{expression} AS {_quote(key)}" for key, expression in expressions.items())
    # Only the models' own tables and columns, quoted, go into this text; it takes no values.
    return f"SELECT {columns} {rest}"


def _object(select: str) -> str:
    """The one row of `select` as a JSON object (json: another row's object takes it as it is)."""
    return f"(SELECT row_to_json(r) FROM ({select}) r)"  # noqa: S608


def _objects(select: str, order: tuple[str, ...]) -> str:
    """The rows of `select` as JSON objects, comma-separated, in `order` (text; NULL for no rows)."""
    by = ", ".join(f"r.{_quote(key)}" for key in order)
    return f"(SELECT string_agg(row_to_json(r)::text, ',' ORDER BY {by}) FROM ({select}) r)"  # noqa: S608


def _join(model: type[Model], alias: str, on: str) -> str:
    return f"{_table(model)} {alias} ON {_column(model, 'id', alias)} = {on}"


def _set_sql() -> str:
    """`AnnotationSetSerializer`'s object of the outer query's set, as JSON text."""
    outer = _table(AnnotationSet)
    user = get_user_model()
    # DRF's DateTimeField in UTC: Python's isoformat (no fraction when the microseconds are zero: the
    # only ".000000" this format can hold is at its end) with `Z` for +00:00.
    written = f"to_char({_column(AnnotationSet, 'updated_at', outer)} AT TIME ZONE 'UTC', " \
              """'YYYY-MM-DD"T"HH24:MI:SS.US')"""  # fmt: skip
    username = _select(
        {"username": _column(user, user.USERNAME_FIELD, "u")},
        f"FROM {_table(user)} u WHERE {_column(user, 'id', 'u')} = {_column(AnnotationSet, 'annotator', outer)}",
    )
    return _object(_select({
        "id": _column(AnnotationSet, "id", outer),
        "article": _column(AnnotationSet, "article", outer),
        "kind": _column(AnnotationSet, "kind", outer),
        "name": _column(AnnotationSet, "name", outer),
        "annotator": f"({username})",
        "status": _column(AnnotationSet, "status", outer),
        "version": _column(AnnotationSet, "version", outer),
        "guideline_version": _column(AnnotationSet, "guideline_version", outer),
        "updated_at": f"replace({written}, '.000000', '') || 'Z'",
    }))  # fmt: skip


def _spans_sql() -> str:
    """`SpanSerializer`'s objects of the outer query's set's spans, comma-separated, by start, end, id."""
    link = _object(_select({
        "kb_entity": _column(EntityLink, "kb_entity", "l"),
        "kb_id": _column(KBEntity, "kb_id", "k"),
        "name": _column(KBEntity, "name", "k"),
        "nil": f"{_column(EntityLink, 'kb_entity', 'l')} IS NULL",
    }))  # fmt: skip
    spans = _select(
        {
            "id": _column(Span, "id", "s"),
            "start": _column(Span, "start", "s"),
            "end": _column(Span, "end", "s"),
            "type": _column(EntityType, "name", "t"),
            "entity_type": _column(Span, "entity_type", "s"),
            "text": _column(Span, "surface", "s"),
            # A JSON column goes into its row's object as it is: the link's object, or null.
            "link": f"CASE WHEN {_column(EntityLink, 'id', 'l')} IS NULL THEN NULL ELSE {link} END",
        },
        f"FROM {_table(Span)} s JOIN {_join(EntityType, 't', _column(Span, 'entity_type', 's'))} "
        f"LEFT JOIN {_table(EntityLink)} l ON {_column(EntityLink, 'span', 'l')} = {_column(Span, 'id', 's')} "
        f"LEFT JOIN {_join(KBEntity, 'k', _column(EntityLink, 'kb_entity', 'l'))} "
        f"WHERE {_column(Span, 'annotation_set', 's')} = {_column(AnnotationSet, 'id', _table(AnnotationSet))}",
    )
    return _objects(spans, order=("start", "end", "id"))


def _relations_sql() -> str:
    """`RelationSerializer`'s objects of the outer query's set's relations, comma-separated, by id."""
    relations = _select(
        {
            "id": _column(Relation, "id", "x"),
            "head": _column(Relation, "head", "x"),
            "tail": _column(Relation, "tail", "x"),
            "type": _column(RelationType, "name", "t"),
            "relation_type": _column(Relation, "relation_type", "x"),
        },
        f"FROM {_table(Relation)} x JOIN {_join(RelationType, 't', _column(Relation, 'relation_type', 'x'))} "
        f"WHERE {_column(Relation, 'annotation_set', 'x')} = {_column(AnnotationSet, 'id', _table(AnnotationSet))}",
    )
    return _objects(relations, order=("id",))


def _written(sets: QuerySet[AnnotationSet]) -> QuerySet[AnnotationSet, tuple[Any, ...]]:
    """The sets as (version, the set's JSON object without its closing brace, spans, relations)."""
    # The SQL names the models' own tables and columns, quoted; it takes no values.
    texts = {
        "set_json": RawSQL(f"{_set_sql()}::text", (), output_field=TextField()),  # noqa: S611
        "spans_json": RawSQL(_spans_sql(), (), output_field=TextField()),  # noqa: S611
        "relations_json": RawSQL(_relations_sql(), (), output_field=TextField()),  # noqa: S611
    }
    return sets.order_by().annotate(**texts).values_list("version", *texts)


@project_scoped("article__project_id")
def _set(set_id: int, user_id: int, in_scope: Scope) -> QuerySet[AnnotationSet, tuple[Any, ...]]:
    return _written(in_scope(readable_sets(set_id, user_id)))


def set_response(request: Request, set_id: int) -> WrittenResponse:
    """The answer of `GET /api/v1/sets/{id}/` (`written_by_database` must hold): the set the request may
    read (as `set_for_reading` finds it, else 404) with its spans and relations, and its ETag."""
    found = _set(set_id=set_id, user_id=user_of(request).pk, project_id=token_project(request))
    if not found:
        raise Http404("No AnnotationSet matches the given query.")
    version, set_json, spans, relations = found[0]
    body = f'{set_json[:-1]},"spans":[{spans or ""}],"relations":[{relations or ""}]}}'
    # As DRF's JSON renderer: these two are valid JSON, but not valid JavaScript.
    response = WrittenResponse(body.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").encode())
    response["ETag"] = f'"{version}"'
    return response
