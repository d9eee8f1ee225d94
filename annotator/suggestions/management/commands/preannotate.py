from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotator.articles.models import Article, ArticleStatus
from annotator.jobs.models import JobKind
from annotator.jobs.services import create_job, enqueue_job
from annotator.suggestions.management.commands._suggestions import add_common_arguments, find_project, finish
from annotator.suggestions.models import SuggesterVersion


class Command(BaseCommand):
    help = (
        "Pre-annotate a project's articles with its active suggester (or another version), as a job. "
        "Re-running replaces only undecided suggestions; decisions and annotations stay."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_common_arguments(parser)
        parser.add_argument("--article", type=int, action="append", help="An article id (repeat for more).")
        parser.add_argument("--status", choices=ArticleStatus.values, help="Only articles with this status.")
        parser.add_argument("--suggester", type=int, help="A suggester version id of the project.")

    def handle(self, *args: Any, **options: Any) -> None:
        project = find_project(options["project"])
        params: dict[str, Any] = {}
        if options["article"]:
            ids = sorted(set(options["article"]))
            found = set(Article.objects.filter(project=project, pk__in=ids).values_list("pk", flat=True))
            if missing := [pk for pk in ids if pk not in found]:
                raise CommandError(f"No article with id {', '.join(map(str, missing))} in {project.name}.")
            params["article_ids"] = ids
        if options["status"]:
            params["status"] = options["status"]
        if options["suggester"] is not None:
            if not SuggesterVersion.objects.filter(project=project, pk=options["suggester"]).exists():
                raise CommandError(f"No suggester version {options['suggester']} in {project.name}.")
            params["suggester_version"] = options["suggester"]
        job = create_job(kind=JobKind.PREANNOTATE, project=project, params=params, by=None)
        if options["queue"]:
            enqueue_job(job)
        job = finish(self, job, queue=options["queue"])
        if job.result:
            result = job.result
            self.stdout.write(
                f"{result['articles']} articles by {result['suggester']}: {result['created']} suggestions "
                f"added, {result['deleted']} undecided ones replaced, {result['kept']} unchanged."
            )
