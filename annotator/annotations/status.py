"""Where an article stands, derived from its annotation sets (never stored, so never stale).

Lives with the annotation sets it reads, so that the articles app knows nothing of annotations.
"""

from __future__ import annotations

from typing import TypeVar

from django.db import models
from django.db.models.functions import Coalesce

from annotator.annotations.models import AnnotationSet, SetKind, SetStatus
from annotator.articles.models import Article, ArticleStatus

ArticlesT = TypeVar("ArticlesT", bound=models.QuerySet[Article])


def with_status(articles: ArticlesT) -> ArticlesT:
    """Annotate `sets_started`, `sets_submitted` and `status` (an ArticleStatus value).

    Annotated means as many submitted annotator sets as the project asks for; curated means the
    gold set is curated. Subqueries, not joins, so the result can be grouped and filtered by status.
    """

    def count_sets(**conditions: object) -> models.Subquery:
        sets = AnnotationSet.objects.filter(
            article=models.OuterRef("pk"), kind=SetKind.ANNOTATOR, **conditions
        )
        return models.Subquery(
            sets.order_by().values("article").annotate(n=models.Count("pk")).values("n"),
            output_field=models.IntegerField(),
        )

    curated = AnnotationSet.objects.filter(
        article=models.OuterRef("pk"), kind=SetKind.GOLD, status=SetStatus.CURATED
    )
    return articles.annotate(
        sets_started=Coalesce(count_sets(), 0),
        sets_submitted=Coalesce(count_sets(status=SetStatus.SUBMITTED), 0),
        gold_curated=models.Exists(curated),
    ).annotate(
        status=models.Case(
            models.When(gold_curated=True, then=models.Value(ArticleStatus.CURATED)),
            models.When(
                sets_submitted__gte=models.F("project__annotators_per_article"),
                then=models.Value(ArticleStatus.ANNOTATED),
            ),
            models.When(sets_started__gt=0, then=models.Value(ArticleStatus.IN_PROGRESS)),
            default=models.Value(ArticleStatus.NEW),
            output_field=models.CharField(),
        )
    )
