"""The article page: the text as stored, with the spans of the reader's own set and of gold."""

from __future__ import annotations

from django.db.models import Prefetch, Q
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from annotator.annotations.models import AnnotationSet, Relation, SetKind, Span
from annotator.articles.views import get_article
from annotator.core.http import AuthedRequest
from annotator.interchange.models import ReanchorFlag
from annotator.projects.permissions import can_curate
from annotator.review.state import attach_attribute_values, with_attributes


@require_GET
def article_detail(request: AuthedRequest, article_id: int) -> HttpResponse:
    article = get_article(request, article_id)
    # The reader's own set, gold and the imported sets, when they may read them (curators, or anyone in a
    # project that is not blind).
    shown_sets = (
        AnnotationSet.objects.readable_by(request.user)
        .filter(article=article)
        .filter(
            Q(kind=SetKind.ANNOTATOR, annotator=request.user) | Q(kind__in=[SetKind.GOLD, SetKind.IMPORTED])
        )
        .order_by("kind", "name", "pk")  # annotator (yours), gold, imported
    )
    annotation_sets = list(
        shown_sets.select_related("annotator").prefetch_related(
            Prefetch(
                "spans",
                queryset=with_attributes(Span.objects.select_related("entity_type", "link__kb_entity")),
            ),
            Prefetch("relations", queryset=Relation.objects.select_related("relation_type", "head", "tail")),
        )
    )
    attach_attribute_values([span for shown in annotation_sets for span in shown.spans.all()])
    flags = ReanchorFlag.objects.open().filter(article=article).select_related("annotation_set__annotator")
    if not can_curate(article.project.my_role):
        flags = flags.filter(annotation_set__annotator=request.user)
    return render(
        request,
        "articles/article_detail.html",
        {
            "article": article,
            "project": article.project,
            "annotation_sets": annotation_sets,
            "flags": flags,
            "can_curate": can_curate(article.project.my_role),
        },
    )
