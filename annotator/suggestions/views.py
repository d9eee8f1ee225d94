"""The suggesters page: the active suggester, its sources and label map, the learning loop and its curve,
training and pre-annotation jobs, versions and quality; and the page that curates gold in bulk."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from annotator.annotations.models import AnnotationSet, SetKind, SetStatus
from annotator.annotations.services import curate_gold_sets
from annotator.articles.models import ArticleStatus
from annotator.core.http import AuthedRequest
from annotator.jobs.models import Job, JobKind, JobStatus
from annotator.jobs.services import cancel_from_page
from annotator.projects.models import Project
from annotator.projects.permissions import can_curate, can_manage
from annotator.projects.views import get_project
from annotator.suggestions import curve, engine, layering, learning, sources
from annotator.suggestions.configuring import InvalidSettings, change_suggester_settings
from annotator.suggestions.forms import LabelMapForm, LearningForm, PipelineForm
from annotator.suggestions.generate import active_suggester
from annotator.suggestions.jobs import start_preannotation, start_training
from annotator.suggestions.models import SuggesterSettings, SuggesterVersion
from annotator.suggestions.quality import quality_report
from annotator.suggestions.training import activate_suggester, count_training_articles

JOBS_SHOWN = 8


def _jobs(project: Project) -> dict[str, object]:
    """The latest pre-annotation, training and weighing jobs, and whether the page should keep polling
    them."""
    kinds = [JobKind.PREANNOTATE, JobKind.TRAIN_SUGGESTER, JobKind.WEIGH_PIPELINE]
    jobs = list(Job.objects.filter(project=project, kind__in=kinds).select_related("created_by")[:JOBS_SHOWN])
    return {"jobs": jobs, "jobs_running": any(not job.is_finished for job in jobs)}


def _managed_project(request: AuthedRequest, project_id: int) -> Project:
    project = get_project(request, project_id)
    if not can_manage(project.my_role):
        raise PermissionDenied("Only the project's managers can do this.")
    return project


def _page_context(request: AuthedRequest, project: Project) -> dict[str, Any]:
    return {
        "project": project,
        "active": active_suggester(project.pk),
        "report": quality_report(project=project),
        **_jobs(project),
        "can_manage": can_manage(project.my_role),
        "can_curate": can_curate(project.my_role),
        "statuses": ArticleStatus,
    }


@require_GET
def suggesters(request: AuthedRequest, project_id: int) -> HttpResponse:
    project = get_project(request, project_id)
    chosen = sources.project_settings(project)
    context = {**_page_context(request, project), **_settings_context(project, chosen)}
    return render(request, "suggestions/suggesters.html", context)


@require_GET
def job_list(request: AuthedRequest, project_id: int) -> HttpResponse:
    """The jobs region alone, which the page polls while a job runs."""
    project = get_project(request, project_id)
    context = {"project": project, "can_manage": can_manage(project.my_role), **_jobs(project)}
    return render(request, "suggestions/suggesters.html#job-list", context)


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
def cancel(request: AuthedRequest, project_id: int, suggester_job_id: int) -> HttpResponseRedirect:
    """Stop a pre-annotation (the articles it already did keep their new suggestions; running it again
    does the rest), or a training or weighing that has not started; a running one ends on its own."""
    project = _managed_project(request, project_id)
    kinds = [JobKind.PREANNOTATE, JobKind.TRAIN_SUGGESTER, JobKind.WEIGH_PIPELINE]
    job = get_object_or_404(Job.objects.filter(project=project, kind__in=kinds), pk=suggester_job_id)
    what = {str(JobKind.TRAIN_SUGGESTER): "training", str(JobKind.WEIGH_PIPELINE): "weighing"}.get(job.kind)
    if what and job.status == JobStatus.RUNNING:
        messages.error(request, f"A {what} cannot be stopped once it runs; it ends on its own.")
    elif what:
        cancel_from_page(
            request, job, what=what, cancelled=f"{what.capitalize()} cancelled before it started."
        )
    else:
        done = "Articles it already did keep their new suggestions; pre-annotate again for the rest."
        cancel_from_page(request, job, what="pre-annotation", cancelled=f"Pre-annotation cancelled. {done}")
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


# Sources, label map and learning


def _settings_context(project: Project, chosen: SuggesterSettings, **forms_: Any) -> dict[str, Any]:
    active = active_suggester(project.pk)
    pipelines = sources.available_pipelines()
    types = sources.project_types(project.pk)
    spoken = sources.source_labels(project, active)
    effective = sources.effective_label_map(project, active)
    current = {label: effective.get(label, "") for label in spoken}
    annotated = count_training_articles(project.pk)
    running = learning.training_running(project.pk)
    needed = max(chosen.learn_after, 2)  # what train_suggester asks for before it starts
    return {
        "chosen": chosen,
        # Why the Train button cannot run now (it is disabled and says so), or "" when it can.
        "train_blocked": "Training is already running."
        if running
        else f"Training needs at least {needed} annotated articles; this project has {annotated}."
        if annotated < needed
        else "",
        "pipeline_form": forms_.get("pipeline_form")
        or PipelineForm(
            initial=PipelineForm.initial_for(chosen),
            pipelines=pipelines,
            site=settings.ANNOTATOR_SPACY_PIPELINE,
        ),
        "label_form": forms_.get("label_form") or LabelMapForm(spoken=spoken, types=types, current=current),
        "learning_form": forms_.get("learning_form") or LearningForm(instance=chosen),
        "pipelines": pipelines,
        "annotated_articles": annotated,
        "next_training_at": learning.next_training_at(chosen),
        "training_running": running,
        "curve": curve.learning_curve(project),
        "evidence": sources.evidence_table(sources.measured_evidence(project.pk, chosen)),
        "situated": engine.situated_table(chosen),
        "layered": layering.layered_table(chosen),
        "dropped_patterns": sources.dropped_gold_patterns(chosen),
    }


def _apply(request: AuthedRequest, project: Project, form: Any, what: str) -> HttpResponse | None:
    """Save a valid settings form through the service; None when the page must show errors."""
    if not form.is_valid():
        return None
    try:
        change_suggester_settings(project=project, change=form.change(), by=request.user)
    except InvalidSettings as error:
        form.add_error(None, error.message)
        return None
    messages.success(request, f"{what} saved.")
    return redirect("suggestions:suggesters", project.pk)


def _invalid(request: AuthedRequest, project: Project, **forms_: Any) -> HttpResponse:
    chosen = sources.project_settings(project)
    context = {**_page_context(request, project), **_settings_context(project, chosen, **forms_)}
    return render(request, "suggestions/suggesters.html", context, status=400)


@require_POST
def pipeline(request: AuthedRequest, project_id: int) -> HttpResponse:
    project = _managed_project(request, project_id)
    form = PipelineForm(
        request.POST, pipelines=sources.available_pipelines(), site=settings.ANNOTATOR_SPACY_PIPELINE
    )
    return _apply(request, project, form, "The pipeline choice") or _invalid(
        request, project, pipeline_form=form
    )


@require_POST
def label_map(request: AuthedRequest, project_id: int) -> HttpResponse:
    project = _managed_project(request, project_id)
    spoken = sources.source_labels(project, active_suggester(project.pk))
    form = LabelMapForm(request.POST, spoken=spoken, types=sources.project_types(project.pk), current={})
    return _apply(request, project, form, "The label map") or _invalid(request, project, label_form=form)


@require_POST
def learning_settings(request: AuthedRequest, project_id: int) -> HttpResponse:
    project = _managed_project(request, project_id)
    form = LearningForm(request.POST, instance=SuggesterSettings(project=project))
    return _apply(request, project, form, "The learning settings") or _invalid(
        request, project, learning_form=form
    )


# Curating gold in bulk


CURATE_PAGE_SIZE = 100


def _curator_project(request: AuthedRequest, project_id: int) -> Project:
    project = get_project(request, project_id)
    if not can_curate(project.my_role):
        raise PermissionDenied("Only the project's curators and managers can curate gold.")
    return project


def _gold_in_progress(project: Project) -> Any:
    return AnnotationSet.objects.filter(
        article__project=project, kind=SetKind.GOLD, status=SetStatus.IN_PROGRESS
    ).order_by("article_id")


@require_http_methods(["GET", "POST"])
def curate_gold(request: AuthedRequest, project_id: int) -> HttpResponse:
    """Gold sets still in progress (imported gold arrives so), to mark curated many at a time."""
    project = _curator_project(request, project_id)
    if request.method == "POST":
        if request.POST.get("everything"):
            marked = curate_gold_sets(project=project, by=request.user)
        else:
            ids = [int(value) for value in request.POST.getlist("article") if value.isdigit()]
            if not ids:
                messages.error(request, "Tick the gold sets to mark curated, or mark all of them.")
                return redirect("suggestions:curate_gold", project.pk)
            marked = curate_gold_sets(project=project, by=request.user, article_ids=ids)
        messages.success(request, f"{marked} gold set{pluralize(marked)} marked curated.")
        return redirect("suggestions:curate_gold", project.pk)
    sets = _gold_in_progress(project).select_related("article").annotate(spans_count=Count("spans"))
    page = Paginator(sets, CURATE_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"project": project, "page": page, "total": page.paginator.count}
    return render(request, "suggestions/curate_gold.html", context)
