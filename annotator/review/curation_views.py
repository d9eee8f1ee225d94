"""The curation page (the annotators' sets of an article side by side, and the actions that build gold)
and the article's history page.

Curators and managers only. Every action is a POST carrying the gold set's `version`; with htmx the
answer is the comparison again (the `curation` partial), and a stale version answers 409 with the
comparison as it now stands, so the curator sees what changed before taking anything again. Without
JavaScript, actions are plain forms answered by a redirect back to the page.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from annotator.annotations.models import AnnotationSet, Relation, SetKind, SetStatus, Span
from annotator.annotations.services import get_or_create_gold_set, reopen_set, submit_set
from annotator.articles.models import Article
from annotator.articles.views import get_article
from annotator.core.errors import DomainError, InvalidAnnotation, StaleVersion
from annotator.core.http import AuthedRequest
from annotator.core.offsets import whole_number
from annotator.projects.permissions import can_curate
from annotator.review import curation
from annotator.review.comments import comments_context
from annotator.review.history import describe, history_rows


def _curated_article(request: AuthedRequest, article_id: int) -> Article:
    article = get_article(request, article_id)
    if not can_curate(article.project.my_role):  # type: ignore[attr-defined]
        raise PermissionDenied("Only curators and managers curate.")
    return article


def _context(request: AuthedRequest, article: Article, gold: AnnotationSet) -> dict[str, Any]:
    comparison = curation.compare(article, gold if gold.pk is not None else None)
    waiting = AnnotationSet.objects.filter(
        article=article, kind=SetKind.ANNOTATOR, status=SetStatus.IN_PROGRESS
    ).select_related("annotator")
    return {
        "article": article,
        "project": article.project,
        "gold": gold,
        "comparison": comparison,
        "agreed": comparison.agreed_counts(),
        "waiting": waiting,
        **comments_context(request, article),
        "comment_spans": [item.example for item in comparison.spans],
    }


def _gold_to_show(article: Article) -> AnnotationSet:
    """The article's gold set, or (before anyone took anything) an unsaved empty one: reading writes nothing."""
    gold = AnnotationSet.objects.filter(article=article, kind=SetKind.GOLD).first()
    return gold or AnnotationSet(article=article, kind=SetKind.GOLD)


@require_GET
def curate(request: AuthedRequest, article_id: int) -> HttpResponse:
    article = _curated_article(request, article_id)
    gold = _gold_to_show(article)
    template = "review/curate.html#curation" if request.htmx else "review/curate.html"
    return render(request, template, _context(request, article, gold))


def _version(request: AuthedRequest) -> int:
    version = whole_number(request.POST.get("version", ""))
    if version is None:
        raise InvalidAnnotation(
            "The page did not say which version of gold it holds; reload it.", field="version"
        )
    return version


def _answer(request: AuthedRequest, article: Article, gold: AnnotationSet, message: str) -> HttpResponse:
    if not request.htmx:
        messages.success(request, message)
        return redirect("review:curate", article.pk)
    return render(
        request, "review/curate.html#curation", {**_context(request, article, gold), "done": message}
    )


def _refused(
    request: AuthedRequest, article: Article, gold: AnnotationSet, error: DomainError
) -> HttpResponse:
    if not request.htmx:
        messages.error(request, error.message)
        return redirect("review:curate", article.pk)
    gold.refresh_from_db()
    status = 409 if isinstance(error, StaleVersion) else 400
    context = {**_context(request, article, gold), "error": error, "conflict": status == 409}
    return render(request, "review/curate.html#curation", context, status=status)


def _source(request: AuthedRequest, article: Article) -> Span | Relation:
    """The item to take, from one of the sets the page compares; anything else does not exist (404)."""
    pk = whole_number(request.POST.get("id", ""))
    found = curation.version_to_take(article, request.POST.get("item", ""), pk) if pk is not None else None
    if found is None:
        raise Http404("No such item.")
    return found


@require_POST
def take(request: AuthedRequest, article_id: int) -> HttpResponse:
    """Take one item (a span with its link, or a relation) from one annotator's set into gold."""
    article = _curated_article(request, article_id)
    gold = get_or_create_gold_set(article=article)
    item = _source(request, article)
    try:
        if isinstance(item, Span):
            replaced = curation.take_span(
                gold=gold, span=item, by=request.user, expected_version=_version(request)
            )
            message = f"Took {item.entity_type.name} “{item.surface[:60]}” into gold"
            message += (
                f", replacing {replaced} other version{'s' if replaced != 1 else ''}." if replaced else "."
            )
        else:
            curation.take_relation(
                gold=gold, relation=item, by=request.user, expected_version=_version(request)
            )
            message = f"Took the relation {item.relation_type.name} into gold."
    except curation.AlreadyInGold as unchanged:
        return _answer(request, article, gold, unchanged.message)
    except DomainError as error:
        return _refused(request, article, gold, error)
    return _answer(request, article, gold, message)


@require_POST
def take_agreed(request: AuthedRequest, article_id: int) -> HttpResponse:
    """Take every item all the compared sets agree on into gold, at once."""
    article = _curated_article(request, article_id)
    gold = get_or_create_gold_set(article=article)
    try:
        comparison = curation.compare(article, gold)
        changed = curation.take_agreed(
            gold=gold, comparison=comparison, by=request.user, expected_version=_version(request)
        )
    except DomainError as error:
        return _refused(request, article, gold, error)
    return _answer(
        request, article, gold, f"Took {changed} agreed item{'s' if changed != 1 else ''} into gold."
    )


@require_POST
def finish(request: AuthedRequest, article_id: int) -> HttpResponse:
    """Mark gold curated (exports of curated gold then include it), or reopen it with `reopen=1`."""
    article = _curated_article(request, article_id)
    gold = get_or_create_gold_set(article=article)
    reopening = request.POST.get("reopen") == "1"
    try:
        change = reopen_set if reopening else submit_set
        change(annotation_set=gold, by=request.user, expected_version=_version(request))
    except DomainError as error:
        return _refused(request, article, gold, error)
    return _answer(request, article, gold, "Gold reopened." if reopening else "Gold marked curated.")


HISTORY_PER_PAGE = 50


@require_GET
def history(request: AuthedRequest, article_id: int) -> HttpResponse:
    """Who changed what in the article's sets, and when, newest first, page by page."""
    article = get_article(request, article_id)
    page = Paginator(history_rows(article, request.user), HISTORY_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "article": article,
        "project": article.project,
        "page": page,
        "entries": describe(list(page), article),
    }
    return render(request, "review/history.html", context)
