"""What a write to an annotation set reads before it writes: the set, if the caller may edit it, with what
the write needs, in one query compiled once per process and prepared once per connection.

A new span's entity type (by the name the body gives) and the suggestion a decision is about come with the
set, so that creating a span or deciding on an entity suggestion costs one read and one write statement
(PostgreSQL; `annotations.editing.add_span_at_once`, `suggestions.services`). The answers are those of
their own look-ups (`named`, `_suggestion_in`): the same objects found, the same errors.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import router
from django.db.models import JSONField, OuterRef, QuerySet, Subquery
from django.db.models.functions import JSONObject
from django.http import Http404
from rest_framework import exceptions
from rest_framework.request import Request

from annotator.annotations.editing import with_editing_facts
from annotator.annotations.models import AnnotationSet
from annotator.api.access import check_can_edit, token_of, user_of
from annotator.articles.models import Article
from annotator.core.compiled import CompiledQuery, Scope, project_scoped
from annotator.projects.models import EntityType, Membership, Project, RelationType
from annotator.suggestions.models import Suggestion, SuggestionKind


def named(model: type[EntityType] | type[RelationType], project_id: int, name: str, field: str) -> Any:
    """The project's entity or relation type called `name`; a 400 naming `field` if it has none."""
    by_name = _entity_type_named if model is EntityType else _relation_type_named
    found = next(iter(by_name(project_id=project_id, name=name)), None)
    if found is None:
        raise _no_such(model, name, field)
    return found


def _no_such(
    model: type[EntityType] | type[RelationType], name: str, field: str
) -> exceptions.ValidationError:
    return exceptions.ValidationError(
        {field: [f"This project has no {model._meta.verbose_name} named {name!r}."]}
    )


@CompiledQuery
def _entity_type_named(project_id: int, name: str) -> QuerySet[EntityType]:
    return EntityType.objects.filter(project_id=project_id, name=name).order_by()[:1]


@CompiledQuery
def _relation_type_named(project_id: int, name: str) -> QuerySet[RelationType]:
    return RelationType.objects.filter(project_id=project_id, name=name).order_by()[:1]


@CompiledQuery
def _suggestion_in(project_id: int, suggestion_id: int) -> QuerySet[Suggestion]:
    """A suggestion of the project, with what a decision on it reads (as `in_project` would find it)."""
    suggestions = Suggestion.objects.filter(article__project_id=project_id, pk=suggestion_id)
    related = suggestions.select_related("entity_type", "tail_entity_type", "relation_type", "kb_entity")
    return related.order_by()[:1]


def token_project(request: Request) -> int | None:
    """The one project the request's token is limited to, if it is (None: a session, or any project)."""
    token = token_of(request)
    return None if token is None else token.project_id


def readable_sets(set_id: int, user_id: int) -> QuerySet[AnnotationSet]:
    """`visible_sets` of a user (by id), the set `set_id` only."""
    user = get_user_model()(pk=user_id)  # a stand-in: the filters read its id only
    projects = Project.objects.visible_to(user)
    return AnnotationSet.objects.readable_by(user).filter(article__project__in=projects, pk=set_id)


@project_scoped("article__project_id")
def _readable_set(set_id: int, user_id: int, in_scope: Scope) -> QuerySet[AnnotationSet]:
    return in_scope(readable_sets(set_id, user_id)).select_related("annotator").order_by()


def set_for_reading(request: Request, set_id: int) -> AnnotationSet:
    """The set if the request may read it (as `visible_sets(request)` finds it), with its annotator."""
    found = _readable_set(set_id=set_id, user_id=user_of(request).pk, project_id=token_project(request))
    if not found:
        raise Http404("No AnnotationSet matches the given query.")
    return found[0]


def _member_sets(set_id: int, user_id: int) -> QuerySet[AnnotationSet]:
    """`visible_sets` of a user (by id) with the role, as `set_for_writing` reads it."""
    sets = readable_sets(set_id, user_id)
    role = Membership.objects.filter(project=OuterRef("article__project_id"), user_id=user_id)
    # With the article and the project's span rules: the span checks of the write read nothing more.
    return with_editing_facts(sets.annotate(my_role=Subquery(role.order_by().values("role")[:1])).order_by())


# The set's read gives plain rows (a tuple each), which `_from_row` makes into the set with its article
# and its annotations, the objects `with_editing_facts` gives: Django's model iterable over a joined row
# (its populators, converters and setters) cost about a quarter of a write's read, here a tenth.
_SET_COLUMNS = tuple(f.attname for f in AnnotationSet._meta.concrete_fields)
_ARTICLE_COLUMNS = tuple(f.attname for f in Article._meta.concrete_fields)
_FACTS = ("my_role", "project_allow_overlapping_spans", "project_trim_span_whitespace")


def _as_rows(sets: QuerySet[AnnotationSet], *extra: str) -> QuerySet[AnnotationSet, tuple[Any, ...]]:
    """The sets as tuples: the set's columns, its article's, `_FACTS` and `extra` (annotations)."""
    article = tuple(f"article__{column}" for column in _ARTICLE_COLUMNS)
    return sets.values_list(*_SET_COLUMNS, *article, *_FACTS, *extra)


def _from_row(row: tuple[Any, ...], database: str, extra: tuple[str, ...]) -> AnnotationSet:
    """The set of an `_as_rows` row, with its article cached and its annotations set, as the model
    iterable of `_member_sets` makes it."""
    split = len(_SET_COLUMNS)
    after = split + len(_ARTICLE_COLUMNS)
    annotation_set = AnnotationSet.from_db(database, _SET_COLUMNS, row[:split])
    article = Article.from_db(database, _ARTICLE_COLUMNS, row[split:after])
    AnnotationSet.article.field.set_cached_value(annotation_set, article)  # type: ignore[attr-defined]
    for name, value in zip((*_FACTS, *extra), row[after:], strict=True):
        setattr(annotation_set, name, value)
    return annotation_set


