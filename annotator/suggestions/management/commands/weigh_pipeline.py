from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotator.suggestions.layering import weigh_pipeline
from annotator.suggestions.management.commands._suggestions import find_project


class Command(BaseCommand):
    help = (
        "Weigh the project's pretrained pipeline (add mode) on its curated gold: how often each of its types "
        "is right where the gazetteer and rules found nothing, another type, or a shorter or longer span. "
        "Its suggestions are then laid over the other sources by these figures."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--project", required=True, help="The project's slug or id.")

    def handle(self, *args: Any, **options: Any) -> None:
        project = find_project(options["project"])
        weighed = weigh_pipeline(project=project)
        if weighed is None:
            raise CommandError(
                f"{project.name} has no pretrained pipeline in add mode, or no curated gold to weigh it on."
            )
        self.stdout.write(
            f"{weighed.source} weighed on {weighed.articles} curated gold articles: the gazetteer and rules "
            f"alone F1 {weighed.others_f1:.3f}; the pipeline's entities are kept where measured to gain."
        )
