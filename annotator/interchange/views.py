"""Import pages: a project's imports with the upload form (managers), and one import's live progress.

The upload view reads the body itself: it must put the size-limited upload handler in place before the
CSRF check reads the form, so it is exempt from the middleware's check and protects itself instead.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.datastructures import MultiValueDict
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods

from annotator.core.errors import ProjectArchived
from annotator.core.http import AuthedRequest
from annotator.core.offsets import whole_number
from annotator.interchange.forms import ImportForm, limit_uploads, too_large_message, upload_too_large
from annotator.interchange.options import ImportOptions
from annotator.interchange.services import start_import, store_upload
from annotator.jobs.models import Job, JobKind, JobStatus
from annotator.jobs.progress import live
from annotator.projects.models import Project
from annotator.projects.permissions import can_manage
from annotator.projects.views import get_project

# A queued job nobody picked up after this long probably has no worker to run it.
NO_WORKER_AFTER = timedelta(seconds=15)


def import_jobs(project: Project) -> Paginator:
    jobs = Job.objects.filter(project=project, kind=JobKind.IMPORT_ARTICLES).select_related("created_by")
    return Paginator(jobs, 25)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def imports(request: AuthedRequest, project_id: int) -> HttpResponse:
    handler = limit_uploads(request) if request.method == "POST" else None
    return _imports(request, project_id, handler)


@csrf_protect
def _imports(request: AuthedRequest, project_id: int, handler: object) -> HttpResponse:
    project = get_project(request, project_id)
    form = ImportForm()
    if request.method == "POST":
        if not can_manage(project.my_role):
            raise PermissionDenied
        if project.archived_at is not None:
            messages.error(request, ProjectArchived().message)
            return redirect("interchange:imports", project_id=project.pk)
        if "again" in request.POST:
            return _import_again(request, project)
        started = _upload(request, project, handler)
        if isinstance(started, Job):
            return redirect("interchange:detail", project_id=project.pk, job_id=started.pk)
        form = started
    page = import_jobs(project).get_page(request.GET.get("page"))
    context = {"project": project, "form": form, "page": page, "can_import": can_manage(project.my_role)}
    return render(request, "interchange/imports.html", context, status=400 if form.errors else 200)


def _upload(request: AuthedRequest, project: Project, handler: object) -> ImportForm | Job:
    """Start the import the form describes, or return the form with what is wrong with it."""
    too_large = upload_too_large(request) or bool(getattr(handler, "refused", None))
    form = ImportForm(
        QueryDict() if too_large else request.POST, MultiValueDict() if too_large else request.FILES
    )
    if too_large:
        form.is_valid()
        form.errors.clear()
        form.add_error("file", too_large_message())
        return form
    if not form.is_valid():
        return form
    upload = form.cleaned_data["file"]
    return start_import(
        project=project, path=store_upload(upload), file_name=upload.name, options=form.cleaned_data["options"],
        by=request.user, delete_after=True,
    )  # fmt: skip


def _import_again(request: AuthedRequest, project: Project) -> HttpResponse:
    """Run a dry run's import for real, from the file it kept."""
    earlier = get_object_or_404(
        Job.objects.filter(project=project, kind=JobKind.IMPORT_ARTICLES, status=JobStatus.SUCCEEDED),
        pk=whole_number(request.POST.get("again", "")),
    )
    options = ImportOptions.from_params({**earlier.params, "dry_run": False})
    job = start_import(
        project=project, path=Path(earlier.params["path"]), file_name=earlier.params["file_name"], options=options,
        by=request.user, delete_after=True,
    )  # fmt: skip
    messages.success(request, "Importing for real what the dry run checked.")
    return redirect("interchange:detail", project_id=project.pk, job_id=job.pk)


def _upload_kept(job: Job) -> bool:
    """Whether a dry run's upload is still there to import for real (the reaper deletes old ones)."""
    path = job.params.get("path")
    return bool(path) and Path(path).is_file()


@require_GET
def import_detail(request: AuthedRequest, project_id: int, job_id: int) -> HttpResponse:
    project = get_project(request, project_id)
    job = live(
        get_object_or_404(Job.objects.filter(project=project, kind=JobKind.IMPORT_ARTICLES), pk=job_id)
    )
    context = {
        "project": project,
        "job": job,
        "options": ImportOptions.from_params(job.params),
        "upload_kept": _upload_kept(job),
        "retention_days": settings.ANNOTATOR_UPLOAD_RETENTION_DAYS,
        "can_import": can_manage(project.my_role),
        "no_worker": job.status == JobStatus.QUEUED and timezone.now() - job.created_at > NO_WORKER_AFTER,
    }
    template = "interchange/import_detail.html" + ("#job-status" if request.htmx else "")
    return render(request, template, context)
