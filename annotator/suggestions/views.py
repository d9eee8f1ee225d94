"""The suggesters page: the active suggester, training and pre-annotation jobs, versions and quality."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from annotator.articles.models import ArticleStatus
from annotator.core.http import AuthedRequest
from annotator.jobs.models import Job, JobKind
from annotator.projects.models import Project
from annotator.projects.permissions import can_manage
from annotator.projects.views import get_project
from annotator.suggestions.generate import active_suggester
from annotator.suggestions.jobs import start_preannotation, start_training
from annotator.suggestions.models import SuggesterVersion
from annotator.suggestions.quality import quality_report
from annotator.suggestions.training import activate_suggester

JOBS_SHOWN = 8


def _jobs(project: Project) -> dict[str, object]:
    """The latest pre-annotation and training jobs, and whether the page should keep polling them."""
    kinds = [JobKind.PREANNOTATE, JobKind.TRAIN_SUGGESTER]
    jobs = list(Job.objects.filter(project=project, kind__in=kinds).select_related("created_by")[:JOBS_SHOWN])
    return {"jobs": jobs, "jobs_running": any(not job.is_finished for job in jobs)}


def _managed_project(request: AuthedRequest, project_id: int) -> Project:
    project = get_project(request, project_id)
    if not can_manage(project.my_role):
        raise PermissionDenied("Only the project's managers can do this.")
    return project


@require_GET
def suggesters(request: AuthedRequest, project_id: int) -> HttpResponse:
    project = get_project(request, project_id)
    context = {
        "project": project,
        "active": active_suggester(project.pk),
        "report": quality_report(project=project),
        **_jobs(project),
        "can_manage": can_manage(project.my_role),
        "statuses": ArticleStatus,
    }
    return render(request, "suggestions/suggesters.html", context)


@require_GET
def job_list(request: AuthedRequest, project_id: int) -> HttpResponse:
    """The jobs region alone, which the page polls while a job runs."""
    project = get_project(request, project_id)
    return render(request, "suggestions/suggesters.html#job-list", {"project": project, **_jobs(project)})


@require_POST
def train(request: AuthedRequest, project_id: int) -> HttpResponseRedirect:
    project = _managed_project(request, project_id)
    job = start_training(project=project, by=request.user)
    messages.success(request, f"Training started (job {job.pk}). Its progress shows below.")
    return redirect("suggestions:suggesters", project.pk)


@require_POST
def preannotate(request: AuthedRequest, project_id: int) -> HttpResponseRedirect:
    project = _managed_project(request, project_id)
    status = request.POST.get("status", "")
    if status and status not in ArticleStatus.values:
        messages.error(request, "Choose an article status from the list, or all articles.")
        return redirect("suggestions:suggesters", project.pk)
    job = start_preannotation(project=project, by=request.user, status=status or None)
    messages.success(request, f"Pre-annotation started (job {job.pk}). Its progress shows below.")
    return redirect("suggestions:suggesters", project.pk)


@require_POST
def activate(request: AuthedRequest, project_id: int, suggester_id: int) -> HttpResponseRedirect:
    project = _managed_project(request, project_id)
    version = get_object_or_404(SuggesterVersion.objects.filter(project=project), pk=suggester_id)
    activate_suggester(suggester_version=version, by=request.user)
    messages.success(
        request, f"{version} is now the active suggester. Pre-annotate to refresh stored suggestions."
    )
    return redirect("suggestions:suggesters", project.pk)
