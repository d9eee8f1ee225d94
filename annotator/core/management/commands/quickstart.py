from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from annotator.core.binding import DEFAULT_BIND, configured_bind, local_url
from annotator.projects.demo import load_demo
from annotator.projects.models import Role
from annotator.projects.services import add_member

DEMO_USERNAME = "demo"


class Command(BaseCommand):
    help = (
        "Prepare a local instance: migrate, collect static files, load the demo project and create the demo "
        "manager (its generated password is printed once). Safe to run again: it reuses what exists."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--url",
            default=local_url(configured_bind()) or local_url(DEFAULT_BIND),
            help="Where the server will listen (default: from ANNOTATOR_BIND, as `manage.py serve`).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("Database migrated.")
        call_command("collectstatic", interactive=False, verbosity=0)
        report = load_demo()
        self.stdout.write(f"Demo project loaded: {report.project.name}.")
        for warning in report.warnings:
            self.stderr.write(self.style.WARNING(warning))
        User = get_user_model()
        user = User.objects.filter(username=DEMO_USERNAME).first()
        password = None
        if user is None:
            password = secrets.token_urlsafe(12)
            user = User.objects.create_superuser(DEMO_USERNAME, email="", password=password)
        add_member(project=report.project, user=user, role=Role.MANAGER)
        self.stdout.write("")
        if password:
            # Last and framed: setup output (pip, migrations, warnings) scrolls above it, never after it.
            self.stdout.write(
                self.style.SUCCESS(
                    framed(
                        [
                            f"Log in at {options['url']}",
                            f"Username: {DEMO_USERNAME}",
                            f"Password: {password}",
                            "Shown only this once (it is stored hashed): keep it now.",
                        ]
                    )
                )
            )
        else:
            self.stdout.write(
                f"Log in at {options['url']} as {DEMO_USERNAME} (its password was printed when it was created; "
                f"set a new one with `.venv/bin/python manage.py changepassword {DEMO_USERNAME}`)."
            )


def framed(lines: list[str]) -> str:
    """The lines in a box of `=` and `|`, so that they stand out in a scrolling terminal."""
    width = max(len(line) for line in lines)
    rule = "+" + "=" * (width + 4) + "+"
    return "\n".join([rule, *(f"|  {line.ljust(width)}  |" for line in lines), rule])
