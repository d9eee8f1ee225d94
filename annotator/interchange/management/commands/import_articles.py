from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from annotator.annotations.models import SetKind
from annotator.core.errors import DomainError
from annotator.interchange.formats import FORMATS
from annotator.interchange.options import ImportOptions, OnDuplicate
from annotator.interchange.services import start_import
from annotator.jobs.models import Job, JobKind, JobStatus
from annotator.jobs.progress import Progress, live
from annotator.jobs.services import run_job
from annotator.projects.models import Project


class Command(BaseCommand):
    help = (
        "Import articles (and their annotations) from a file, a zip archive or a folder, all or nothing. "
        "Queues a job for the task workers and follows its progress; --inline runs it here instead."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help="A file (plain or .gz), a zip archive, or a folder.")
        parser.add_argument("--project", required=True, help="The project's slug or id.")
        parser.add_argument("--format", required=True, choices=sorted(FORMATS.readers))
        parser.add_argument(
            "--option", action="append", default=[], metavar="KEY=VALUE",
            help="A format option, e.g. --option text=body --option metadata=url,author (CSV), text_key=content.",
        )  # fmt: skip
        where = parser.add_mutually_exclusive_group()
        where.add_argument("--set-name", default="imported", help="The imported set annotations go into.")
        where.add_argument("--gold", action="store_true", help="Put the annotations into the gold sets.")
        parser.add_argument(
            "--curated", action="store_true",
            help="With --gold: the gold sets the import creates are curated (ready for training and exports).",
        )  # fmt: skip
        parser.add_argument(
            "--on-duplicate", choices=[o.value for o in OnDuplicate], default=OnDuplicate.SKIP
        )
        parser.add_argument(
            "--create-types", action="store_true", help="Add labels the schema lacks as types."
        )
        parser.add_argument("--dry-run", action="store_true", help="Check everything, keep nothing.")
        parser.add_argument(
            "--strict", action="store_true",
            help="Refuse the import if anything would be skipped or changed (otherwise a warning).",
        )  # fmt: skip
        parser.add_argument("--inline", action="store_true", help="Run here rather than on a task worker.")
        parser.add_argument("--no-wait", action="store_true", help="Queue the job and return at once.")
        parser.add_argument("--user", help="Who the import is recorded as (a username).")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["path"].resolve()
        if not path.exists():
            raise CommandError(f"There is no file or folder at {path}.")
        project = self.project(options["project"])
        by = None
        if options["user"]:
            by = get_user_model().objects.filter(username=options["user"]).first()
            if by is None:
                raise CommandError(f"There is no user {options['user']!r}.")
        try:
            import_options = ImportOptions(
                format=options["format"],
                format_options=self.format_options(options["option"]),
                set_kind=SetKind.GOLD if options["gold"] else SetKind.IMPORTED,
                set_name=options["set_name"],
                on_duplicate=options["on_duplicate"],
                create_types=options["create_types"],
                dry_run=options["dry_run"],
                curated=options["curated"],
                strict=options["strict"],
            )
        except DomainError as error:
            raise CommandError(error.message) from None
        job = start_import(
            project=project, path=path, file_name=path.name, options=import_options, by=by, delete_after=False,
            queue=not options["inline"],
        )  # fmt: skip
        if options["inline"]:
            with self.bar(path) as bar:
                job = run_job(job, listener=lambda progress: self.show(bar, progress))
            # Here too, the search documents of what it imported (a worker would take the queued job).
            for index in Job.objects.filter(
                project=project, kind=JobKind.INDEX_SEARCH, status=JobStatus.QUEUED
            ):
                run_job(index)
        elif options["no_wait"]:
            self.stdout.write(f"Queued import job #{job.pk}.")
            return
        else:
            self.stdout.write(
                f"Queued import job #{job.pk}; waiting for a task worker (Ctrl+C stops waiting)."
            )
            job = self.follow(job, path)
        self.finish(job)

    @staticmethod
    def project(key: str) -> Project:
        project = Project.objects.filter(slug=key).first() or (
            Project.objects.filter(pk=int(key)).first() if key.isdigit() else None
        )
        if project is None:
            raise CommandError(f"No project has the slug or id {key!r}.")
        return project

    @staticmethod
    def format_options(pairs: list[str]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for pair in pairs:
            key, separator, value = pair.partition("=")
            if not separator:
                raise CommandError(f"Give format options as KEY=VALUE, not {pair!r}.")
            result[key] = [column for column in value.split(",") if column] if key == "metadata" else value
        return result

    def bar(self, path: Path) -> tqdm:
        return tqdm(
            total=None, unit="B", unit_scale=True, desc=path.name, file=self.stderr, dynamic_ncols=True
        )

    @staticmethod
    def show(bar: tqdm, progress: Progress | Job) -> None:
        total = progress.total if isinstance(progress, Progress) else progress.progress_total
        done = progress.done if isinstance(progress, Progress) else progress.progress_done
        if total is not None and bar.total != total:
            bar.total = total
        bar.update(done - bar.n)
        bar.set_postfix_str(progress.message[:60], refresh=True)

    def follow(self, job: Job, path: Path) -> Job:
        with self.bar(path) as bar:
            while not job.is_finished:
                time.sleep(0.5)
                job.refresh_from_db()
                self.show(bar, live(job))
        return job

    def finish(self, job: Job) -> None:
        if job.status == JobStatus.SUCCEEDED:
            for warning in job.result.get("warnings", []):
                self.stderr.write(f"warning: {self.where(warning)}")
            self.stdout.write(job.message)  # curated gold: the import itself started any learning
            return
        for problem in job.errors:
            self.stderr.write(self.where(problem))
        raise CommandError(job.message)

    @staticmethod
    def where(problem: dict[str, Any]) -> str:
        """A problem or a warning as one line: `file:line [field]: message`."""
        place = ":".join(str(part) for part in (problem.get("file"), problem.get("line")) if part)
        field = f" [{problem['field']}]" if problem.get("field") else ""
        return f"{place}{field}: {problem['message']}" if place else f"{problem['message']}{field}"
