"""manage.py backup_project <slug> <file>: the whole project as one gzipped JSON-lines file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotator.interchange.backup import write_backup
from annotator.projects.models import Project


class Command(BaseCommand):
    help = "Write a project's backup (schema, settings, guidelines, KB, articles, annotations, suggestions)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The project's short name.")
        parser.add_argument("file", type=Path, help="Where to write it (.jsonl.gz).")

    def handle(self, *args: Any, **options: Any) -> None:
        project = Project.objects.filter(slug=options["slug"]).first()
        if project is None:
            raise CommandError(f"There is no project named {options['slug']!r}.")
        with options["file"].open("wb") as stream:
            counts = write_backup(project, stream)
        rows = ", ".join(f"{count} {label}" for label, count in counts.items() if count)
        self.stdout.write(f"Wrote {options['file']}: {rows}.")
