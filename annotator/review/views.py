"""The annotate page: the text with its annotations, and the actions that change them.

Every action is one POST carrying the set `version` the page holds. With htmx (the page's script sends
`HX-Request`), the answer is the blocks of text and side-list rows the action touched, swapped out of
band, plus the set's new version; a stale version answers 409 with the conflict banner. Without
JavaScript, actions are plain forms and the answer is a redirect back to the page.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Exists, F, OuterRef, QuerySet, Subquery
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from annotator.annotations.models import AnnotationSet, SetKind, Span, SpanAttribute
from annotator.annotations.permissions import can_edit_set
from annotator.annotations.services import (
    get_or_create_gold_set,
    get_or_create_own_set,
    reopen_set,
    submit_set,
)
from annotator.articles.models import Article
from annotator.articles.views import get_article
from annotator.core.compiled import CompiledQuery
from annotator.core.errors import DomainError, InvalidAnnotation, StaleVersion
from annotator.core.http import AuthedRequest
from annotator.core.offsets import whole_number
from annotator.core.reversing import fast_reverse
from annotator.core.text import shorten
from annotator.jobs.models import JobStatus
from annotator.kb.models import KnowledgeBase
from annotator.kb.search import find_candidates
from annotator.kb.services import create_entity
from annotator.projects.models import EntityTypeAttribute, GuidelineVersion, RelationType
from annotator.projects.permissions import can_curate
from annotator.projects.views import get_project
from annotator.review import undo as undo_stack
from annotator.review.actions import ACTIONS, Outcome, Request, link_span, undo
from annotator.review.annotate_page import from_skeleton
from annotator.review.comments import comments_context
from annotator.review.models import Comment
from annotator.review.pieces import Pieces
from annotator.review.queue import next_article
from annotator.review.rendering import blocks_touching, render_plain_blocks, split_blocks
from annotator.review.rows import FILTER_TEXTS, LISTS
from annotator.review.set_row_types import carried_types, with_types_and_counts
from annotator.review.state import (
    COMMENT_SPANS,
    load_page_and_counts,
    load_view,
    pending_suggestions,
    rendered_range,
    set_counts,
)
from annotator.review.suggesting import opening_jobs, suggest_on_open
from annotator.suggestions.freshness import active_columns, active_from
from annotator.suggestions.models import Suggestion, SuggestionKind

logger = logging.getLogger(__name__)


def _annotation_set(request: AuthedRequest, article: Article) -> AnnotationSet:
    """The set the page works on: the user's own, or gold (`set=gold`) for curators and managers."""
    if _wants_gold(request):
        if not can_curate(article.project.my_role):  # type: ignore[attr-defined]
            raise PermissionDenied("Only curators and managers work on the gold set.")
        annotation_set = get_or_create_gold_set(article=article)
    else:
        annotation_set = get_or_create_own_set(article=article, user=request.user)
    annotation_set.article = article  # the text is loaded once
    return annotation_set


def _wants_gold(request: AuthedRequest) -> bool:
    return (request.GET.get("set") or request.POST.get("set")) == "gold"


def _article_and_set(
    request: AuthedRequest, article_id: int, *, opening: bool = False
) -> tuple[Article, AnnotationSet]:
    """The article (as `get_article` gives it) and the set the page works on (as `_annotation_set`), in
    one query when the set exists: the set with its article, project, guidelines and the user's role.

    The set also carries what spares the page other queries: the id of the project's latest guidelines
    (`latest_guidelines_id`) and whether the article has any comment (`has_comments`); when `opening`
    the page with suggestions on open, the active suggester's state too (`freshness.active_columns`); and
    when `opening` the page, the project's types and the set's counts (`set_row_types`).
    The first open, which creates the set, takes the long way once."""
    with_suggester = opening and settings.ANNOTATOR_SUGGEST_ON_OPEN
    annotation_set = _set_with_article(request, article_id, with_suggester, opening)
    if annotation_set is None:
        article = get_article(request, article_id)  # a 404 for non-members
        _annotation_set(request, article)
        annotation_set = _set_with_article(request, article_id, with_suggester, opening)
        assert annotation_set is not None  # just made, and the user is a member
    article = annotation_set.article
    article.my_role = annotation_set.my_role  # type: ignore[attr-defined]
    article.project.my_role = annotation_set.my_role  # type: ignore[attr-defined]
    if _wants_gold(request) and not can_curate(annotation_set.my_role):  # type: ignore[attr-defined]
        raise PermissionDenied("Only curators and managers work on the gold set.")
    return article, annotation_set


