"""Creating, running and reaping jobs. Handlers own their data transaction; this module owns the Job row."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone

from annotator.jobs.chunks import (
    ChunkedHandler,
    enqueue_chunk,
    finish_job,
    plan_chunks,
    reap_stale_chunks,
    run_chunk,
    stop_other_chunks,
)
from annotator.jobs.models import Job, JobStatus
from annotator.jobs.progress import Listener, Progress, read_side_file
from annotator.jobs.registry import handler_for

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from annotator.projects.models import Project

logger = logging.getLogger(__name__)


class JobFailed(Exception):
    """Raised by a handler to end its job as failed, with a report of what was wrong."""

    def __init__(self, message: str, *, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or [{"message": message}]


def create_job(*, kind: str, project: Project | None, params: dict[str, Any], by: User | None) -> Job:
    handler_for(kind)  # refuse a kind nothing can run before anyone waits on it
    return Job.objects.create(kind=kind, project=project, params=params, created_by=by)


def enqueue_job(job: Job) -> Job:
    """Queue the job for a worker once the current transaction commits (so the worker can see it)."""
    from annotator.jobs.tasks import run_job_task

    def enqueue() -> None:
        result = run_job_task.enqueue(job.pk)
        Job.objects.filter(pk=job.pk, task_id="").update(task_id=str(result.id))

    transaction.on_commit(enqueue)
    return job


def run_job(job: Job, *, listener: Listener | None = None, spread: bool = False) -> Job:
    """Run a queued job: claim it, call its handler, record how it ended.

    A chunked job (jobs/chunks.py) is planned here; with `spread` (a worker running the job's task) its
    chunks go to the queue for any worker to take and the job ends when the last one does, otherwise (the
    command line, inline) this process runs them one after the other. `listener` is called with the
    Progress each time it is written (a command line's progress bar).
    """
    claimed = Job.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(
        status=JobStatus.RUNNING,
        started_at=timezone.now(),
        heartbeat_at=timezone.now(),
        attempts=F("attempts") + 1,
    )
    job.refresh_from_db()
    if not claimed:
        logger.info("Job %s is %s, not queued: not running it.", job.pk, job.status)
        return job
    handler = handler_for(job.kind)
    progress = Progress(job, listener=listener)
    try:
        if isinstance(handler, ChunkedHandler):
            _start_chunks(job, handler, progress, listener=listener, spread=spread)
            return job
        result = handler(job, progress)
    except JobFailed as failure:
        end_job(job, progress, JobStatus.FAILED, message=failure.message, errors=failure.errors)
    except Exception as error:
        logger.exception("Job %s (%s) crashed", job.pk, job.kind)
        message = f"The job stopped on an unexpected error ({type(error).__name__}). Nothing was kept."
        end_job(job, progress, JobStatus.FAILED, message=message, errors=[{"message": message}])
    else:
        end_job(job, progress, JobStatus.SUCCEEDED, message=progress.message or "Done.", result=result or {})
    finally:
        progress.close()
    return job


def _start_chunks(
    job: Job, handler: ChunkedHandler, progress: Progress, *, listener: Listener | None, spread: bool
) -> None:
    try:
        chunks = plan_chunks(job, handler, progress)
    except BaseException:
        handler.abandon(job)  # what the job's kind promises of a failed job, also when it fails this early
        raise
    if not chunks:
        finish_job(job, handler, listener=listener)
    else:
        # Spread: the other chunks go to the queue for any worker, and this one runs the first at once
        # (a job of one chunk then costs no second trip through the queue).
        mine = chunks[:1] if spread else chunks
        for chunk in chunks[len(mine) :]:
            transaction.on_commit(lambda chunk=chunk: enqueue_chunk(chunk))  # type: ignore[misc]
        for chunk in mine:
            if run_chunk(chunk.pk, handler, listener=listener) != JobStatus.SUCCEEDED:
                break
    job.refresh_from_db()


def end_job(job: Job, progress: Progress, status: str, *, message: str, **fields: Any) -> None:
    """Record how a running job ended (unless it already has: cancelled, or failed in another chunk)."""
    values = {
        "status": status,
        "message": message[:500],
        "finished_at": timezone.now(),
        "heartbeat_at": timezone.now(),
        "progress_done": progress.done,
        "progress_total": progress.total,
        **fields,
    }
    Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(**values)
    job.refresh_from_db()


def retry_job(job: Job) -> Job:
    """Put a failed or cancelled job back in the queue, keeping its attempts count."""
    updated = Job.objects.filter(pk=job.pk, status__in=[JobStatus.FAILED, JobStatus.CANCELLED]).update(
        status=JobStatus.QUEUED,
        errors=[],
        message="",
        progress_done=0,
        finished_at=None,
        task_id="",
        result={},
    )
    job.refresh_from_db()
    if updated:
        enqueue_job(job)
    return job


def cancel_job(job: Job) -> Job:
    """Cancel a job that has not started yet, or a running job split into chunks.

    A chunked job's queued chunks never start and its running ones stop at their next progress write;
    what the job's kind keeps of a stopped job is what it keeps of a failed one (its handler's `abandon`).
    A job that runs in one piece cannot be stopped halfway: it is cancelled only while queued.
    """
    now = timezone.now()
    if Job.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(
        status=JobStatus.CANCELLED, finished_at=now, message="Cancelled before it started."
    ):
        job.refresh_from_db()
        return job
    handler = handler_for(job.kind)
    if isinstance(handler, ChunkedHandler) and job.chunks.exists():
        done = job.chunks.filter(status=JobStatus.SUCCEEDED).count()
        count = job.chunks.count()
        if Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(
            status=JobStatus.CANCELLED,
            finished_at=now,
            message=f"Cancelled with {done} of {count} parts done.",
        ):
            stop_other_chunks(job.pk)
            handler.abandon(job)
    job.refresh_from_db()
    return job


def reap_stale_jobs(*, timeout: timedelta | None = None) -> int:
    """Fail running jobs whose worker has stopped reporting (killed, out of memory, machine gone).

    A chunk whose worker went silent is queued again instead (see jobs/chunks.py); a chunked job waiting
    for a free worker, with chunks queued, is not silent.
    """
    timeout = timeout if timeout is not None else timedelta(seconds=settings.ANNOTATOR_JOB_HEARTBEAT_TIMEOUT)
    cutoff = timezone.now() - timeout
    _, chunk_failures = reap_stale_chunks(cutoff)
    message = "The worker running this job stopped responding. Nothing of it was kept; run it again."
    silent = Job.objects.filter(status=JobStatus.RUNNING, heartbeat_at__lt=cutoff).exclude(
        chunks__status__in=[JobStatus.QUEUED, JobStatus.RUNNING]
    )
    # On SQLite a job inside its transaction beats beside the database (see progress.py).
    dead = [
        pk
        for pk in silent.values_list("pk", flat=True)
        if (values := read_side_file(pk)) is None or values["heartbeat_at"] < cutoff
    ]
    failed = 0
    for job in Job.objects.filter(pk__in=dead):
        handler = handler_for(job.kind)
        if Job.objects.filter(pk=job.pk, status=JobStatus.RUNNING, heartbeat_at__lt=cutoff).update(
            status=JobStatus.FAILED,
            finished_at=timezone.now(),
            message=message,
            errors=[{"message": message}],
        ):
            failed += 1
            if isinstance(handler, ChunkedHandler):
                stop_other_chunks(job.pk)
                handler.abandon(job)
    return failed + chunk_failures


def cancel_from_page(request: HttpRequest, job: Job, *, what: str, cancelled: str) -> None:
    """Cancel the job for a page's cancel button, and say what happened as a message: already ended,
    cancelled (`cancelled`), or still being split into parts (cancel again in a moment)."""
    if job.is_finished:
        messages.info(request, f"The {what} had already ended ({job.get_status_display().lower()}).")
    elif cancel_job(job).status == JobStatus.CANCELLED:
        messages.success(request, cancelled)
    else:
        messages.error(request, f"The {what} is being split into parts; try again in a moment.")
