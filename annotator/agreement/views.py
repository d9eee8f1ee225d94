"""The agreement dashboard and its drill-down: curators and managers only (annotators get 403)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from annotator.agreement.reports import (
    article_rows,
    articles_behind,
    build_report,
    describe_focus,
    parse_focus,
)
from annotator.agreement.services import project_agreement
from annotator.core.http import AuthedRequest
from annotator.projects.models import Project
from annotator.projects.permissions import can_curate
from annotator.projects.views import get_project

ARTICLES_PER_PAGE = 50


def curated_project(request: AuthedRequest, project_id: int) -> Project:
    project = get_project(request, project_id)
    if not can_curate(project.my_role):
        raise PermissionDenied("Only the project's curators and managers see agreement.")
    return project


def include_in_progress(request: AuthedRequest) -> bool:
    return request.GET.get("in_progress") == "1"


@require_GET
def dashboard(request: AuthedRequest, project_id: int) -> HttpResponse:
    project = curated_project(request, project_id)
    in_progress = include_in_progress(request)
    agreement = project_agreement(project_id=project.pk, include_in_progress=in_progress)
    context = {
        "project": project,
        "report": build_report(project_id=project.pk, agreement=agreement),
        "in_progress": in_progress,
        "base_query": "in_progress=1&" if in_progress else "",
    }
    return render(request, "agreement/dashboard.html", context)


@require_GET
def articles(request: AuthedRequest, project_id: int) -> HttpResponse:
    """The articles behind one figure of the dashboard, worst agreement first."""
    project = curated_project(request, project_id)
    focus = parse_focus(
        label=request.GET.get("label"),
        pair=request.GET.get("pair"),
        relation_type=request.GET.get("relation_type"),
    )
    title = None if focus is None else describe_focus(project_id=project.pk, focus=focus)
    if focus is None or title is None:
        raise Http404("No such figure in this project.")
    in_progress = include_in_progress(request)
    agreement = project_agreement(project_id=project.pk, include_in_progress=in_progress)
    page = Paginator(articles_behind(agreement, focus), ARTICLES_PER_PAGE).get_page(request.GET.get("page"))
    rows = article_rows(project_id=project.pk, agreement=agreement, shares=page.object_list)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "project": project,
        "title": title,
        "page": page,
        "rows": rows,
        "query": query.urlencode(),
        "in_progress": in_progress,
        "dashboard_query": "in_progress=1" if in_progress else "",
    }
    return render(request, "agreement/articles.html", context)