def _set_with_article(
    request: AuthedRequest, article_id: int, with_suggester: bool, for_page: bool = False
) -> AnnotationSet | None:
    query = _SET_QUERIES[_wants_gold(request), with_suggester, for_page]
    found = query(article_id=article_id, user_id=request.user.pk)
    return found[0] if found else None


def _sets_with_article(article_id: int, user_id: int) -> QuerySet[AnnotationSet]:
    """Sets of the article if the user is a member of its project, with what the page reads of them."""
    latest = GuidelineVersion.objects.filter(project_id=OuterRef("article__project_id")).order_by("-number")
    return (
        AnnotationSet.objects.filter(article_id=article_id, article__project__memberships__user_id=user_id)
        .annotate(
            my_role=F("article__project__memberships__role"),  # the membership row the filter joined
            latest_guidelines_id=Subquery(latest.values("pk")[:1]),
            has_comments=Exists(Comment.objects.filter(article_id=OuterRef("article_id"))),
        )
        .select_related("article__project", "guideline_version")
        .order_by()
    )


@CompiledQuery
def _own_set_with_article(article_id: int, user_id: int) -> QuerySet[AnnotationSet]:
    return _sets_with_article(article_id, user_id).filter(kind=SetKind.ANNOTATOR, annotator_id=user_id)


@CompiledQuery
def _gold_set_with_article(article_id: int, user_id: int) -> QuerySet[AnnotationSet]:
    return _sets_with_article(article_id, user_id).filter(kind=SetKind.GOLD)


def _with_suggester(sets: QuerySet[AnnotationSet]) -> QuerySet[AnnotationSet]:
    return sets.annotate(**active_columns(article="article_id", project="article__project_id"))


@CompiledQuery
def _own_set_opening(article_id: int, user_id: int) -> QuerySet[AnnotationSet]:
    return _with_suggester(_own_set_with_article.build(article_id, user_id))


@CompiledQuery
def _gold_set_opening(article_id: int, user_id: int) -> QuerySet[AnnotationSet]:
    return _with_suggester(_gold_set_with_article.build(article_id, user_id))


# The time stamps the annotate page never shows or writes: each costs Django's Python reading of a
# PostgreSQL timestamptz (about 35 K instructions, 6 a page: 2% of an open), so its set query leaves
# them out. Those that are NULL most of the time (submitted, archived) cost nothing and stay.
_UNREAD_BY_THE_PAGE = (
    "created_at", "updated_at", "article__created_at", "article__updated_at", "article__project__created_at",
    "article__project__updated_at", "guideline_version__created_at",
)  # fmt: skip


def _for_page(sets: QuerySet[AnnotationSet]) -> QuerySet[AnnotationSet]:
    return with_types_and_counts(sets).defer(*_UNREAD_BY_THE_PAGE)


@CompiledQuery
def _own_set_for_page(article_id: int, user_id: int) -> QuerySet[AnnotationSet]:
    return _for_page(_own_set_with_article.build(article_id, user_id))


@CompiledQuery
def _gold_set_for_page(article_id: int, user_id: int) -> QuerySet[AnnotationSet]:
    return _for_page(_gold_set_with_article.build(article_id, user_id))


