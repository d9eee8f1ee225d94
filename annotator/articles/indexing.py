"""The job that writes the search documents of newly imported articles, after their import commits.

Chunked (jobs/chunks.py): each chunk is a run of the project's waiting article ids, any worker takes it,
and a chunk run again (its worker died) finds its articles already done. What a failed or cancelled job
wrote stays written; what it did not stays in the backlog for the next job, which every import starts
and `manage.py index_search` starts by hand.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import transaction

from annotator.articles import search
from annotator.jobs import registry
from annotator.jobs.chunks import Chunk, ChunkedHandler
from annotator.jobs.models import Job, JobChunk, JobKind, JobStatus
from annotator.jobs.progress import Progress
from annotator.jobs.services import JobFailed, create_job, enqueue_job

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from annotator.projects.models import Project


def start_search_indexing(*, project: Project, by: User | None, queue: bool = True) -> Job | None:
    """Queue a job that writes the documents of the project's waiting articles (None: none wait, or a
    queued job will already take them)."""
    if not search.unindexed(project.pk):
        return None
    if (
        queue
        and Job.objects.filter(project=project, kind=JobKind.INDEX_SEARCH, status=JobStatus.QUEUED).exists()
    ):
        return None
    job = create_job(kind=JobKind.INDEX_SEARCH, project=project, params={}, by=by)
    return enqueue_job(job) if queue else job


def plan(job: Job, progress: Progress) -> list[Chunk]:
    if job.project is None:
        raise JobFailed("Indexing needs a project.")
    runs = search.backlog_ranges(job.project.pk)
    waiting = sum(count for _, _, count in runs)
    progress.say(f"Indexing {waiting:,} articles for search.")
    return [
        Chunk(
            label=f"articles #{first}–#{last}" if last > first else f"article #{first}",
            params={"first": first, "last": last},
            total=count,
        )
        for first, last, count in runs
    ]


def index_chunk(job: Job, chunk: JobChunk, progress: Progress) -> dict[str, Any]:
    assert job.project is not None
    with transaction.atomic():
        written = search.index_backlog(
            project_id=job.project.pk, first=chunk.params["first"], last=chunk.params["last"]
        )
    progress.set_done(chunk.progress_total or written)
    return {"indexed": written}


def finish(job: Job, chunks: list[JobChunk], progress: Progress) -> dict[str, Any]:
    indexed = sum(chunk.result.get("indexed", 0) for chunk in chunks)
    progress.say(f"Indexed {indexed:,} articles for search.")
    return {"indexed": indexed}


registry.register_chunked(
    JobKind.INDEX_SEARCH, ChunkedHandler(plan=plan, run_chunk=index_chunk, finish=finish)
)
