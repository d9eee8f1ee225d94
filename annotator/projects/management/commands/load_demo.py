from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from annotator.projects.demo import load_demo


class Command(BaseCommand):
    help = "Load (or refresh) the demo project from fixtures/demo/: articles, schema, guidelines, KB. Idempotent."

    def handle(self, *args: Any, **options: Any) -> None:
        report = load_demo()
        summary = ", ".join(f"{n} {what}" for what, n in sorted(report.created.items())) or "nothing new"
        self.stdout.write(
            f"Demo project '{report.project.name}' (id {report.project.pk}): created {summary}."
        )
        for warning in report.warnings:
            self.stderr.write(self.style.WARNING(warning))