@CompiledQuery
def _own_set_opening_page(article_id: int, user_id: int) -> QuerySet[AnnotationSet]:
    return _for_page(_own_set_opening.build(article_id, user_id))


@CompiledQuery
def _gold_set_opening_page(article_id: int, user_id: int) -> QuerySet[AnnotationSet]:
    return _for_page(_gold_set_opening.build(article_id, user_id))


# By (gold?, with the active suggester's state?, with the page's types and counts?).
_SET_QUERIES = {
    (False, False, False): _own_set_with_article,
    (True, False, False): _gold_set_with_article,
    (False, True, False): _own_set_opening,
    (True, True, False): _gold_set_opening,
    (False, False, True): _own_set_for_page,
    (True, False, True): _gold_set_for_page,
    (False, True, True): _own_set_opening_page,
    (True, True, True): _gold_set_opening_page,
}


def _page_url(article: Article, annotation_set: AnnotationSet) -> str:
    url = reverse("review:annotate", args=[article.pk])
    return f"{url}?set=gold" if annotation_set.kind == SetKind.GOLD else url


# The most blocks one request of the block endpoint renders (the page asks for a few at a time).
MAX_BLOCKS_PER_REQUEST = 32
# An action that touches more blocks than this (a bulk decision over the whole article) answers with
# them as text to load again as they come into view, not all rendered at once.
MAX_BLOCKS_PER_ANSWER = 16


def _page_context(request: AuthedRequest, article: Article, annotation_set: AnnotationSet) -> dict[str, Any]:
    """The page's context; its text (`blocks`) and side lists (`lists`) as lists of escaped HTML pieces,
    which `_rendered` or the skeleton (`review.annotate_page`) put in their places."""
    project = article.project
    entity_types, counts, page = load_page_and_counts(
        annotation_set, article.text, carried_types(annotation_set)
    )
    guidelines = _latest_guidelines(annotation_set)
    may_edit = can_edit_set(request.user, project.my_role, annotation_set)  # type: ignore[attr-defined]
    return {
        "article": article,
        "project": project,
        "crumb": shorten(str(article.title or article.external_id or article.pk), 60),
        "url_attributes": _url_attributes(article.pk),
        **{f"{name}_url": fast_reverse(f"review:{name}", (article.pk,)) for name in _LINKS},
        "annotation_set": annotation_set,
        "editable": annotation_set.is_editable and may_edit,
        # A finished set is read only; whoever may edit it may reopen it (as the API allows).
        "can_reopen": may_edit and not annotation_set.is_editable,
        # Not through the template: a template loop over a long article's 500 blocks and 1,500 groups
        # costs more than rendering them (every piece is escaped where it is built).
        "blocks": page.blocks,
        "lists": page.lists,
        "lazy": page.lazy,
        "counts": counts,
        "entity_types": entity_types,
        "guidelines": guidelines,
        "set_guidelines": annotation_set.guideline_version,
        "undo_depth": undo_stack.depth(request.session, annotation_set.pk),
        "set_param": "gold" if annotation_set.kind == SetKind.GOLD else "",
        "suggestion_sources": _sources(page.sources, annotation_set),
        "can_curate": can_curate(project.my_role),  # type: ignore[attr-defined]
        **comments_context(request, article, any_comments=getattr(annotation_set, "has_comments", True)),
        "comment_spans": page.spans[:COMMENT_SPANS] if page.span_options is None else page.span_options,
    }


# The page's links and forms that name the article: `<name>_url` in its context.
_LINKS = ("reopen", "submit", "history", "curate")


def _rendered(request: AuthedRequest, template_name: str, context: dict[str, Any]) -> HttpResponse:
    """The page (or one of its partials) through the template, its text and lists put in as pieces."""
    pieces = Pieces()
    lists = {kind: pieces.part(groups) for kind, groups in context["lists"].items()}
    return pieces.render(
        request, template_name, {**context, "blocks": pieces.part(context["blocks"]), "lists": lists}
    )


