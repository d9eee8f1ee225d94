"""What managers do to articles in bulk: delete them with everything about them, or put them back in the queue."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import models, transaction
from django.db.models import Q

from annotator.annotations.models import (
    AnnotationSet,
    EntityLink,
    Relation,
    SetKind,
    SetStatus,
    Span,
    SpanAttribute,
)
from annotator.articles.models import Article
from annotator.review.models import Comment
from annotator.suggestions.models import Decision, Suggestion

if TYPE_CHECKING:
    from collections.abc import Iterable

    from django.contrib.auth.models import User

    from annotator.projects.models import Project

# The most articles one request deletes or re-queues (a page of the browser holds fewer).
MAX_SELECTED = 1000


@dataclass(frozen=True)
class DeletionCounts:
    """What deleting the articles removes: shown before, and returned after."""

    articles: int
    sets: int
    spans: int
    relations: int
    links: int
    suggestions: int
    decisions: int
    comments: int
    history: int

    def rows(self) -> list[tuple[str, int]]:
        return [
            ("articles", self.articles),
            ("annotation sets", self.sets),
            ("spans", self.spans),
            ("relations", self.relations),
            ("KB links", self.links),
            ("suggestions", self.suggestions),
            ("decisions on suggestions", self.decisions),
            ("comments", self.comments),
            ("history entries", self.history),
        ]


def selected_articles(project: Project, ids: Iterable[int]) -> list[int]:
    """The ids among these that are articles of this project (others' ids name nothing), in order."""
    wanted = sorted({int(pk) for pk in ids})[:MAX_SELECTED]
    return list(
        Article.objects.filter(project=project, pk__in=wanted).order_by("pk").values_list("pk", flat=True)
    )


def _history_ids(article_ids: list[int]) -> tuple[set[int], set[int]]:
    """Ids of every set and span the articles ever had, deleted ones too (their history outlives them)."""
    history = AnnotationSet.history.model.objects  # type: ignore[attr-defined]
    set_ids = set(AnnotationSet.objects.filter(article_id__in=article_ids).values_list("pk", flat=True))
    set_ids |= set(history.filter(article_id__in=article_ids).values_list("id", flat=True))
    span_history = Span.history.model.objects  # type: ignore[attr-defined]
    span_ids = set(Span.objects.filter(annotation_set_id__in=set_ids).values_list("pk", flat=True))
    span_ids |= set(span_history.filter(annotation_set_id__in=set_ids).values_list("id", flat=True))
    return set_ids, span_ids


def _history_rows(set_ids: set[int], span_ids: set[int]) -> list[tuple[type[models.Model], Q]]:
    return [
        (AnnotationSet.history.model, Q(id__in=set_ids)),  # type: ignore[attr-defined]
        (Span.history.model, Q(id__in=span_ids)),  # type: ignore[attr-defined]
        (SpanAttribute.history.model, Q(span_id__in=span_ids)),  # type: ignore[attr-defined]
        (EntityLink.history.model, Q(span_id__in=span_ids)),  # type: ignore[attr-defined]
        (Relation.history.model, Q(annotation_set_id__in=set_ids)),  # type: ignore[attr-defined]
        (Decision.history.model, Q(annotation_set_id__in=set_ids)),  # type: ignore[attr-defined]
    ]


def deletion_counts(article_ids: list[int]) -> DeletionCounts:
    set_ids, span_ids = _history_ids(article_ids)
    sets = AnnotationSet.objects.filter(article_id__in=article_ids)
    return DeletionCounts(
        articles=len(article_ids),
        sets=sets.count(),
        spans=Span.objects.filter(annotation_set__in=sets).count(),
        relations=Relation.objects.filter(annotation_set__in=sets).count(),
        links=EntityLink.objects.filter(span__annotation_set__in=sets).count(),
        suggestions=Suggestion.objects.filter(article_id__in=article_ids).count(),
        decisions=Decision.objects.filter(annotation_set__in=sets).count(),
        comments=Comment.objects.filter(article_id__in=article_ids).count(),
        history=sum(
            model._default_manager.filter(where).count() for model, where in _history_rows(set_ids, span_ids)
        ),
    )


@transaction.atomic
def delete_articles(*, project: Project, article_ids: list[int]) -> DeletionCounts:
    """Delete the articles with their sets, annotations, suggestions, comments and history, all or nothing."""
    article_ids = selected_articles(project, article_ids)
    counts = deletion_counts(article_ids)
    set_ids, span_ids = _history_ids(article_ids)
    Article.objects.filter(project=project, pk__in=article_ids).delete()
    # Deleting wrote a "deleted" history entry for each row; the history of what no longer exists goes too.
    for model, where in _history_rows(set_ids, span_ids):
        model._default_manager.filter(where).delete()
    return counts


@dataclass(frozen=True)
class Requeued:
    articles: int
    reopened: int
    gold_reopened: int


@transaction.atomic
def requeue_articles(*, project: Project, article_ids: list[int], by: User) -> Requeued:
    """Put the articles back in the queue: submitted sets become editable again, curated gold uncurated.

    Their annotators find them in their queues again; nothing annotated is lost. Each set's change is in
    its history, with its version moved on, so an open page that still holds the old version is refused.
    """
    article_ids = selected_articles(project, article_ids)
    sets = AnnotationSet.objects.select_for_update().filter(article_id__in=article_ids)
    finished = sets.filter(
        Q(kind=SetKind.ANNOTATOR, status=SetStatus.SUBMITTED) | Q(kind=SetKind.GOLD, status=SetStatus.CURATED)
    )
    reopened = gold = 0
    for annotation_set in finished:
        annotation_set.status = SetStatus.IN_PROGRESS
        annotation_set.submitted_at = None
        annotation_set.version += 1
        annotation_set._history_user = by  # type: ignore[attr-defined]  # simple_history's author of the change
        annotation_set.save(update_fields=["status", "submitted_at", "version", "updated_at"])
        if annotation_set.kind == SetKind.GOLD:
            gold += 1
        else:
            reopened += 1
    return Requeued(articles=len(article_ids), reopened=reopened, gold_reopened=gold)
