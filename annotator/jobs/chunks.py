"""Jobs split into chunks that any number of workers, on any number of machines, share.

A chunked job runs in three steps, each in whichever worker takes its task from the queue:

1. **plan** (the job's own task): the handler says which chunks there are; they become JobChunk rows and
   each gets a task of its own in the queue.
2. **run_chunk** (one task per chunk, any worker): the handler does one chunk's work. Its progress goes
   to the chunk's row and the job's progress becomes the sum of its chunks', so one bar covers them all.
3. **finish** (whichever worker completes the last chunk): the handler puts the chunks' results
   together (sums counts, assembles a file, moves staged rows into place) and the job succeeds.

Failures: a chunk that fails fails its job, with the chunk named; the queued chunks are cancelled, and
the running ones stop at their next progress write. A worker that dies mid-chunk stops beating; the
reaper (`reap_stale_chunks`) queues that chunk again, so chunks must be idempotent, until it has run
ANNOTATOR_JOB_CHUNK_ATTEMPTS times, then fails the job. Cancelling a running job works the same way as a
failure. Whatever the handler promises (all or nothing, or kept batch by batch) its `abandon` keeps.
"""

from __future__ import annotations

import logging
import os
import pickle
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Sum
from django.utils import timezone

from annotator.jobs.models import Job, JobChunk, JobStatus
from annotator.jobs.progress import Listener, Progress

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Chunk:
    """One chunk as a handler plans it: what it covers in words, what it needs, how much work it is."""

    label: str
    params: dict[str, Any]
    total: int | None = None


def article_chunks(ids: list[int], **params: Any) -> list[Chunk]:
    """Articles (ids in order) in chunks of ANNOTATOR_JOB_CHUNK_ARTICLES, each with these params too."""
    size = settings.ANNOTATOR_JOB_CHUNK_ARTICLES
    return [
        Chunk(
            label=f"articles #{part[0]}–#{part[-1]}" if len(part) > 1 else f"article #{part[0]}",
            params={"article_ids": part, **params},
            total=len(part),
        )
        for part in (ids[start : start + size] for start in range(0, len(ids), size))
    ]


@dataclass(frozen=True)
class ChunkedHandler:
    """What a chunked job kind does at each step (see the module's docstring).

    - `plan(job, progress)`: the chunks, in order; none means the job has nothing to do.
    - `run_chunk(job, chunk, progress)`: one chunk's work, idempotent (it may run again after a worker
      died); returns the chunk's result. Raises JobFailed to fail the job with a report.
    - `finish(job, chunks, progress)`: the job's result from its chunks (all succeeded), in order.
    - `abandon(job)`: undo or clear what the chunks left when the job fails or is cancelled (staged
      rows, chunk files); called again by a chunk that ends after that, so it must be idempotent.
    """

    plan: Callable[[Job, Progress], list[Chunk]]
    run_chunk: Callable[[Job, JobChunk, Progress], dict[str, Any]]
    finish: Callable[[Job, list[JobChunk], Progress], dict[str, Any]]
    abandon: Callable[[Job], None] = field(default=lambda job: None)


class JobStopped(Exception):
    """Raised inside a chunk when its job has ended meanwhile (failed in another chunk, or cancelled)."""


def worker_name() -> str:
    """Who runs a chunk: host and process, and the thread when it is not the main one."""
    name = f"{socket.gethostname()}:{os.getpid()}"
    thread = threading.current_thread()
    return name if thread is threading.main_thread() else f"{name}/{thread.name}"


def part_name(chunk: JobChunk, count: int) -> str:
    return f"Part {chunk.number} of {count} ({chunk.label})"


