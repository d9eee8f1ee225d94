"""The task the queue runs: look the job up and run it."""

from __future__ import annotations

from annotator.core.tasks import task
from annotator.jobs.models import Job
from annotator.jobs.services import run_job


@task()
def run_job_task(job_id: int) -> str:
    job = Job.objects.get(pk=job_id)
    return run_job(job).status
