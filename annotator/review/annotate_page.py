"""The annotate page from a skeleton (`review.skeleton`): its shape, and each request's values.

What shapes the page is the project (its types, its name), the set's kind and state, what the user may
do, the guidelines, the sources of the pending suggestions and whether there are spans to comment on:
the same for every open of a project's articles by people in the same role. The rest (the text with
its marks, the lists, the counts, the version, the URLs, the CSRF token) fills the skeleton in.

A page with comments, with messages to show or with a job computing its suggestions is rendered by the
template as before: they are rare, and each would add shapes for one open.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any, NamedTuple

from django.conf import settings
from django.contrib.messages import get_messages
from django.utils.formats import localize
from django.utils.safestring import SafeString

from annotator.review.comments import UNBOUND_FORM, CommentForm
from annotator.review.page_token import page_token
from annotator.review.skeleton import fill, skeleton
from annotator.review.templatetags.span_options import span_options

if TYPE_CHECKING:
    from annotator.core.http import AuthedRequest

TEMPLATE = "review/annotate.html"


class ArticleShape(NamedTuple):
    title: SafeString

    def __str__(self) -> str:
        return fill("name")


class ProjectShape(NamedTuple):
    pk: int
    name: str


class SetShape(NamedTuple):
    kind: str
    status: str
    get_status_display: str
    version: SafeString


class UserShape(NamedTuple):
    is_authenticated: bool
    is_staff: bool
    get_username: SafeString


class TypeShape(NamedTuple):
    pk: int
    name: str
    key: str


class GuidelinesShape(NamedTuple):
    number: int
    text: str


class Triple(NamedTuple):
    """The three lists' counts, or their groups."""

    suggestions: SafeString
    spans: SafeString
    relations: SafeString


class PageShape(NamedTuple):
    """The annotate page's context as the skeleton renders it: every name the template reads."""

    article: ArticleShape
    project: ProjectShape
    annotation_set: SetShape
    user: UserShape
    csrf_token: SafeString
    crumb: SafeString
    url_attributes: SafeString
    set_param: str
    editable: bool
    can_reopen: bool
    can_curate: bool
    reopen_url: SafeString
    submit_url: SafeString
    history_url: SafeString
    curate_url: SafeString
    guidelines: GuidelinesShape | None
    set_guidelines: GuidelinesShape | None
    undo_depth: SafeString
    blocks: SafeString
    lists: Triple
    counts: Triple
    entity_types: tuple[TypeShape, ...]
    suggestion_sources: tuple[str, ...]
    suggesting: None
    comments: tuple[()]
    comment_form: CommentForm
    comment_url: SafeString
    comment_next: SafeString
    comment_spans: SafeString | str


# The markers of the values a request fills in, made once: every open asks for each.
_M = {name: fill(name) for name in (
    "title", "version", "username", "csrf_token", "crumb", "url_attributes", "reopen_url", "submit_url",
    "history_url", "curate_url", "undo_depth", "blocks", "comment_url", "comment_next", "comment_spans",
)}  # fmt: skip
_LISTS = Triple(fill("list_suggestions"), fill("list_spans"), fill("list_relations"))
_COUNTS = Triple(fill("count_suggestions"), fill("count_spans"), fill("count_relations"))


def from_skeleton(request: AuthedRequest, context: dict[str, Any]) -> bytes | None:
    """The page of `context` (the view's, with the text and lists as pieces) from its shape's skeleton;
    None for a page the template renders (comments, messages, a job computing suggestions)."""
    if context["comments"] or context["suggesting"] is not None or len(get_messages(request)):
        return None
    return skeleton(TEMPLATE, shape(request, context)).page(values(request, context))


def shape(request: AuthedRequest, context: dict[str, Any]) -> PageShape:
    project, annotation_set = context["project"], context["annotation_set"]
    guidelines, started_under = context["guidelines"], context["set_guidelines"]
    return PageShape(
        article=ArticleShape(_M["title"]),
        project=ProjectShape(project.pk, project.name),
        annotation_set=SetShape(
            annotation_set.kind, annotation_set.status, annotation_set.get_status_display(), _M["version"]
        ),
        user=UserShape(request.user.is_authenticated, request.user.is_staff, _M["username"]),
        csrf_token=_M["csrf_token"],
        crumb=_M["crumb"],
        url_attributes=_M["url_attributes"],
        set_param=context["set_param"],
        editable=context["editable"],
        can_reopen=context["can_reopen"],
        can_curate=context["can_curate"],
        reopen_url=_M["reopen_url"],
        submit_url=_M["submit_url"],
        history_url=_M["history_url"],
        curate_url=_M["curate_url"],
        guidelines=guidelines and GuidelinesShape(guidelines.number, guidelines.text),
        set_guidelines=started_under and GuidelinesShape(started_under.number, ""),
        undo_depth=_M["undo_depth"],
        blocks=_M["blocks"],
        lists=_LISTS,
        counts=_COUNTS,
        entity_types=tuple(TypeShape(kind.pk, kind.name, kind.key) for kind in context["entity_types"]),
        suggestion_sources=tuple(context["suggestion_sources"]),
        suggesting=None,
        comments=(),
        comment_form=UNBOUND_FORM,
        comment_url=_M["comment_url"],
        comment_next=_M["comment_next"],
        comment_spans=_M["comment_spans"] if context["comment_spans"] else "",
    )


def values(request: AuthedRequest, context: dict[str, Any]) -> dict[str, str | list[SafeString]]:
    """Each marker's value, escaped as the template writes it."""
    article, counts, lists = context["article"], context["counts"], context["lists"]
    return {
        "name": escape(str(article)),
        "title": escape(article.title) if article.title else "(untitled)",
        "version": _number(context["annotation_set"].version),
        "username": escape(request.user.get_username()),
        "csrf_token": page_token(request),  # letters and digits: nothing to escape
        "crumb": escape(context["crumb"]),
        "url_attributes": context["url_attributes"],
        "reopen_url": escape(context["reopen_url"]),
        "submit_url": escape(context["submit_url"]),
        "history_url": escape(context["history_url"]),
        "curate_url": escape(context["curate_url"]),
        "undo_depth": _number(context["undo_depth"]),
        "blocks": context["blocks"],
        "list_suggestions": lists["suggestions"],
        "list_spans": lists["spans"],
        "list_relations": lists["relations"],
        "count_suggestions": _number(counts["suggestions"]),
        "count_spans": _number(counts["spans"]),
        "count_relations": _number(counts["relations"]),
        "comment_url": escape(context["comment_url"]),
        "comment_next": escape(context["comment_next"]),
        "comment_spans": span_options(context["comment_spans"]),
    }


def _number(value: int) -> str:
    """A whole number as the template writes it (with the site's thousand separators, if it uses any)."""
    return localize(value) if settings.USE_THOUSAND_SEPARATOR else str(value)