# What the page's script posts to and fetches from: `data-<name>-url` on the page's root.
_PAGE_URLS = (
    ("act", "review:act", ("ACTION",)), ("undo", "review:undo", ()), ("submit", "review:submit", ()),
    ("workspace", "review:workspace", ()), ("blocks", "review:blocks", ()),
    ("filter", "review:filtered_blocks", ()), ("candidates", "review:candidates", ()),
    ("relation-types", "review:relation_types", ()), ("new-entity", "review:new_kb_entity", ()),
    ("attributes", "review:attributes", ()),
)  # fmt: skip


# An article id no article has, which the page's URLs hold in the article's place and nowhere else.
_ANY_ARTICLE = 987_654_321_987
_url_attributes_of_any: dict[tuple[str, Any], str] = {}  # by script prefix and URLconf, as fast_reverse


def _url_attributes(article_id: int) -> SafeString:
    """The page's `data-<name>-url` attributes, as `{% url %}` would write them, in one piece (ten
    template tags cost more than the rest of the page's header): written once per process for any
    article, then given this one's id (ten reverses and escapes cost 0.15 ms an open)."""
    key = (get_script_prefix(), get_urlconf())
    if (attributes := _url_attributes_of_any.get(key)) is None:
        attributes = _url_attributes_of_any[key] = " ".join(
            f'data-{name}-url="{escape(fast_reverse(view, (_ANY_ARTICLE, *extra)))}"'
            for name, view, extra in _PAGE_URLS
        )
    # URLs reversed from whole numbers and constants, and escaped
    return mark_safe(attributes.replace(str(_ANY_ARTICLE), str(article_id)))  # noqa: S308


def _latest_guidelines(annotation_set: AnnotationSet) -> GuidelineVersion | None:
    """The project's latest guidelines: usually those the set was made under, already loaded with it."""
    latest_id = getattr(annotation_set, "latest_guidelines_id", ...)
    if latest_id is None:
        return None
    if latest_id == annotation_set.guideline_version_id:
        return annotation_set.guideline_version
    project_id = annotation_set.article.project_id
    return GuidelineVersion.objects.filter(project_id=project_id).order_by("-number").first()


def _sources(loaded: list[str] | None, annotation_set: AnnotationSet) -> list[str]:
    """The sources of the pending suggestions, for the bulk form: those of the rows the page loaded (no
    query), or, on a very large article whose rows load lazily, asked of the database."""
    if loaded is not None:
        return loaded
    pending = Suggestion.objects.filter(pending_suggestions(annotation_set))
    return sorted(pending.order_by().values_list("source", flat=True).distinct()[:50])


@require_GET
def annotate(request: AuthedRequest, article_id: int) -> HttpResponse:
    article, annotation_set = _article_and_set(request, article_id, opening=True)
    suggesting = None
    try:
        active = active_from(annotation_set, article.project) if settings.ANNOTATOR_SUGGEST_ON_OPEN else None
        suggesting = suggest_on_open(article=article, by=request.user, active=active)
    except Exception:
        # Suggestions help; they must never stand between a person and the text.
        logger.exception("Could not compute suggestions for article %s", article.pk)
    context = {**_page_context(request, article, annotation_set), "suggesting": suggesting}
    page = from_skeleton(request, context)
    if page is not None:
        return HttpResponse(page)
    return _rendered(request, "review/annotate.html", context)


@require_GET
def suggesting(request: AuthedRequest, article_id: int) -> HttpResponse:
    """How the job computing the article's suggestions is doing (the page asks every few seconds); when it
    has ended, the answer says so and triggers `suggestions-ready`, on which the page reloads its lists."""
    article = get_article(request, article_id)
    job = get_object_or_404(opening_jobs(article), pk=_int(request.GET.get("job")))
    response = render(request, "review/suggesting.html", {"article": article, "job": job})
    if job.status == JobStatus.SUCCEEDED:
        response["HX-Trigger"] = "suggestions-ready"
    return response