@contextmanager
def part_writer(directory: Path, chunk: JobChunk) -> Iterator[Callable[[object], None]]:
    """Keep a chunk's records on disk until the job's finish reads them (`read_parts`): pickled one after
    another into a file replaced whole when the chunk ends, so that a chunk run again leaves one file."""
    path = directory / f"{chunk.number:06d}.records"
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.partial")
    with open(partial, "wb") as out:
        yield lambda record: pickle.dump(record, out, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(partial, path)


def read_parts(directory: Path, chunks: list[JobChunk], count: str) -> Iterator[Any]:
    """The records the chunks kept with `part_writer`, in chunk order; `count` names the result field that
    says how many each kept."""
    for chunk in chunks:
        with open(directory / f"{chunk.number:06d}.records", "rb") as part:
            for _ in range(chunk.result[count]):
                yield pickle.load(part)  # noqa: S301 - written by this app's own workers for this job


class ChunkProgress(Progress):
    """A chunk's progress: written to its row, summed into its job's, and a check that the job still runs.

    Writes go through a second connection while the chunk's own connection is inside a transaction on
    PostgreSQL (as Progress does), so other sessions see them and a rolled-back chunk still beat.
    """

    def __init__(self, chunk: JobChunk, *, interval: float = 0.5) -> None:
        super().__init__(chunk.job, interval=interval)
        self.chunk = chunk
        self.done, self.total = 0, chunk.progress_total

    def say(self, message: str) -> None:
        """A chunk's words stay its own; the job's message is the coordinator's (parts done)."""
        self.message = message[:500]

    def flush(self) -> None:
        now = timezone.now()
        side = self._side_connection()
        running = self._write(side, now) if side is not None else None
        if running is None:
            # No second connection, or it cannot see the chunk (a chunk made inside the same still-open
            # transaction, in tests): through the chunk's own connection.
            running = self._write(connection, now)
        self._last_write = time.monotonic()
        if not running:
            raise JobStopped

    def _write(self, database: BaseDatabaseWrapper, now: datetime) -> bool | None:
        """Write the chunk's progress and its job's sum; whether both still run (None: chunk not seen)."""
        with database.cursor() as cursor:
            cursor.execute(
                "UPDATE jobs_jobchunk SET progress_done = %s, progress_total = %s, heartbeat_at = %s "
                "WHERE id = %s RETURNING status",
                [self.done, self.total, now, self.chunk.pk],
            )
            row = cursor.fetchone()
            if row is None:
                return None
            cursor.execute(
                "UPDATE jobs_job SET heartbeat_at = %s, progress_done = "
                "(SELECT COALESCE(SUM(progress_done), 0) FROM jobs_jobchunk WHERE job_id = %s) "
                "WHERE id = %s AND status = %s",
                [now, self.job.pk, self.job.pk, JobStatus.RUNNING],
            )
            return row[0] == JobStatus.RUNNING and cursor.rowcount == 1

    def close(self) -> None:
        """Release the second connection (a chunk writes no side file: that is its job's)."""
        if self._give_back is not None:
            self._give_back()
            self._side, self._give_back = None, None

    def _side_connection(self) -> BaseDatabaseWrapper | None:
        if not (connection.in_atomic_block and connection.vendor == "postgresql"):
            return None
        return self._open_side()


def plan_chunks(job: Job, handler: ChunkedHandler, progress: Progress) -> list[JobChunk]:
    """Step 1: store the handler's chunks for the job (replacing those of an earlier attempt)."""
    planned = handler.plan(job, progress)
    with transaction.atomic():
        JobChunk.objects.filter(job=job).delete()
        chunks = JobChunk.objects.bulk_create(
            JobChunk(
                job=job,
                number=number,
                label=chunk.label[:200],
                params=chunk.params,
                progress_total=chunk.total,
            )
            for number, chunk in enumerate(planned, start=1)
        )
        totals = [chunk.total for chunk in planned]
        total = sum(t for t in totals if t is not None) if None not in totals else None
        Job.objects.filter(pk=job.pk).update(
            progress_total=total,
            progress_done=0,
            heartbeat_at=timezone.now(),
            message=_parts_message(0, len(chunks)),
        )
    progress.total, progress.done = total, 0
    job.refresh_from_db()
    return list(JobChunk.objects.filter(job=job).order_by("number"))


def _sum_progress(job_id: int) -> None:
    done = JobChunk.objects.filter(job_id=job_id).aggregate(done=Sum("progress_done"))["done"] or 0
    Job.objects.filter(pk=job_id).update(progress_done=done)


def _parts_message(done: int, count: int) -> str:
    return f"{done} of {count} parts done."


def enqueue_chunk(chunk: JobChunk) -> None:
    from annotator.jobs.tasks import run_chunk_task

    result = run_chunk_task.enqueue(chunk.pk)
    JobChunk.objects.filter(pk=chunk.pk, status=JobStatus.QUEUED).update(task_id=str(result.id))


def run_chunk(chunk_id: int, handler: ChunkedHandler, *, listener: Listener | None = None) -> str:
    """Step 2: claim a queued chunk of a running job and run it; returns the chunk's status after.

    `listener` hears the job's progress after the chunk (and while the job is put together)."""
    now = timezone.now()
    claimed = JobChunk.objects.filter(pk=chunk_id, status=JobStatus.QUEUED).update(
        status=JobStatus.RUNNING,
        started_at=now,
        heartbeat_at=now,
        worker=worker_name(),
        attempts=F("attempts") + 1,
    )
    chunk = JobChunk.objects.select_related("job").get(pk=chunk_id)
    if not claimed:
        logger.info("Chunk %s is %s, not queued: not running it.", chunk_id, chunk.status)
        return chunk.status
    job = chunk.job
    if job.status != JobStatus.RUNNING:
        JobChunk.objects.filter(pk=chunk_id).update(status=JobStatus.CANCELLED, finished_at=timezone.now())
        return JobStatus.CANCELLED
    progress = ChunkProgress(chunk)
    from annotator.jobs.services import JobFailed

    try:
        result = handler.run_chunk(job, chunk, progress)
    except JobStopped:
        _stop_chunk(chunk, handler)
        return JobStatus.CANCELLED
    except JobFailed as failure:
        fail_job_for_chunk(chunk, handler, failure.message, failure.errors)
        return JobStatus.FAILED
    except Exception as error:
        logger.exception("Chunk %s of job %s (%s) crashed", chunk.number, job.pk, job.kind)
        message = f"It stopped on an unexpected error ({type(error).__name__})."
        fail_job_for_chunk(chunk, handler, message, [{"message": message}])
        return JobStatus.FAILED
    finally:
        progress.close()
    return _complete_chunk(chunk, handler, result or {}, progress, listener=listener)


def _stop_chunk(chunk: JobChunk, handler: ChunkedHandler) -> None:
    JobChunk.objects.filter(pk=chunk.pk, status=JobStatus.RUNNING).update(
        status=JobStatus.CANCELLED, finished_at=timezone.now()
    )
    handler.abandon(chunk.job)  # what this chunk wrote after the job ended


def _complete_chunk(
    chunk: JobChunk,
    handler: ChunkedHandler,
    result: dict[str, Any],
    progress: ChunkProgress,
    *,
    listener: Listener | None,
) -> str:
    now = timezone.now()
    with transaction.atomic():
        # The chunk's own row first: on SQLite that write takes the database's lock before anything is read.
        updated = JobChunk.objects.filter(pk=chunk.pk, status=JobStatus.RUNNING).update(
            status=JobStatus.SUCCEEDED,
            result=result,
            progress_done=progress.done,
            finished_at=now,
            heartbeat_at=now,
        )
        # Completions of one job queue up here, so exactly one of them sees no chunk left.
        job = Job.objects.select_for_update().get(pk=chunk.job_id)
        if not updated or job.status != JobStatus.RUNNING:
            stopped = True
        else:
            stopped = False
            chunks = JobChunk.objects.filter(job=job)
            count = chunks.count()
            succeeded = chunks.filter(status=JobStatus.SUCCEEDED).count()
            done = chunks.aggregate(done=Sum("progress_done"))["done"] or 0
            Job.objects.filter(pk=job.pk).update(
                progress_done=done, heartbeat_at=now, message=_parts_message(succeeded, count)
            )
    if stopped:
        _stop_chunk(chunk, handler)
        return JobStatus.CANCELLED
    if (
        listener is not None
    ):  # someone watching in this process (a command line): the job's bar, chunk by chunk
        job.refresh_from_db()
        listener(Progress(job))
    if succeeded == count:
        finish_job(job, handler, listener=listener)
    return JobStatus.SUCCEEDED


def finish_job(job: Job, handler: ChunkedHandler, *, listener: Listener | None = None) -> None:
    """Step 3: every chunk succeeded; put their results together and end the job."""
    from annotator.jobs.services import JobFailed, end_job

    job.refresh_from_db()
    progress = Progress(job, listener=listener)
    chunks = list(JobChunk.objects.filter(job=job).order_by("number"))
    try:
        result = handler.finish(job, chunks, progress)
    except JobFailed as failure:
        handler.abandon(job)
        end_job(job, progress, JobStatus.FAILED, message=failure.message, errors=failure.errors)
    except Exception as error:
        logger.exception("Job %s (%s) crashed while putting its parts together", job.pk, job.kind)
        handler.abandon(job)
        message = f"The job stopped on an unexpected error ({type(error).__name__}) while putting its parts together."
        end_job(job, progress, JobStatus.FAILED, message=message, errors=[{"message": message}])
    else:
        end_job(job, progress, JobStatus.SUCCEEDED, message=progress.message or "Done.", result=result or {})
    finally:
        progress.close()


def fail_job_for_chunk(
    chunk: JobChunk, handler: ChunkedHandler, message: str, errors: list[dict[str, Any]]
) -> None:
    """End the chunk and its job as failed, naming the chunk; the other chunks stop."""
    count = JobChunk.objects.filter(job_id=chunk.job_id).count()
    named = f"{part_name(chunk, count)} failed: {message}"[:500]
    now = timezone.now()
    JobChunk.objects.filter(pk=chunk.pk).update(status=JobStatus.FAILED, finished_at=now, heartbeat_at=now)
    ended = Job.objects.filter(pk=chunk.job_id, status=JobStatus.RUNNING).update(
        status=JobStatus.FAILED,
        message=named,
        errors=[{**error, "part": chunk.number} for error in errors],
        finished_at=now,
        heartbeat_at=now,
    )
    stop_other_chunks(chunk.job_id)
    if ended:
        handler.abandon(chunk.job)


def stop_other_chunks(job_id: int) -> int:
    """Cancel a job's queued chunks (running ones see their job ended at their next progress write)."""
    return JobChunk.objects.filter(job_id=job_id, status=JobStatus.QUEUED).update(
        status=JobStatus.CANCELLED, finished_at=timezone.now()
    )


def _task_waits(task_id: str) -> bool:
    """Whether the chunk's task is in the queue, waiting for a worker (True when the backend cannot say)."""
    from annotator.core.tasks import TaskResultDoesNotExist, TaskResultStatus
    from annotator.jobs.tasks import run_chunk_task

    if not task_id:
        return False
    if not run_chunk_task.get_backend().supports_get_result:
        return True
    try:
        return run_chunk_task.get_result(task_id).status == TaskResultStatus.READY
    except TaskResultDoesNotExist:
        return False


def reap_stale_chunks(cutoff: datetime) -> tuple[int, int]:
    """Queue again the running chunks whose worker went silent, or fail their job after too many tries.

    Also queues chunks whose task never reached the queue (the planner died between the two). Returns
    (chunks queued again, jobs failed).
    """
    from annotator.jobs.registry import handler_for

    requeued = failed = 0
    stale = JobChunk.objects.filter(status=JobStatus.RUNNING, heartbeat_at__lt=cutoff).select_related("job")
    for chunk in stale:
        handler = handler_for(chunk.job.kind)
        if not isinstance(handler, ChunkedHandler):
            continue
        if chunk.job.status != JobStatus.RUNNING:
            _stop_chunk(chunk, handler)
            continue
        if chunk.attempts >= settings.ANNOTATOR_JOB_CHUNK_ATTEMPTS:
            message = f"Its worker stopped responding {chunk.attempts} times."
            fail_job_for_chunk(chunk, handler, message, [{"message": message}])
            failed += 1
            continue
        back = JobChunk.objects.filter(pk=chunk.pk, status=JobStatus.RUNNING, heartbeat_at__lt=cutoff).update(
            status=JobStatus.QUEUED, progress_done=0, worker="", task_id=""
        )
        if back:
            _sum_progress(chunk.job_id)
            logger.warning(
                "Part %s of job %s: its worker went silent; queued again.", chunk.number, chunk.job_id
            )
            enqueue_chunk(chunk)
            requeued += 1
    # Queued chunks of a job nobody has worked on for the whole timeout: waiting for a free worker, unless
    # their task never reached the queue (the planner died in between) or a worker took the task and died
    # before it claimed the chunk. Those are queued again.
    waiting = JobChunk.objects.filter(
        status=JobStatus.QUEUED, job__status=JobStatus.RUNNING, job__heartbeat_at__lt=cutoff
    )
    for chunk in waiting:
        if not _task_waits(chunk.task_id):
            logger.warning("Part %s of job %s lost its task; queued again.", chunk.number, chunk.job_id)
            enqueue_chunk(chunk)
            requeued += 1
    return requeued, failed