def _with_type_named(sets: QuerySet[AnnotationSet], name: str) -> QuerySet[AnnotationSet]:
    """The sets with `named_type_id`: the id of their project's entity type called `name`, or None."""
    types = EntityType.objects.filter(project_id=OuterRef("article__project_id"), name=name).order_by()
    return sets.annotate(named_type_id=Subquery(types.values("pk")[:1]))


# What deciding on an entity suggestion reads of it and its type (`suggestion_about`).
_SUGGESTION_FACTS = JSONObject(
    id="pk", article_id="article_id", kind="kind", start="start", end="end", type_id="entity_type_id",
    type_name="entity_type__name", type_project_id="entity_type__project_id",
)  # fmt: skip


def _with_suggestion(sets: QuerySet[AnnotationSet], suggestion_id: int) -> QuerySet[AnnotationSet]:
    """The sets with `suggestion_facts`: the suggestion `suggestion_id` of their project (as `_suggestion_in`
    finds it), as a JSON object of `_SUGGESTION_FACTS`, or None."""
    found = Suggestion.objects.filter(pk=suggestion_id, article__project_id=OuterRef("article__project_id"))
    facts = found.order_by().annotate(facts=_SUGGESTION_FACTS).values("facts")[:1]
    return sets.annotate(suggestion_facts=Subquery(facts, output_field=JSONField()))


@project_scoped("article__project_id")
def _member_set(set_id: int, user_id: int, in_scope: Scope) -> QuerySet[AnnotationSet, tuple[Any, ...]]:
    return _as_rows(in_scope(_member_sets(set_id, user_id)))


@project_scoped("article__project_id")
def _member_set_typed(
    set_id: int, user_id: int, type_name: str, in_scope: Scope
) -> QuerySet[AnnotationSet, tuple[Any, ...]]:
    return _as_rows(_with_type_named(in_scope(_member_sets(set_id, user_id)), type_name), "named_type_id")


@project_scoped("article__project_id")
def _member_set_deciding(
    set_id: int, user_id: int, suggestion_id: int, in_scope: Scope
) -> QuerySet[AnnotationSet, tuple[Any, ...]]:
    sets = in_scope(_member_sets(set_id, user_id))
    return _as_rows(_with_suggestion(sets, suggestion_id), "suggestion_facts")


def set_for_writing(
    request: Request, set_id: int, *, type_name: str | None = None, suggestion_id: int | None = None
) -> AnnotationSet:
    """The set, if the request may read it (as `with_role(visible_sets(request))`), and may edit it; with
    `type_name`, also its project's entity type of that name (`type_named`), with `suggestion_id` the
    suggestion of its project (`suggestion_about`)."""
    project_id = token_project(request)
    user_id = user_of(request).pk
    extra: tuple[str, ...]
    if type_name is not None:
        found = _member_set_typed(set_id=set_id, user_id=user_id, type_name=type_name, project_id=project_id)
        extra = ("named_type_id",)
    elif suggestion_id is not None:
        found = _member_set_deciding(
            set_id=set_id, user_id=user_id, suggestion_id=suggestion_id, project_id=project_id
        )
        extra = ("suggestion_facts",)
    else:
        found = _member_set(set_id=set_id, user_id=user_id, project_id=project_id)
        extra = ()
    if not found:
        raise Http404("No AnnotationSet matches the given query.")
    annotation_set = _from_row(found[0], router.db_for_read(AnnotationSet), extra)
    check_can_edit(request, annotation_set)
    return annotation_set


def type_named(annotation_set: AnnotationSet, name: str) -> EntityType:
    """The set's project's entity type called `name` (as `named` finds it): read with the set when it was
    (`set_for_writing(type_name=...)`: its id, project and name, its other fields read if asked for)."""
    if not hasattr(annotation_set, "named_type_id"):
        return named(EntityType, annotation_set.article.project_id, name, "type")
    if annotation_set.named_type_id is None:
        raise _no_such(EntityType, name, "type")
    values = (annotation_set.named_type_id, annotation_set.article.project_id, name)
    return EntityType.from_db(annotation_set._state.db, ["id", "project_id", "name"], values)


def suggestion_about(annotation_set: AnnotationSet, suggestion_id: object) -> Suggestion:
    """The suggestion of the set's project a decision is about (as `_suggestion_in` finds it), or 404: an
    entity suggestion read with the set (`set_for_writing(suggestion_id=...)`) comes from that read, with
    its entity type (its other fields read if asked for); any other is read with all it relates to."""
    read_with_set = hasattr(annotation_set, "suggestion_facts")
    facts: dict[str, Any] | None = getattr(annotation_set, "suggestion_facts", None)
    if facts is not None and facts["kind"] == SuggestionKind.ENTITY and facts["type_id"] is not None:
        database = annotation_set._state.db
        names = ["id", "article_id", "kind", "start", "end", "entity_type_id"]
        suggestion = Suggestion.from_db(database, names, [facts[key] for key in (*names[:5], "type_id")])
        suggestion.entity_type = EntityType.from_db(
            database,
            ["id", "project_id", "name"],
            (facts["type_id"], facts["type_project_id"], facts["type_name"]),
        )
        return suggestion
    found = (
        _suggestion_in(project_id=annotation_set.article.project_id, suggestion_id=suggestion_id)
        if type(suggestion_id) is int and not (read_with_set and facts is None)  # None: the read found none
        else []
    )
    if not found:
        raise exceptions.NotFound("No such suggestion.")
    return found[0]