@require_GET
def workspace(request: AuthedRequest, article_id: int) -> HttpResponse:
    """The whole working area (text, lists, state) again: what "reload" fetches after a conflict."""
    article, annotation_set = _article_and_set(request, article_id)
    return _rendered(
        request, "review/annotate.html#workspace", _page_context(request, article, annotation_set)
    )


@require_GET
def blocks(request: AuthedRequest, article_id: int) -> HttpResponse:
    """Blocks `first` to `last` (inclusive) with their annotations and their side-list groups, swapped
    out of band into a page that loads them as they come into view (or as navigation needs them)."""
    article, annotation_set = _article_and_set(request, article_id)
    first, last = _int(request.GET.get("first")), _int(request.GET.get("last"))
    wanted = split_blocks(article.text)[first : last + 1]
    if not wanted or last - first >= MAX_BLOCKS_PER_REQUEST:
        raise Http404(f"No such blocks (at most {MAX_BLOCKS_PER_REQUEST} at a time).")
    return HttpResponse(rendered_range(annotation_set, article.text, wanted))


def _writable_set(request: AuthedRequest, article_id: int) -> tuple[Article, AnnotationSet]:
    article, annotation_set = _article_and_set(request, article_id)
    if not can_edit_set(request.user, article.project.my_role, annotation_set):  # type: ignore[attr-defined]
        raise PermissionDenied("You cannot change this annotation set.")
    return article, annotation_set


def _version(request: AuthedRequest) -> int:
    version = whole_number(request.POST.get("version", ""))
    if version is None:
        raise InvalidAnnotation(
            "The page did not say which version of the set it holds; reload it.", field="version"
        )
    return version


@require_POST
def act(request: AuthedRequest, article_id: int, action: str) -> HttpResponse:
    handler = ACTIONS.get(action)
    if handler is None:
        raise Http404("No such action.")
    article, annotation_set = _writable_set(request, article_id)
    try:
        outcome = handler(Request(annotation_set, request.user, _version(request), request.POST))
    except DomainError as error:
        return _refused(request, article, annotation_set, error)
    undo_stack.push(request.session, annotation_set.pk, outcome.undo)
    return _changed(request, article, annotation_set, outcome)


@require_POST
def undo_last(request: AuthedRequest, article_id: int) -> HttpResponse:
    article, annotation_set = _writable_set(request, article_id)
    operation = undo_stack.pop(request.session, annotation_set.pk)
    try:
        if operation is None:
            raise InvalidAnnotation("There is nothing to undo.", field="undo")
        outcome = undo(Request(annotation_set, request.user, _version(request), request.POST), operation)
    except DomainError as error:
        if isinstance(error, StaleVersion) and operation is not None:
            undo_stack.push(request.session, annotation_set.pk, operation)  # still undoable after a reload
        return _refused(request, article, annotation_set, error)
    return _changed(request, article, annotation_set, outcome)


def _changed(
    request: AuthedRequest, article: Article, annotation_set: AnnotationSet, outcome: Outcome
) -> HttpResponse:
    if not request.htmx:
        messages.success(request, outcome.message)
        return redirect(_page_url(article, annotation_set))
    touched = blocks_touching(split_blocks(article.text), outcome.ranges)
    pending = pending_suggestions(annotation_set)
    counts = set_counts(annotation_set)  # first: a set without relations needs no read of them
    if len(touched) > MAX_BLOCKS_PER_ANSWER:
        # The page loads again those it shows: rendering hundreds of blocks would keep the person waiting.
        view = load_view(annotation_set, article.text, [], pending=pending)
        blocks, lists = (
            render_plain_blocks(article.text, touched, oob=True),
            view.row_groups(oob=True, later=touched),
        )
    else:
        view = load_view(
            annotation_set, article.text, touched, pending=pending, any_relations=counts["relations"] > 0
        )
        blocks, lists = view.rendered_blocks(oob=True), view.row_groups(oob=True)
    context = {
        "annotation_set": annotation_set,
        "article": article,
        "blocks": blocks,
        "lists": lists,
        "counts": counts,
        "message": outcome.message,
        "focus": outcome.focus,
        "undo_depth": undo_stack.depth(request.session, annotation_set.pk),
        "editable": annotation_set.is_editable,  # only a set the user may edit gets this far
    }
    return render(request, "review/changes.html", context)


