"""The tasks the queue runs: a job (or a chunked job's planning), and one chunk of a chunked job."""

from __future__ import annotations

from annotator.core.tasks import task
from annotator.jobs.chunks import ChunkedHandler, run_chunk
from annotator.jobs.models import Job, JobChunk
from annotator.jobs.registry import handler_for
from annotator.jobs.services import run_job


@task()
def run_job_task(job_id: int) -> str:
    job = Job.objects.get(pk=job_id)
    return run_job(job, spread=True).status


@task()
def run_chunk_task(chunk_id: int) -> str:
    kind = JobChunk.objects.filter(pk=chunk_id).values_list("job__kind", flat=True).first()
    if kind is None:
        return "gone"  # its job was deleted meanwhile
    handler = handler_for(kind)
    assert isinstance(handler, ChunkedHandler)
    return run_chunk(chunk_id, handler)
