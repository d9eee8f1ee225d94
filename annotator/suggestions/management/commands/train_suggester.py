from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from annotator.jobs.models import JobKind
from annotator.jobs.services import create_job, enqueue_job
from annotator.suggestions.management.commands._suggestions import add_common_arguments, find_project, finish
from annotator.suggestions.models import SuggesterVersion


class Command(BaseCommand):
    help = (
        "Train a new suggester version (spaCy NER, and a relation classifier given enough gold relations) "
        "from a project's curated gold, as a job. It is measured on held-out gold and becomes active only "
        "if it measures better than the active suggester."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_common_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        project = find_project(options["project"])
        job = create_job(kind=JobKind.TRAIN_SUGGESTER, project=project, params={}, by=None)
        if options["queue"]:
            enqueue_job(job)
        job = finish(self, job, queue=options["queue"])
        if not job.result:
            return
        version = SuggesterVersion.objects.get(pk=job.result["suggester_version"])
        for label, figures in version.metrics.get("entities", {}).items():
            self.stdout.write(
                f"  {label:<10} P {figures['precision']:.3f}  R {figures['recall']:.3f}  F1 {figures['f1']:.3f}"
            )