def _refused(
    request: AuthedRequest, article: Article, annotation_set: AnnotationSet, error: DomainError
) -> HttpResponse:
    if not request.htmx:
        messages.error(request, error.message)
        return redirect(_page_url(article, annotation_set))
    status = 409 if isinstance(error, StaleVersion) else 400
    context = {"error": error, "annotation_set": annotation_set, "conflict": isinstance(error, StaleVersion)}
    return render(request, "review/refused.html", context, status=status)


@require_POST
def submit_and_next(request: AuthedRequest, article_id: int) -> HttpResponse:
    article, annotation_set = _writable_set(request, article_id)
    try:
        submit_set(annotation_set=annotation_set, by=request.user, expected_version=_version(request))
    except DomainError as error:
        return _refused(request, article, annotation_set, error)
    following = next_article(project=article.project, user=request.user, after=article)
    if following is None:
        messages.success(request, "Submitted. There is nothing left for you to annotate in this project.")
        target = reverse("projects:detail", args=[article.project_id])
    else:
        messages.success(request, f"Submitted “{article}”. Here is the next article.")
        target = reverse("review:annotate", args=[following.pk])
    return HttpResponseClientRedirect(target) if request.htmx else redirect(target)


@require_POST
def reopen(request: AuthedRequest, article_id: int) -> HttpResponse:
    """Make the user's submitted set (or curated gold, for curators) editable again; back to the page."""
    article, annotation_set = _writable_set(request, article_id)
    try:
        reopen_set(annotation_set=annotation_set, by=request.user, expected_version=_version(request))
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "Reopened: you can change this set again, then submit it.")
    return redirect(_page_url(article, annotation_set))


@require_GET
def next_in_queue(request: AuthedRequest, project_id: int) -> HttpResponse:
    project = get_project(request, project_id)
    following = next_article(project=project, user=request.user)
    if following is None:
        messages.info(request, "There is nothing left for you to annotate in this project.")
        return redirect(project)
    return redirect("review:annotate", following.pk)


CONTEXT = 300  # characters each side of a span that rank KB candidates by their descriptions


@require_GET
def candidates(request: AuthedRequest, article_id: int) -> HttpResponse:
    """KB candidates for a span (search as you type), with the suggester's link suggestions for it first."""
    article, annotation_set = _article_and_set(request, article_id)
    span = get_object_or_404(
        Span.objects.filter(annotation_set=annotation_set).select_related("entity_type", "link__kb_entity"),
        pk=_int(request.GET.get("span")),
    )
    query = request.GET.get("q", "").strip() or span.surface
    suggested = list(
        Suggestion.objects.filter(article=article, kind=SuggestionKind.LINK, start=span.start, end=span.end)
        .select_related("kb_entity")
        .order_by("-score", "pk")
    )
    # Each KB entity once: the best suggestion for it, and no search hit repeating a suggested entity.
    best: dict[int | None, Suggestion] = {}
    for suggestion in suggested:
        best.setdefault(suggestion.kb_entity_id, suggestion)
    seen = set(best)
    found = find_candidates(project_id=article.project_id, mention=query, entity_type=span.entity_type.name)
    context = {
        "article": article,
        "span": span,
        "query": query,
        "candidates": [candidate for candidate in found if candidate.entity_id not in seen],
        "suggested": list(best.values()),
        "knowledge_bases": KnowledgeBase.objects.filter(project_id=article.project_id),
        "set_param": request.GET.get("set", ""),
    }
    return render(request, "review/candidates.html", context)


