from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from annotator.jobs.models import JobStatus
from annotator.jobs.services import run_job
from annotator.kb.formats import FORMATS
from annotator.kb.imports import observe_imports, start_kb_import
from annotator.kb.models import KnowledgeBase
from annotator.kb.services import InvalidEntity, create_knowledge_base
from annotator.projects.models import Project


class Command(BaseCommand):
    help = (
        "Import a KB file (JSONL, CSV with |-separated aliases, or a Wikidata JSON dump; .gz and .bz2 too) "
        "into a project's knowledge base. Runs here with a progress bar, or with --queue on a worker. "
        "Entities are matched by id, so running it again updates them in place."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--project", required=True, help="The project's slug or id.")
        parser.add_argument("--kb", required=True, help="The knowledge base's name; see --create.")
        parser.add_argument(
            "--create", action="store_true", help="Create the knowledge base if it is missing."
        )
        parser.add_argument(
            "--format", default="auto", choices=["auto", *FORMATS], help="Default: from the file."
        )
        parser.add_argument(
            "--languages",
            default="",
            help="Comma-separated, in order of preference (Wikidata). Default: the KB's.",
        )
        parser.add_argument(
            "--type", action="append", default=[], metavar="CLASS=TYPE",
            help="Wikidata: entities of this P31 class get this type (e.g. Q5=PERSON). Replaces the default map.",
        )  # fmt: skip
        parser.add_argument(
            "--queue", action="store_true", help="Queue the job for a worker instead of running it."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"].resolve()
        if not path.is_file():
            raise CommandError(f"No file at {path}.")
        key = options["project"]
        project = Project.objects.filter(slug=key).first() or (
            Project.objects.filter(pk=int(key)).first() if key.isdigit() else None
        )
        if project is None:
            raise CommandError(f"No project has the slug or id {key!r}.")
        languages = [code.strip() for code in options["languages"].split(",") if code.strip()]
        knowledge_base = KnowledgeBase.objects.filter(project=project, name=options["kb"]).first()
        new = knowledge_base is None
        if knowledge_base is None:
            if not options["create"]:
                raise CommandError(
                    f"{project.name} has no knowledge base named {options['kb']!r} (add --create)."
                )
            try:
                knowledge_base = create_knowledge_base(
                    project=project, name=options["kb"], languages=languages or ["en"]
                )
            except InvalidEntity as error:
                raise CommandError(error.message) from None
        type_map = dict(self._pair(item) for item in options["type"]) or None
        job = start_kb_import(
            knowledge_base=knowledge_base, path=path, file_label=path.name, by=None, format=options["format"],
            languages=languages or None, type_map=type_map, new_knowledge_base=new, queue=options["queue"],
        )  # fmt: skip
        if options["queue"]:
            self.stdout.write(f"Queued job {job.pk}: a worker (manage.py db_worker) will run it.")
            return
        stream = options.get("stderr") or sys.stderr  # the bar redraws its line: it needs the raw stream
        with tqdm(total=path.stat().st_size, unit="B", unit_scale=True, desc=path.name, file=stream) as bar:

            def show(done: int, total: int, entities: int) -> None:
                bar.update(done - bar.n)
                bar.set_postfix(entities=f"{entities:,}", refresh=False)

            with observe_imports(show):
                job = run_job(job)
        if job.status != JobStatus.SUCCEEDED:
            for item in job.errors[:20]:
                line = f"line {item['line']}" if item.get("line") else "file"
                field = f" [{item['field']}]" if item.get("field") else ""
                self.stderr.write(f"{item.get('file', path.name)}, {line}{field}: {item['message']}")
            raise CommandError(job.message)
        self.stdout.write(job.message)

    def _pair(self, item: str) -> tuple[str, str]:
        class_id, _, type_name = item.partition("=")
        if not class_id.strip() or not type_name.strip():
            raise CommandError(f"--type takes CLASS=TYPE, e.g. Q5=PERSON (got {item!r}).")
        return class_id.strip(), type_name.strip()
