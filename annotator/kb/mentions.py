"""The mentions of one KB entity across a project, and linking many of them in one action.

Linked mentions are spans linked to the entity; unlinked ones are spans with no link whose normalised
text is one of the entity's aliases. Who sees which: curators and managers every annotation set of the
project, annotators their own sets (as on the article page, so that nobody is nudged by the others).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import F, QuerySet, Value
from django.db.models.functions import Greatest, Substr

from annotator.annotations.editing import edit_set
from annotator.annotations.models import AnnotationSet, EntityLink, SetKind, Span
from annotator.annotations.permissions import can_edit_set
from annotator.core.errors import DomainError, NotEditable, StaleVersion
from annotator.kb.models import Alias, KBEntity
from annotator.kb.normalize import normalize_alias
from annotator.projects.permissions import can_curate

if TYPE_CHECKING:
    from django.contrib.auth.models import User

# Characters of text shown on each side of a mention.
CONTEXT_CHARS = 40
MAX_UNLINKED = 200


class MentionsNotChanged(DomainError):
    """One of the annotation sets a bulk action touches refused it, so nothing was changed at all."""

    code = "conflict"


def visible_spans(*, project_id: int, user: User, role: str | None) -> QuerySet[Span]:
    """The spans of the project this member may see across articles."""
    spans = Span.objects.filter(annotation_set__article__project_id=project_id)
    if not can_curate(role):
        spans = spans.filter(annotation_set__kind=SetKind.ANNOTATOR, annotation_set__annotator=user)
    return spans


def with_context(spans: QuerySet[Span]) -> QuerySet[Span]:
    """Spans with what a list of mentions shows: the text around them (cut by the database), article, set, who."""
    text = "annotation_set__article__text"
    cut = Greatest(F("start") - CONTEXT_CHARS, Value(0))
    return (
        spans.select_related(
            "annotation_set__article", "annotation_set__annotator", "entity_type", "link__kb_entity"
        )
        .defer(text, "annotation_set__article__metadata")
        .annotate(
            before=Substr(text, cut + 1, F("start") - cut),
            after=Substr(text, F("end") + 1, CONTEXT_CHARS),
        )
        .order_by("annotation_set__article_id", "start", "annotation_set_id", "id")
    )


def linked_mentions(entity: KBEntity, spans: QuerySet[Span]) -> QuerySet[Span]:
    return with_context(spans.filter(link__kb_entity=entity))


def unlinked_mentions(entity: KBEntity, spans: QuerySet[Span], *, limit: int = MAX_UNLINKED) -> list[Span]:
    """Spans without a link whose text, normalised, is one of the entity's aliases (or its name).

    Texts are compared after the same normalisation as aliases (case, width, spacing), which SQL cannot
    do on both databases: the distinct texts of the unlinked spans are read once and compared here.
    """
    keys = set(Alias.objects.filter(entity=entity).values_list("normalized", flat=True))
    keys.add(normalize_alias(entity.name))
    unlinked = spans.filter(link__isnull=True)
    texts = unlinked.order_by().values_list("surface", flat=True).distinct()
    matching = [text for text in texts.iterator(chunk_size=2000) if normalize_alias(text) in keys]
    if not matching:
        return []
    return list(with_context(unlinked.filter(surface__in=matching))[:limit])


def describe_set(annotation_set: AnnotationSet) -> str:
    """The set as a person would name it, e.g. “alice's annotations of “Naryshkin in Minsk””."""
    article = f"“{annotation_set.article}”"
    if annotation_set.kind == SetKind.GOLD:
        return f"the gold standard of {article}"
    if annotation_set.kind == SetKind.IMPORTED:
        return f"the imported set “{annotation_set.name}” of {article}"
    return f"{annotation_set.annotator}'s annotations of {article}"


@dataclass(frozen=True)
class LinkOutcome:
    changed: int  # spans whose link changed
    unchanged: int  # spans already linked there
    sets: int  # annotation sets that got a new version


def link_mentions(
    *,
    spans: Sequence[Span],
    kb_entity: KBEntity | None,
    versions: Mapping[int, int],
    by: User,
    role: str | None,
) -> LinkOutcome:
    """Link every span to `kb_entity`, or mark it NIL (`kb_entity=None`), as one action.

    Each annotation set is edited through `edit_set` with the version the page showed (`versions`, by
    set id): one version claimed per set. If any set is not the user's to edit, has changed since, or
    is submitted, nothing at all is changed and the error names that set. Spans already linked there
    are left alone; a set with nothing to change keeps its version.
    """
    by_set: dict[int, list[Span]] = defaultdict(list)
    sets: dict[int, AnnotationSet] = {}
    for span in spans:
        by_set[span.annotation_set_id].append(span)
        sets[span.annotation_set_id] = span.annotation_set
    current = dict(EntityLink.objects.filter(span__in=spans).values_list("span_id", "kb_entity_id"))
    target = kb_entity.pk if kb_entity is not None else None
    changed = touched = 0
    with transaction.atomic():
        for set_id in sorted(by_set):  # always the same order, so two bulk actions never deadlock
            annotation_set = sets[set_id]
            if not can_edit_set(by, role, annotation_set):
                raise MentionsNotChanged(
                    f"You cannot edit {describe_set(annotation_set)}, so nothing was changed.", field="spans"
                )
            todo = [span for span in by_set[set_id] if span.pk not in current or current[span.pk] != target]
            if not todo:
                continue
            if set_id not in versions:
                raise MentionsNotChanged(
                    f"The page did not say which version of {describe_set(annotation_set)} it showed; "
                    "reload it. Nothing was changed.",
                    field="versions",
                )
            try:
                with edit_set(annotation_set, expected_version=versions[set_id], by=by) as editor:
                    for span in todo:
                        editor.link(span, kb_entity)
            except (StaleVersion, NotEditable) as refusal:
                raise MentionsNotChanged(
                    f"{describe_set(annotation_set)[:1].upper()}{describe_set(annotation_set)[1:]}: "
                    f"{refusal.message} Nothing was changed.",
                    field="versions",
                ) from refusal
            changed += len(todo)
            touched += 1
    return LinkOutcome(changed=changed, unchanged=len(spans) - changed, sets=touched)