@require_GET
def relation_types(request: AuthedRequest, article_id: int) -> HttpResponse:
    """The relation types the schema allows from one span to another: the only ones the page offers."""
    article, annotation_set = _article_and_set(request, article_id)
    spans = Span.objects.filter(annotation_set=annotation_set).select_related("entity_type")
    head = get_object_or_404(spans, pk=_int(request.GET.get("head")))
    tail = get_object_or_404(spans, pk=_int(request.GET.get("tail")))
    types = RelationType.objects.filter(project_id=article.project_id).prefetch_related(
        "head_types", "tail_types"
    )
    allowed = [t for t in types if head.pk != tail.pk and t.allows(head.entity_type_id, tail.entity_type_id)]
    return render(request, "review/relation_types.html", {"head": head, "tail": tail, "allowed": allowed})


@require_GET
def attributes(request: AuthedRequest, article_id: int) -> HttpResponse:
    """The attributes of a span's entity type with the span's values: the form the page posts back."""
    _article, annotation_set = _article_and_set(request, article_id)
    span = get_object_or_404(
        Span.objects.filter(annotation_set=annotation_set).select_related("entity_type"),
        pk=_int(request.GET.get("span")),
    )
    values = {row.attribute_id: row.value for row in SpanAttribute.objects.filter(span=span)}
    fields = [
        (attribute, values.get(attribute.pk))
        for attribute in EntityTypeAttribute.objects.filter(entity_type_id=span.entity_type_id)
    ]
    return render(request, "review/attributes.html", {"span": span, "fields": fields})


def _int(value: str | None) -> int:
    return whole_number(value or "") or 0


@require_POST
def new_kb_entity(request: AuthedRequest, article_id: int) -> HttpResponse:
    """Create a KB entity from the annotate page and link the span to it, as one undoable action.

    The id may be left empty: the KB makes one from the name.
    """
    article, annotation_set = _writable_set(request, article_id)
    try:
        if (knowledge_base_id := whole_number(request.POST.get("knowledge_base", ""))) is None:
            raise InvalidAnnotation(
                "Choose the knowledge base the new entity goes into.", field="knowledge_base"
            )
        knowledge_base = get_object_or_404(
            KnowledgeBase.objects.filter(project_id=article.project_id), pk=knowledge_base_id
        )
        with transaction.atomic():  # the entity and the link to it, or neither
            entity = create_entity(
                knowledge_base=knowledge_base,
                name=request.POST.get("name", ""),
                kb_id=request.POST.get("kb_id", ""),
                description=request.POST.get("description", ""),
                type=request.POST.get("type", ""),
                by=request.user,
            )
            data = request.POST.copy()
            data["kb_entity"] = str(entity.pk)
            outcome = link_span(Request(annotation_set, request.user, _version(request), data))
    except DomainError as error:
        return _refused(request, article, annotation_set, error)
    undo_stack.push(request.session, annotation_set.pk, outcome.undo)
    return _changed(request, article, annotation_set, outcome)


@require_GET
def filtered_blocks(request: AuthedRequest, article_id: int) -> JsonResponse:
    """The blocks whose side-list rows the filter text `q` matches, so that a long article's page can
    load them before filtering (it holds only the rows of the blocks loaded so far)."""
    article, annotation_set = _article_and_set(request, article_id)
    query = request.GET.get("q", "").strip().lower()
    if not query:
        return JsonResponse({"blocks": []})
    view = load_view(annotation_set, article.text, with_marks=False)
    matching = [
        rows.block.index
        for rows in view.rows()
        if any(query in FILTER_TEXTS[kind](item) for kind in LISTS for item in getattr(rows, kind))
    ]
    return JsonResponse({"blocks": matching})
