"""The annotation actions people and clients take, one function each.

Each is one user action: it claims the set's next version (a stale `expected_version` raises
StaleVersion and writes nothing), checks what the database cannot, and writes in one transaction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction

from annotator.annotations.copying import RELATION_PARTS, SPAN_PARTS, replace_contents
from annotator.annotations.editing import add_span_at_once, edit_set
from annotator.annotations.models import (
    AnnotationSet,
    EntityLink,
    Relation,
    SetKind,
    SetStatus,
    Span,
    SpanAttribute,
)
from annotator.projects.models import GuidelineVersion, Project

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from annotator.articles.models import Article
    from annotator.kb.models import KBEntity
    from annotator.projects.models import EntityType, EntityTypeAttribute, RelationType


def _latest_guidelines(article: Article) -> GuidelineVersion | None:
    return GuidelineVersion.objects.filter(project_id=article.project_id).order_by("-number").first()


def get_or_create_own_set(*, article: Article, user: User) -> AnnotationSet:
    """The user's annotation set of the article, made under the current guidelines if it is new."""
    existing = (
        AnnotationSet.objects.filter(article=article, annotator=user, kind=SetKind.ANNOTATOR)
        .order_by()
        .first()
    )
    if existing is not None:
        return existing
    annotation_set, _ = AnnotationSet.objects.get_or_create(  # get_or_create: two tabs may race here
        article=article,
        annotator=user,
        kind=SetKind.ANNOTATOR,
        defaults={"guideline_version": _latest_guidelines(article)},
    )
    return annotation_set


def get_or_create_gold_set(*, article: Article) -> AnnotationSet:
    existing = AnnotationSet.objects.filter(article=article, kind=SetKind.GOLD).order_by().first()
    if existing is not None:
        return existing
    annotation_set, _ = AnnotationSet.objects.get_or_create(
        article=article, kind=SetKind.GOLD, defaults={"guideline_version": _latest_guidelines(article)}
    )
    return annotation_set


def create_span(
    *,
    annotation_set: AnnotationSet,
    start: int,
    end: int,
    entity_type: EntityType,
    by: User | None,
    expected_version: int,
    surface: str | None = None,
) -> Span:
    """Add a span. `surface`, when given, must equal the article's text at [start, end)."""
    at_once = add_span_at_once(annotation_set, expected_version=expected_version, by=by, start=start, end=end,
                               entity_type=entity_type, surface=surface)  # fmt: skip
    if at_once is not None:  # one statement: the claim, the span and its history (PostgreSQL)
        return at_once
    with edit_set(annotation_set, expected_version=expected_version, by=by) as editor:
        return editor.add_span(start=start, end=end, entity_type=entity_type, surface=surface)


def change_span(
    *,
    span: Span,
    by: User | None,
    expected_version: int,
    start: int | None = None,
    end: int | None = None,
    entity_type: EntityType | None = None,
    surface: str | None = None,
) -> Span:
    """Move a span's boundaries and/or change its type; its link and relations stay with it."""
    with edit_set(span.annotation_set, expected_version=expected_version, by=by) as editor:
        return editor.change_span(span, start=start, end=end, entity_type=entity_type, surface=surface)


def delete_span(*, span: Span, by: User | None, expected_version: int) -> None:
    """Delete a span, its link and the relations it takes part in."""
    with edit_set(span.annotation_set, expected_version=expected_version, by=by) as editor:
        editor.remove_span(span)


def link_span(
    *, span: Span, kb_entity: KBEntity | None, by: User | None, expected_version: int
) -> EntityLink:
    """Link a span to a KB entity of the project, or mark it NIL with `kb_entity=None`."""
    with edit_set(span.annotation_set, expected_version=expected_version, by=by) as editor:
        return editor.link(span, kb_entity)


def unlink_span(*, span: Span, by: User | None, expected_version: int) -> None:
    with edit_set(span.annotation_set, expected_version=expected_version, by=by) as editor:
        editor.unlink(span)


def set_span_attribute(
    *, span: Span, attribute: EntityTypeAttribute, value: object, by: User | None, expected_version: int
) -> SpanAttribute:
    """Set one attribute of the span's entity type on the span: `true`/`false`, one of its values, or text."""
    with edit_set(span.annotation_set, expected_version=expected_version, by=by) as editor:
        return editor.set_attribute(span, attribute, value)


