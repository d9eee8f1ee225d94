"""What the suggestion commands share: finding the project, running or queueing the job, reporting it."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotator.jobs.models import Job, JobStatus
from annotator.jobs.services import run_job
from annotator.projects.models import Project


def add_common_arguments(parser: CommandParser) -> None:
    parser.add_argument("--project", required=True, help="The project's slug or id.")
    parser.add_argument(
        "--queue", action="store_true", help="Queue the job for a worker instead of running it here."
    )


def find_project(key: str) -> Project:
    project = Project.objects.filter(slug=key).first() or (
        Project.objects.filter(pk=int(key)).first() if key.isdigit() else None
    )
    if project is None:
        raise CommandError(f"No project has the slug or id {key!r}.")
    return project


def finish(command: BaseCommand, job: Job, *, queue: bool) -> Job:
    """Run the queued job here (unless --queue), then say how it ended; fail the command if it failed."""
    if queue:
        command.stdout.write(
            f"Queued job {job.pk}; a worker will run it (GET /api/v1/jobs/{job.pk}/ for its status)."
        )
        return job
    job = run_job(job)
    if job.status != JobStatus.SUCCEEDED:
        details = "; ".join(
            str(error.get("message", "")) for error in job.errors if error.get("message") != job.message
        )
        raise CommandError(f"Job {job.pk} {job.status}: {job.message}{' ' + details if details else ''}")
    command.stdout.write(job.message)
    return job
