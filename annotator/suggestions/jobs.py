"""Pre-annotation and training as jobs: how to start them, and the handlers workers run."""

from __future__ import annotations

import socket
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils import timezone

from annotator.jobs import registry
from annotator.jobs.chunks import Chunk, ChunkedHandler, article_chunks, worker_name
from annotator.jobs.models import Job, JobChunk, JobKind, JobStatus
from annotator.jobs.services import JobFailed, create_job, enqueue_job
from annotator.suggestions import learning
from annotator.suggestions.generate import (
    article_ids_to_preannotate,
    ensure_active_suggester,
    preannotate_articles,
)
from annotator.suggestions.layering import weigh_pipeline
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


def plan_preannotation(job: Job, progress: Progress) -> list[Chunk]:
    """The articles to pre-annotate, in chunks of ANNOTATOR_JOB_CHUNK_ARTICLES, all with one suggester
    version (fixed here, so that every chunk runs the same one whichever worker takes it)."""
    assert job.project is not None
    if "suggester_version" in job.params:
        version = SuggesterVersion.objects.filter(
            project=job.project, pk=job.params["suggester_version"]
        ).first()
        if version is None:
            raise JobFailed("The suggester version this job was asked to run no longer exists.")
    else:
        version = ensure_active_suggester(project=job.project)
    ids = article_ids_to_preannotate(
        project=job.project, article_ids=job.params.get("article_ids"), status=job.params.get("status")
    )
    return article_chunks(ids, suggester_version=version.pk)


def preannotate_chunk(job: Job, chunk: JobChunk, progress: Progress) -> dict[str, Any]:
    assert job.project is not None
    version = SuggesterVersion.objects.filter(
        project=job.project, pk=chunk.params["suggester_version"]
    ).first()
    if version is None:
        raise JobFailed("The suggester version this job was asked to run no longer exists.")
    report = preannotate_articles(
        project=job.project,
        article_ids=chunk.params["article_ids"],
        suggester_version=version,
        progress=progress,
        # An article whose page is waiting (a long one, opened: suggest_on_open) needs its links now.
        defer_links=False if "opened" in job.params else None,
        other_workers=other_busy_workers(),
    )
    return report.as_dict()


def other_busy_workers() -> int:
    """How many other processes (or threads) of this machine run a chunk of a job now, by the chunks
    marked running with a recent heartbeat (pre-annotation asks before it decides whether its pipeline
    takes a core of its own: `generate.pipe_process_wanted`)."""
    host = socket.gethostname()
    me = worker_name()
    cutoff = timezone.now() - timedelta(seconds=settings.ANNOTATOR_JOB_HEARTBEAT_TIMEOUT)
    busy = set(
        JobChunk.objects.filter(
            status=JobStatus.RUNNING, worker__startswith=f"{host}:", heartbeat_at__gte=cutoff
        )
        .exclude(worker=me)
        .values_list("worker", flat=True)
    )
    return len(busy)


def finish_preannotation(job: Job, chunks: list[JobChunk], progress: Progress) -> dict[str, Any]:
    """The job's counts are the sums of its chunks' (each chunk committed its own batches)."""
    totals = {
        key: sum(chunk.result[key] for chunk in chunks) for key in ("articles", "created", "deleted", "kept")
    }
    if chunks:
        suggester = chunks[0].result["suggester"]
    else:  # no article to pre-annotate: name the version it would have run
        versions = SuggesterVersion.objects.filter(project=job.project)
        chosen = job.params.get("suggester_version")
        version = versions.filter(pk=chosen).first() if chosen else versions.filter(is_active=True).first()
        suggester = str(version) if version is not None else ""
    progress.say(
        f"Pre-annotated {totals['articles']} articles: {totals['created']} suggestions added, "
        f"{totals['deleted']} replaced."
    )
    return {**totals, "suggester": suggester}


# Not all or nothing: each batch of a chunk commits, so a failed or cancelled job keeps what its finished
# batches stored, and running it again (idempotent) completes it. Nothing to undo.
registry.register_chunked(
    JobKind.PREANNOTATE,
    ChunkedHandler(plan=plan_preannotation, run_chunk=preannotate_chunk, finish=finish_preannotation),
)


@registry.register(JobKind.TRAIN_SUGGESTER)
def run_training(job: Job, progress: Progress) -> dict[str, Any]:
    assert job.project is not None
    # The project's pretrained pipeline (add mode) is weighed again on the gold as it now stands.
    weighed = weigh_pipeline(project=job.project, progress=progress)
    try:
        report = train_suggester(project=job.project, by=job.created_by, progress=progress)
    except TrainingRefused as refusal:
        raise JobFailed(refusal.message) from None
    result = {
        "suggester_version": report.version.pk,
        "name": str(report.version),
        "activated": report.activated,
        "f1": round(report.f1, 4),
        "baseline": report.baseline,
        "baseline_f1": round(report.baseline_f1, 4),
        "compared_on": report.compared_on,
        "cross_validated_f1": report.version.metrics["entities"]["ALL"]["f1"],
    }
    if weighed is not None:
        result["pipeline_weighed_on"] = weighed.articles
    return result


@registry.register(JobKind.WEIGH_PIPELINE)
def run_weighing(job: Job, progress: Progress) -> dict[str, Any]:
    """Weigh the project's pretrained pipeline (add mode) on its curated gold as it now stands (queued
    after a bulk curation: `learning.maybe_weigh_pipeline`)."""
    assert job.project is not None
    weighed = weigh_pipeline(project=job.project, progress=progress)
    if weighed is None:  # the manager changed the pipeline or its mode meanwhile, or the gold was reopened
        progress.say(
            "Nothing to weigh: the project has no pretrained pipeline in add mode, or no curated gold."
        )
        return {"pipeline_weighed_on": 0}
    progress.say(
        f"{weighed.source} weighed on {weighed.articles} curated gold articles: the gazetteer and rules alone "
        f"F1 {weighed.others_f1:.3f} there; the merge now lays the pipeline over them by what it measured."
    )
    return {
        "pipeline_weighed_on": weighed.articles,
        "source": weighed.source,
        "others_f1": weighed.others_f1,
        "keep": weighed.keep,
    }