def clear_span_attribute(
    *, span: Span, attribute: EntityTypeAttribute, by: User | None, expected_version: int
) -> None:
    with edit_set(span.annotation_set, expected_version=expected_version, by=by) as editor:
        editor.clear_attribute(span, attribute)


def create_relation(
    *,
    annotation_set: AnnotationSet,
    head: Span,
    tail: Span,
    relation_type: RelationType,
    by: User | None,
    expected_version: int,
) -> Relation:
    """Relate two spans of the set, if the schema allows the relation type for their entity types."""
    with edit_set(annotation_set, expected_version=expected_version, by=by) as editor:
        return editor.add_relation(head=head, tail=tail, relation_type=relation_type)


def delete_relation(*, relation: Relation, by: User | None, expected_version: int) -> None:
    with edit_set(relation.annotation_set, expected_version=expected_version, by=by) as editor:
        editor.remove_relation(relation)


def submit_set(*, annotation_set: AnnotationSet, by: User | None, expected_version: int) -> AnnotationSet:
    """Finish a set: an annotator's set becomes submitted, a gold set curated. Both then take no edits.

    In a project that promotes submitted sets to gold, the submitted set also becomes the curated gold.
    """
    with transaction.atomic():
        with edit_set(annotation_set, expected_version=expected_version, by=by) as editor:
            editor.set_status(
                SetStatus.CURATED if annotation_set.kind == SetKind.GOLD else SetStatus.SUBMITTED
            )
        if annotation_set.kind == SetKind.ANNOTATOR:
            _promote_to_gold(annotation_set, by)
    from annotator.suggestions.learning import schedule_learning  # the project's model learns from it

    schedule_learning(article_id=annotation_set.article_id)
    return annotation_set


def _promote_to_gold(annotation_set: AnnotationSet, by: User | None) -> None:
    """Replace the article's gold with a copy of the submitted set and mark it curated, unless the project
    does not promote, or a curator has gold in progress with changes (their work is not overwritten)."""
    project = Project.objects.only("promote_to_gold", "annotators_per_article").get(
        articles=annotation_set.article_id
    )
    if not (project.promote_to_gold and project.annotators_per_article == 1):
        return
    gold = get_or_create_gold_set(article=annotation_set.article)
    if gold.status == SetStatus.IN_PROGRESS and gold.version > 1:
        return
    spans = list(Span.objects.filter(annotation_set=annotation_set).select_related(*SPAN_PARTS))
    relations = list(Relation.objects.filter(annotation_set=annotation_set).select_related(*RELATION_PARTS))
    with edit_set(gold, expected_version=gold.version, by=by, status=gold.status) as editor:
        replace_contents(editor, spans, relations)
        editor.set_status(SetStatus.CURATED)


def curate_gold_sets(*, project: Project, by: User | None, article_ids: list[int] | None = None) -> int:
    """Mark the project's gold sets in progress curated (all of them, or those of the articles given),
    each as one versioned edit with its history; all or nothing. Returns how many were marked."""
    sets = AnnotationSet.objects.filter(
        article__project=project, kind=SetKind.GOLD, status=SetStatus.IN_PROGRESS
    ).order_by("article_id")
    if article_ids is not None:
        sets = sets.filter(article_id__in=article_ids)
    marked = 0
    with transaction.atomic():
        for annotation_set in sets.select_for_update():
            with edit_set(annotation_set, expected_version=annotation_set.version, by=by) as editor:
                editor.set_status(SetStatus.CURATED)
            marked += 1
    if marked:
        from annotator.suggestions.learning import schedule_learning  # the project's model learns from it

        schedule_learning(project_id=project.pk)
    return marked


def reopen_set(*, annotation_set: AnnotationSet, by: User | None, expected_version: int) -> AnnotationSet:
    """Make a submitted (or curated) set editable again."""
    finished = SetStatus.CURATED if annotation_set.kind == SetKind.GOLD else SetStatus.SUBMITTED
    with edit_set(annotation_set, expected_version=expected_version, by=by, status=finished) as editor:
        editor.set_status(SetStatus.IN_PROGRESS)
    return annotation_set
