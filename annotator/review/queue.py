"""Which article a person annotates next, and reserving it for them.

An annotator's set of an article is their reservation of one of its `annotators_per_article` places:
the queue makes it when it hands the article out. A set still in progress that nobody has changed for
the project's `abandon_after_minutes` no longer holds its place (it is abandoned), so the article goes
back to the queue for others; the set itself and its work stay. Nobody is handed an article they
already have a set of, except their own unfinished one.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import Count, Exists, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from annotator.annotations.models import AnnotationSet, SetKind, SetStatus
from annotator.annotations.services import get_or_create_own_set
from annotator.articles.models import Article
from annotator.projects.models import AssignmentStrategy

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from annotator.projects.models import Project

# Articles found full under the lock before giving up (each was free a moment before: rare).
CANDIDATES = 20


def abandoned_before(project: Project, now: datetime | None = None) -> datetime:
    """Sets in progress last changed before this moment have given up their place."""
    return (now or timezone.now()) - timedelta(minutes=project.abandon_after_minutes)


def places_held(project: Project, now: datetime | None = None) -> Q:
    """Annotator sets that hold one of their article's places: submitted, or in progress and not abandoned."""
    return Q(kind=SetKind.ANNOTATOR) & (
        Q(status=SetStatus.SUBMITTED) | Q(updated_at__gte=abandoned_before(project, now))
    )


def _held(project: Project, now: datetime) -> Coalesce:
    sets = AnnotationSet.objects.filter(places_held(project, now), article=OuterRef("pk"))
    count = sets.order_by().values("article").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(count, output_field=IntegerField()), Value(0))


def _queues(project: Project, user: User, now: datetime) -> tuple[QuerySet[Article], QuerySet[Article]]:
    """(the user's unfinished articles still theirs, articles with a free place the user never had)."""
    mine = AnnotationSet.objects.filter(article=OuterRef("pk"), kind=SetKind.ANNOTATOR, annotator=user)
    curated = AnnotationSet.objects.filter(
        article=OuterRef("pk"), kind=SetKind.GOLD, status=SetStatus.CURATED
    )
    articles = (
        Article.objects.filter(project=project)
        .exclude(Exists(curated))
        .annotate(held=_held(project, now))
        .defer("text", "metadata")
    )
    has_room = Q(held__lt=project.annotators_per_article)
    fresh_mine = Exists(
        mine.filter(status=SetStatus.IN_PROGRESS, updated_at__gte=abandoned_before(project, now))
    )
    # An abandoned set of mine comes back to me only while its article still has room.
    in_progress = articles.filter(Exists(mine.filter(status=SetStatus.IN_PROGRESS))).filter(
        fresh_mine | has_room
    )
    needing = articles.exclude(Exists(mine)).filter(has_room)
    return in_progress, needing


def _ordered(needing: QuerySet[Article], strategy: str) -> QuerySet[Article]:
    if strategy == AssignmentStrategy.RANDOM:
        return needing.order_by("?")
    if strategy == AssignmentStrategy.LEAST_ANNOTATED:
        return needing.order_by("held", "pk")  # type: ignore[misc]  # `held` is annotated by _queues()
    return needing.order_by("pk")


def next_article(*, project: Project, user: User, after: Article | None = None) -> Article | None:
    """Hand the user their next article (not `after`, the one just finished) and reserve a place in it.

    Their own unfinished articles come first (the reservation is renewed); then an article with a free
    place, by the project's strategy. Candidates are locked with SKIP LOCKED and re-counted under the
    lock, so two people asking at once never both take an article's last place.
    """
    if project.archived_at is not None:
        return None  # archived: read-only, out of everyone's queue
    now = timezone.now()
    in_progress, needing = _queues(project, user, now)
    if after is not None:
        in_progress, needing = in_progress.exclude(pk=after.pk), needing.exclude(pk=after.pk)
    own = in_progress.order_by("pk").first()
    if own is not None:
        AnnotationSet.objects.filter(article=own, annotator=user, kind=SetKind.ANNOTATOR).update(
            updated_at=now
        )
        return own
    tried: list[int] = []
    with transaction.atomic():
        # One row at a time: locking several would hide them all from people asking at the same moment.
        while len(tried) < CANDIDATES:
            candidates = _ordered(needing.exclude(pk__in=tried), project.assignment_strategy)
            article = candidates.select_for_update(skip_locked=True).first()
            if article is None:
                return None
            # Read again under the lock: a place taken by a hand-out that committed meanwhile now counts.
            held = AnnotationSet.objects.filter(places_held(project), article=article).count()
            if held < project.annotators_per_article:
                get_or_create_own_set(article=article, user=user)
                return article
            tried.append(article.pk)
    return None


def queue_size(*, project: Project, user: User) -> int:
    if project.archived_at is not None:
        return 0
    in_progress, needing = _queues(project, user, timezone.now())
    return in_progress.count() + needing.count()
