"""Which article a person should annotate next: their unfinished ones first, then those still needing people."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Count, Exists, OuterRef, Q

from annotator.annotations.models import AnnotationSet, SetKind, SetStatus
from annotator.articles.models import Article

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from annotator.projects.models import Project


def open_articles(*, project: Project, user: User) -> tuple:
    """(articles the user has in progress, articles still needing annotators that the user has not touched)."""
    mine = AnnotationSet.objects.filter(article=OuterRef("pk"), kind=SetKind.ANNOTATOR, annotator=user)
    articles = Article.objects.filter(project=project)
    in_progress = articles.filter(Exists(mine.filter(status=SetStatus.IN_PROGRESS)))
    needing = (
        articles.exclude(Exists(mine))
        .annotate(annotators=Count("annotation_sets", filter=Q(annotation_sets__kind=SetKind.ANNOTATOR)))
        .filter(annotators__lt=project.annotators_per_article)
    )
    return in_progress, needing


def next_article(*, project: Project, user: User, after: Article | None = None) -> Article | None:
    """The next article for the user, in id order, skipping `after` (the one just finished)."""
    in_progress, needing = open_articles(project=project, user=user)
    if after is not None:
        in_progress, needing = in_progress.exclude(pk=after.pk), needing.exclude(pk=after.pk)
    return in_progress.order_by("pk").first() or needing.order_by("pk").first()


def queue_size(*, project: Project, user: User) -> int:
    in_progress, needing = open_articles(project=project, user=user)
    return in_progress.count() + needing.count()
