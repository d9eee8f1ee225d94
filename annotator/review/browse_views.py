"""The article browser of a project: search and filters for members, delete and re-queue for managers."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from annotator.articles import search
from annotator.articles.models import ArticleStatus
from annotator.core.http import AuthedRequest
from annotator.core.offsets import whole_number
from annotator.projects.models import EntityType, Membership, Project
from annotator.projects.permissions import can_manage
from annotator.projects.views import get_project
from annotator.review import browse
from annotator.review.article_actions import (
    delete_articles,
    deletion_counts,
    requeue_articles,
    selected_articles,
)


class FiltersForm(forms.Form):
    q = forms.CharField(required=False, max_length=500, label="Search")
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *ArticleStatus.choices])
    assignee = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="Annotator")
    type = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="Has a span of type")
    undecided = forms.BooleanField(required=False, label="Has undecided suggestions")
    imported = forms.CharField(required=False, max_length=100, label="Imported set")
    sort = forms.ChoiceField(required=False, choices=list(browse.SORTS.items()))

    def __init__(self, *args: object, project: Project, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        people = Membership.objects.filter(project=project).select_related("user").order_by("user__username")
        self.fields["assignee"].choices = [("", "Anyone")] + [  # type: ignore[attr-defined]
            (m.user_id, m.user.get_username()) for m in people
        ]
        types = EntityType.objects.filter(project=project).order_by("position", "name")
        self.fields["type"].choices = [("", "Any")] + [(t.pk, t.name) for t in types]  # type: ignore[attr-defined]

    def filters(self) -> browse.ArticleFilters:
        data = self.cleaned_data if self.is_valid() else {}
        return browse.ArticleFilters(
            query=data.get("q") or "",
            status=data.get("status") or "",
            assignee=data.get("assignee"),
            entity_type=data.get("type"),
            undecided=bool(data.get("undecided")),
            imported_set=data.get("imported") or "",
            sort=data.get("sort") or "new",
        )


@require_GET
def articles_page(request: AuthedRequest, project_id: int) -> HttpResponse:
    project = get_project(request, project_id)
    form = FiltersForm(request.GET or None, project=project)
    filters = form.filters()
    waiting = search.unindexed(project.pk)
    rows, next_cursor = browse.page(
        browse.filtered(project, filters, waiting=waiting), filters.sort, request.GET.get("after", "")
    )
    query = request.GET.copy()
    query.pop("after", None)
    context = {
        "project": project,
        "form": form,
        "rows": browse.describe(rows),
        "next_cursor": next_cursor,
        "first_page": bool(request.GET.get("after")),
        "query_string": query.urlencode(),
        "can_manage": can_manage(project.my_role),
        "unindexed": waiting,
        "unindexed_label": f"{waiting:,}",
        "searched_word_by_word": waiting <= search.FALLBACK_MAX,
    }
    return render(request, "review/articles.html", context)


def _managed_selection(request: AuthedRequest, project_id: int) -> tuple[Project, list[int]]:
    project = get_project(request, project_id)
    if not can_manage(project.my_role):
        raise PermissionDenied("Only the project's managers delete or re-queue articles.")
    ids = [number for value in request.POST.getlist("article") if (number := whole_number(value)) is not None]
    return project, selected_articles(project, ids)


@require_POST
def delete_page(request: AuthedRequest, project_id: int) -> HttpResponse:
    """First the counts of what would go, then (with `confirm`) the deletion itself."""
    project, ids = _managed_selection(request, project_id)
    if not ids:
        messages.error(request, "Choose the articles to delete first.")
        return redirect("browse:articles", project.pk)
    if request.POST.get("confirm") != "1":
        context = {"project": project, "ids": ids, "counts": deletion_counts(ids).rows()}
        return render(request, "review/articles_delete.html", context)
    counts = delete_articles(project=project, article_ids=ids)
    messages.success(request, f"Deleted {counts.articles} article{'s' if counts.articles != 1 else ''} "
                     f"with {counts.sets} annotation sets and {counts.suggestions} suggestions.")  # fmt: skip
    return redirect("browse:articles", project.pk)


@require_POST
def requeue_page(request: AuthedRequest, project_id: int) -> HttpResponse:
    project, ids = _managed_selection(request, project_id)
    if not ids:
        messages.error(request, "Choose the articles to put back in the queue first.")
        return redirect("browse:articles", project.pk)
    done = requeue_articles(project=project, article_ids=ids, by=request.user)
    messages.success(
        request,
        f"{done.articles} article(s) back in the queue: {done.reopened} submitted set(s) and "
        f"{done.gold_reopened} curated gold set(s) are open again.",
    )
    return redirect("browse:articles", project.pk)
