"""Pre-annotation and training as jobs: how to start them, and the handlers workers run."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from annotator.jobs import registry
from annotator.jobs.models import Job, JobKind
from annotator.jobs.services import JobFailed, create_job, enqueue_job
from annotator.suggestions import learning
from annotator.suggestions.generate import preannotate_articles
from annotator.suggestions.models import SuggesterVersion
from annotator.suggestions.training import TrainingRefused, train_suggester

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from annotator.jobs.progress import Progress
    from annotator.projects.models import Project


def start_preannotation(
    *,
    project: Project,
    by: User | None,
    article_ids: list[int] | None = None,
    status: str | None = None,
    suggester_version: SuggesterVersion | None = None,
) -> Job:
    """Queue pre-annotation of the project's articles (all, those given, and/or those of one status)."""
    params: dict[str, Any] = {}
    if article_ids is not None:
        params["article_ids"] = sorted(set(article_ids))
    if status:
        params["status"] = status
    if suggester_version is not None:
        params["suggester_version"] = suggester_version.pk
    return enqueue_job(create_job(kind=JobKind.PREANNOTATE, project=project, params=params, by=by))


def start_training(*, project: Project, by: User | None) -> Job:
    """Queue training of a new version of the project's model from its annotated articles."""
    return learning.start_training(project_id=project.pk, by=by)


@registry.register(JobKind.PREANNOTATE)
def run_preannotation(job: Job, progress: Progress) -> dict[str, Any]:
    assert job.project is not None
    version = None
    if "suggester_version" in job.params:
        version = SuggesterVersion.objects.filter(
            project=job.project, pk=job.params["suggester_version"]
        ).first()
        if version is None:
            raise JobFailed("The suggester version this job was asked to run no longer exists.")
    report = preannotate_articles(
        project=job.project,
        article_ids=job.params.get("article_ids"),
        status=job.params.get("status"),
        suggester_version=version,
        progress=progress,
    )
    return report.as_dict()


@registry.register(JobKind.TRAIN_SUGGESTER)
def run_training(job: Job, progress: Progress) -> dict[str, Any]:
    assert job.project is not None
    try:
        report = train_suggester(project=job.project, by=job.created_by, progress=progress)
    except TrainingRefused as refusal:
        raise JobFailed(refusal.message) from None
    return {
        "suggester_version": report.version.pk,
        "name": str(report.version),
        "activated": report.activated,
        "f1": round(report.f1, 4),
        "baseline": report.baseline,
        "baseline_f1": round(report.baseline_f1, 4),
        "compared_on": report.compared_on,
        "cross_validated_f1": report.version.metrics["entities"]["ALL"]["f1"],
    }
