from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from annotator.suggestions.learning import start_training
from annotator.suggestions.management.commands._suggestions import add_common_arguments, find_project, finish
from annotator.suggestions.models import SuggesterVersion


class Command(BaseCommand):
    help = (
        "Train a new version of the project's model (spaCy NER, and a relation classifier given enough gold "
        "relations) from its annotated articles, as a job. It is measured by k-fold cross-validation and "
        "becomes active only if it measures better than the active suggester on the same articles."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_common_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        project = find_project(options["project"])
        job = start_training(project_id=project.pk, by=None, queue=options["queue"])
        job = finish(self, job, queue=options["queue"])
        if not job.result:
            return
        version = SuggesterVersion.objects.get(pk=job.result["suggester_version"])
        self.stdout.write(
            f"Cross-validated ({version.metrics['folds']} folds) on {version.trained_on['articles']} articles:"
        )
        for label, figures in version.metrics.get("entities", {}).items():
            self.stdout.write(
                f"  {label:<10} P {figures['precision']:.3f}  R {figures['recall']:.3f}  F1 {figures['f1']:.3f}"
            )
