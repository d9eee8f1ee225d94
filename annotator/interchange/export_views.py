"""Export pages for curators and managers: the form (download now, or a job for big files), a job's
live progress, and its file."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from annotator.core.http import AuthedRequest
from annotator.interchange.downloads import export_response, job_file_response
from annotator.interchange.export_forms import ExportForm
from annotator.interchange.exports import ExportQuery, count_articles, export_path, runs_as_job, start_export
from annotator.interchange.views import NO_WORKER_AFTER
from annotator.jobs.models import Job, JobKind, JobStatus
from annotator.jobs.progress import live
from annotator.jobs.services import cancel_from_page
from annotator.projects.models import Project
from annotator.projects.permissions import can_curate, can_manage
from annotator.projects.views import get_project

NOTHING = {
    "gold": "Nothing to export: no article has a gold set matching these filters yet. Curate articles "
    "(or import gold) first, or export the annotators' sets.",
    "imported": "Nothing to export: no article has an imported set matching these filters.",
    "all": "Nothing to export: no annotation set matches these filters.",
}


def exporting_project(request: AuthedRequest, project_id: int) -> Project:
    project = get_project(request, project_id)
    if not can_curate(project.my_role):  # type: ignore[attr-defined]
        raise PermissionDenied
    return project


@require_http_methods(["GET", "POST"])
def exports(request: AuthedRequest, project_id: int) -> HttpResponseBase:
    project = exporting_project(request, project_id)
    form = ExportForm(request.POST if request.method == "POST" else None, project=project)
    nothing = ""
    if request.method == "POST" and form.is_valid():
        query: ExportQuery = form.cleaned_data["query"]
        if not count_articles(project, query):
            # An empty file with no word of why helps no one: say so, and keep the form as it was filled.
            nothing = NOTHING.get(str(query.sets), NOTHING["all"])
        elif not (form.cleaned_data["background"] or runs_as_job(project, query)):
            return export_response(project, query)
        else:
            job = start_export(project=project, query=query, by=request.user)
            return redirect("exports:detail", project_id=project.pk, export_job_id=job.pk)
    jobs = Job.objects.filter(project=project, kind=JobKind.EXPORT).select_related("created_by")
    context = {
        "project": project,
        "form": form,
        "page": Paginator(jobs, 25).get_page(request.GET.get("page")),
        "nothing": nothing,
    }
    return render(request, "interchange/exports.html", context, status=400 if form.errors else 200)


def export_job(project: Project, export_job_id: int) -> Job:
    return live(get_object_or_404(Job.objects.filter(project=project, kind=JobKind.EXPORT), pk=export_job_id))


@require_GET
def export_detail(request: AuthedRequest, project_id: int, export_job_id: int) -> HttpResponse:
    project = exporting_project(request, project_id)
    job = export_job(project, export_job_id)
    context = {
        "project": project,
        "job": job,
        "query": ExportQuery.from_params(job.params),
        "no_worker": job.status == JobStatus.QUEUED and timezone.now() - job.created_at > NO_WORKER_AFTER,
        "can_cancel": not job.is_finished and may_cancel(request, project, job),
    }
    template = "interchange/export_detail.html" + ("#job-status" if request.htmx else "")
    return render(request, template, context)


def may_cancel(request: AuthedRequest, project: Project, job: Job) -> bool:
    """Whoever started an export may stop it, and the project's managers."""
    return job.created_by_id == request.user.pk or can_manage(project.my_role)  # type: ignore[attr-defined]


@require_http_methods(["POST"])
def export_cancel(request: AuthedRequest, project_id: int, export_job_id: int) -> HttpResponseBase:
    """Stop an export: its queued parts never start, its running ones stop, and it leaves no file."""
    project = exporting_project(request, project_id)
    job = export_job(project, export_job_id)
    if not may_cancel(request, project, job):
        raise PermissionDenied
    cancel_from_page(request, job, what="export", cancelled="Export cancelled. It leaves no file.")
    return redirect("exports:detail", project_id=project.pk, export_job_id=job.pk)


@require_GET
def export_download(request: AuthedRequest, project_id: int, export_job_id: int) -> HttpResponseBase:
    project = exporting_project(request, project_id)
    job = export_job(project, export_job_id)
    if job.status != JobStatus.SUCCEEDED or not export_path(job).exists():
        raise Http404("This export has no file (yet, or any more).")
    return job_file_response(job)
