"""Creating, running and reaping jobs. Handlers own their data transaction; this module owns the Job row."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

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


def run_job(job: Job, *, listener: Listener | None = None) -> Job:
    """Run a queued job in this process: claim it, call its handler, record how it ended.

    `listener` is called with the Progress each time it is written (a command line's progress bar).
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
    progress = Progress(job, listener=listener)
    try:
        result = handler_for(job.kind)(job, progress)
    except JobFailed as failure:
        _finish(job, progress, JobStatus.FAILED, message=failure.message, errors=failure.errors)
    except Exception as error:
        logger.exception("Job %s (%s) crashed", job.pk, job.kind)
        message = f"The job stopped on an unexpected error ({type(error).__name__}). Nothing was kept."
        _finish(job, progress, JobStatus.FAILED, message=message, errors=[{"message": message}])
    else:
        _finish(job, progress, JobStatus.SUCCEEDED, message=progress.message or "Done.", result=result or {})
    finally:
        progress.close()
    return job


def _finish(job: Job, progress: Progress, status: str, *, message: str, **fields: Any) -> None:
    values = {
        "status": status,
        "message": message[:500],
        "finished_at": timezone.now(),
        "heartbeat_at": timezone.now(),
        "progress_done": progress.done,
        "progress_total": progress.total,
        **fields,
    }
    Job.objects.filter(pk=job.pk).update(**values)
    job.refresh_from_db()


def retry_job(job: Job) -> Job:
    """Put a failed or cancelled job back in the queue, keeping its attempts count."""
    updated = Job.objects.filter(pk=job.pk, status__in=[JobStatus.FAILED, JobStatus.CANCELLED]).update(
        status=JobStatus.QUEUED, errors=[], message="", progress_done=0, finished_at=None, task_id=""
    )
    job.refresh_from_db()
    if updated:
        enqueue_job(job)
    return job


def cancel_job(job: Job) -> Job:
    """Cancel a job that has not started yet."""
    Job.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(
        status=JobStatus.CANCELLED, finished_at=timezone.now(), message="Cancelled before it started."
    )
    job.refresh_from_db()
    return job


def reap_stale_jobs(*, timeout: timedelta | None = None) -> int:
    """Fail running jobs whose worker has stopped reporting (killed, out of memory, machine gone)."""
    timeout = timeout if timeout is not None else timedelta(seconds=settings.ANNOTATOR_JOB_HEARTBEAT_TIMEOUT)
    cutoff = timezone.now() - timeout
    message = "The worker running this job stopped responding. Nothing of it was kept; run it again."
    silent = Job.objects.filter(status=JobStatus.RUNNING, heartbeat_at__lt=cutoff)
    # On SQLite a job inside its transaction beats beside the database (see progress.py).
    alive = [
        pk
        for pk in silent.values_list("pk", flat=True)
        if (values := read_side_file(pk)) is not None and values["heartbeat_at"] >= cutoff
    ]
    return silent.exclude(pk__in=alive).update(
        status=JobStatus.FAILED, finished_at=timezone.now(), message=message, errors=[{"message": message}]
    )
