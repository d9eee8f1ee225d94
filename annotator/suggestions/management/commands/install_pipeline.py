from __future__ import annotations

import re
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotator.suggestions import nlp, sources


class Command(BaseCommand):
    help = (
        "Install an official spaCy pipeline (e.g. en_core_web_sm) with spaCy's own download, so that "
        "projects can pick it on their Suggesters page. Needs the internet; says so clearly where there is none."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "name", nargs="?", default="en_core_web_sm", help="A spaCy pipeline package name."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["name"]
        if not re.fullmatch(r"[a-z]{2,3}_[a-z0-9_]+", name):
            raise CommandError(f"{name!r} is not a spaCy pipeline package name (such as en_core_web_sm).")
        if any(p.ref == name for p in sources.available_pipelines()):
            self.stdout.write(f"{name} is already installed; projects can pick it on their Suggesters page.")
            return
        try:
            nlp.installed.download_pipeline(name)
        except nlp.installed.DownloadFailed as failure:
            raise CommandError(str(failure)) from None
        self.stdout.write(
            f"Installed {name}; projects can pick it on their Suggesters page (restart the workers)."
        )
