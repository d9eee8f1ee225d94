from __future__ import annotations

import os
import sys
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotator.annotations.models import SetStatus
from annotator.articles.models import ArticleStatus
from annotator.core.errors import DomainError
from annotator.interchange.exports import ExportQuery, SetChoice, export_bytes, missing_articles
from annotator.interchange.formats import FORMATS
from annotator.interchange.management.commands.import_articles import Command as ImportCommand


def article_ids(value: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in value.split(",") if part.strip())
    except ValueError:
        raise CommandError(f"Give article ids as numbers separated by commas, not {value!r}.") from None


class Command(BaseCommand):
    help = (
        "Export a project's annotations (gold by default) to a file or to standard output, streamed: "
        "memory stays flat however large the project."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--project", required=True, help="The project's slug or id.")
        parser.add_argument("--format", default="jsonl", choices=sorted(FORMATS.writers))
        parser.add_argument("--output", "-o", default="-", help="The file to write; - (the default): stdout.")
        parser.add_argument("--set", default=SetChoice.GOLD, choices=[c.value for c in SetChoice],
                            help="gold, one annotator's sets (with --annotator), or all annotators' sets.")  # fmt: skip
        parser.add_argument("--annotator", help="The annotator's username, with --set annotator.")
        parser.add_argument("--set-status", action="append", default=[], choices=SetStatus.values,
                            help="Only sets with this status (repeatable; curated: finished gold).")  # fmt: skip
        parser.add_argument("--article-status", action="append", default=[], choices=ArticleStatus.values,
                            help="Only articles with this status (repeat for several).")  # fmt: skip
        parser.add_argument(
            "--updated-since", type=datetime.fromisoformat, help="Only sets changed since (ISO)."
        )
        parser.add_argument(
            "--guideline-version", type=int, help="Only sets made under this guideline version."
        )
        parser.add_argument("--ids", type=article_ids, default=(), help="Only these article ids (1,2,3).")

    def handle(self, *args: Any, **options: Any) -> None:
        project = ImportCommand.project(options["project"])
        if missing := missing_articles(project, options["ids"]):
            raise CommandError(f"No article with id {', '.join(map(str, missing[:20]))} in {project}.")
        try:
            query = ExportQuery(
                format=options["format"], sets=options["set"], annotator=options["annotator"],
                set_status=tuple(options["set_status"]), article_status=tuple(options["article_status"]),
                updated_since=options["updated_since"], guideline_version=options["guideline_version"],
                article_ids=options["ids"],
            )  # fmt: skip
        except DomainError as error:
            raise CommandError(error.message) from None
        if options["output"] == "-":
            size = self.write(project, query, sys.stdout.buffer)
            sys.stdout.buffer.flush()
            self.stderr.write(f"Exported {size:,} bytes.")
            return
        path = Path(options["output"])
        partial = path.with_name(path.name + ".partial")
        try:
            with open(partial, "wb") as out:
                size = self.write(project, query, out)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        os.replace(partial, path)  # never leave a cut-short file under the name asked for
        self.stderr.write(f"Exported {size:,} bytes to {path}.")

    @staticmethod
    def write(project: Any, query: ExportQuery, out: IO[bytes]) -> int:
        size = 0
        for chunk in export_bytes(project, query):
            out.write(chunk)
            size += len(chunk)
        return size
