"""Write the search documents of a project's articles that are still waiting for them (after an import)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from annotator.articles.indexing import start_search_indexing
from annotator.articles.search import unindexed
from annotator.jobs.models import JobStatus
from annotator.jobs.services import run_job
from annotator.projects.models import Project


class Command(BaseCommand):
    help = "Queues a job that indexes a project's waiting articles for search; --inline runs it here."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--project", required=True, help="The project's slug or id.")
        parser.add_argument("--inline", action="store_true", help="Run here rather than on a task worker.")

    def handle(self, *args: Any, **options: Any) -> None:
        key = options["project"]
        project = Project.objects.filter(slug=key).first() or (
            Project.objects.filter(pk=int(key)).first() if key.isdigit() else None
        )
        if project is None:
            raise CommandError(f"No project has the slug or id {key!r}.")
        waiting = unindexed(project.pk)
        job = start_search_indexing(project=project, by=None, queue=not options["inline"])
        if job is None:
            self.stdout.write(
                f"{waiting:,} articles of {project.slug} wait; a queued job will index them."
                if waiting
                else f"Every article of {project.slug} is indexed for search."
            )
            return
        if not options["inline"]:
            self.stdout.write(f"Queued search index job #{job.pk} for {waiting:,} articles.")
            return
        job = run_job(job)
        if job.status != JobStatus.SUCCEEDED:
            raise CommandError(f"Search index job #{job.pk} {job.status}: {job.message}")
        self.stdout.write(f"Indexed {job.result['indexed']:,} articles of {project.slug} for search.")
