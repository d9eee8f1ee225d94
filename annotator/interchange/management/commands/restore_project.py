"""manage.py restore_project <file> --slug <new> --user <username>: a backup made into a new project."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotator.interchange.backup import BackupError, restore_backup


class Command(BaseCommand):
    help = "Restore a project backup into a new project; the user named becomes one of its managers."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--slug", required=True, help="The new project's short name.")
        parser.add_argument("--user", required=True, help="Who restores it (becomes a manager).")

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"There is no user named {options['user']!r}.")
        try:
            with options["file"].open("rb") as stream:
                project = restore_backup(stream, slug=options["slug"], by=user)
        except (BackupError, OSError) as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"Restored into the project {project.slug} (id {project.pk}).")
