"""Comments on an article or a span: who sees them, writing one, and the view the pages post to.

Curators and managers see every comment of the article; other members only their own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import messages
from django.db.models import QuerySet
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from annotator.annotations.models import AnnotationSet, Span
from annotator.articles.views import get_article
from annotator.core.compiled import CompiledQuery
from annotator.core.errors import ProjectArchived
from annotator.core.reversing import fast_reverse
from annotator.projects.permissions import can_curate
from annotator.projects.services import ensure_not_archived
from annotator.review.models import Comment

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from annotator.articles.models import Article
    from annotator.core.http import AuthedRequest


class CommentForm(forms.Form):
    text = forms.CharField(max_length=5000, widget=forms.Textarea(attrs={"rows": 2}))
    span = forms.IntegerField(required=False, min_value=1)


# What every page shows before anyone writes: one unbound form, made once (a form made per page cost
# deep copies of its fields, 3% of the annotate page's CPU). The pages only read its field's value and
# errors, which an unbound form has none of.
UNBOUND_FORM = CommentForm()


def visible_comments(article: Article, user: User, role: str | None) -> QuerySet[Comment]:
    comments = Comment.objects.filter(article=article).select_related("author").order_by("created_at", "id")
    return comments if can_curate(role) else comments.filter(author=user)


@CompiledQuery
def _all_comments(article_id: int) -> QuerySet[Comment]:
    return Comment.objects.filter(article_id=article_id).select_related("author").order_by("created_at", "id")


@CompiledQuery
def _own_comments(article_id: int, user_id: int) -> QuerySet[Comment]:
    return _all_comments.build(article_id).filter(author_id=user_id)


def add_comment(*, article: Article, author: User, text: str, span: Span | None = None) -> Comment:
    """Comment on the article, or on one of its spans (its range is kept with the comment)."""
    ensure_not_archived(article.project_id)
    if span is not None and span.annotation_set.article_id != article.pk:
        raise ValueError("The span belongs to another article.")
    return Comment.objects.create(
        article=article,
        author=author,
        text=text,
        span=span,
        start=span.start if span else None,
        end=span.end if span else None,
    )


def comments_context(
    request: AuthedRequest, article: Article, *, any_comments: bool = True
) -> dict[str, Any]:
    """The comments the user sees, and the form; `any_comments=False` (the caller knows the article has
    none) saves the query."""
    comments = []
    if any_comments:
        if can_curate(article.project.my_role):  # type: ignore[attr-defined]
            comments = _all_comments(article_id=article.pk)
        else:
            comments = _own_comments(article_id=article.pk, user_id=request.user.pk)
    for comment in comments:
        comment.article = article  # the quote reads the text already loaded
    return {
        "comments": comments,
        "comment_form": UNBOUND_FORM,
        "comment_url": fast_reverse("review:comment", (article.pk,)),
        "comment_next": request.get_full_path(),
    }


def _span(request: AuthedRequest, article: Article, pk: int | None) -> Span | None:
    """The span commented on, from a set of this article the user may read; anything else is a 404."""
    if pk is None:
        return None
    readable = AnnotationSet.objects.readable_by(request.user).filter(article=article)
    span = Span.objects.filter(annotation_set__in=readable, pk=pk).select_related("annotation_set").first()
    if span is None:
        raise Http404("No such span.")
    return span


@require_POST
def comment(request: AuthedRequest, article_id: int) -> HttpResponse:
    article = get_article(request, article_id)
    form = CommentForm(request.POST)
    if form.is_valid():
        span = _span(request, article, form.cleaned_data["span"])
        try:
            add_comment(article=article, author=request.user, text=form.cleaned_data["text"], span=span)
        except ProjectArchived as refusal:
            form.add_error("text", refusal.message)
        else:
            if not request.htmx:
                messages.success(request, "Comment added.")
    if form.errors and not request.htmx:
        messages.error(request, " ".join(str(error) for errors in form.errors.values() for error in errors))
    target = request.POST.get("next", "")
    if not request.htmx:
        safe = url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()})
        return redirect(target if safe and target else article.get_absolute_url())
    context = {
        "article": article,
        **comments_context(request, article),
        "comment_next": target,
        "keep_comment_about": True,  # the page's span picker stays (hx-preserve)
    }
    if not form.is_valid():
        context["comment_form"] = form
    return render(request, "review/comments.html", context, status=200 if form.is_valid() else 400)
