"""Importing articles: one service behind the command line, the upload page and the API.

`start_import` makes an import job and queues it; the job calls `import_articles`, which reads the file
as a stream, checks every record, writes in large batches, and keeps all of it or none of it: one
transaction per import, rolled back when the input has any problem (the job then carries the report:
file, line, field and reason of every problem found, up to a cap) or when it is a dry run.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from django.conf import settings
from django.core.files.move import file_move_safe
from django.db import connection, transaction

from annotator.annotations.models import AnnotationSet, EntityLink, Relation, Span
from annotator.articles.models import Article
from annotator.core.errors import DomainError, ProjectArchived
from annotator.core.text import isolate
from annotator.interchange.checks import Prepared, prepare
from annotator.interchange.collector import collector_paused
from annotator.interchange.formats import FORMATS
from annotator.interchange.formats.base import (
    Limits,
    ProblemLog,
    Source,
    TooManyProblems,
    Where,
)
from annotator.interchange.formats.sources import SourceError
from annotator.interchange.importer import Importer
from annotator.interchange.options import ImportOptions, ImportResult
from annotator.interchange.readahead import ReadAhead
from annotator.jobs.models import Job, JobKind
from annotator.jobs.services import create_job, enqueue_job
from annotator.jobs.uploads import article_uploads_dir

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django.core.files.uploadedfile import UploadedFile

    from annotator.projects.models import Project


class ProgressSink(Protocol):
    """What an import reports its progress to (a job's Progress)."""

    def set_total(self, total: int | None) -> None: ...

    def set_done(self, done: int) -> None: ...

    def say(self, message: str) -> None: ...


class ImportRejected(DomainError):
    """The input has problems: nothing was imported. `problems` is the report, {file, line, field, message}."""

    def __init__(self, message: str, problems: list[dict[str, object]]) -> None:
        super().__init__(message)
        self.problems = problems


def source_limits() -> Limits:
    """The input limits from the settings."""
    return Limits(
        max_members=settings.ANNOTATOR_IMPORT_MAX_ARCHIVE_MEMBERS,
        max_total_bytes=settings.ANNOTATOR_IMPORT_MAX_INFLATED_BYTES,
        max_ratio=settings.ANNOTATOR_IMPORT_MAX_COMPRESSION_RATIO,
        # One record holds one article: room for its text, escaped, and its annotations.
        max_record_bytes=max(16 * 2**20, 8 * settings.ANNOTATOR_IMPORT_MAX_ARTICLE_CHARS),
    )


def store_upload(upload: UploadedFile) -> Path:
    """Keep an uploaded file where import jobs read it, under a name of our own (never the client's)."""
    directory = article_uploads_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{uuid.uuid4().hex}.upload"
    temporary = getattr(upload, "temporary_file_path", None)
    if temporary is not None:  # already on disk: move it rather than copy gigabytes
        file_move_safe(temporary(), str(path))
        upload.close()  # Django expects a moved temporary upload to be gone
    else:
        with open(path, "wb") as out:
            for chunk in upload.chunks():
                out.write(chunk)
    return path


def start_import(
    *,
    project: Project,
    path: Path,
    file_name: str,
    options: ImportOptions,
    by: User | None,
    delete_after: bool,
    queue: bool = True,
) -> Job:
    """Make the job that imports the file at `path` (shown as `file_name`), and queue it for a worker.

    `delete_after` removes the file once it is imported (uploads); a failed or dry run keeps it for a
    retry. `queue=False` leaves the job for the caller to run inline (`jobs.services.run_job`).
    """
    if project.archived_at is not None:
        raise ProjectArchived
    params = {"path": str(path), "file_name": file_name, "delete_after": delete_after, **options.as_params()}
    job = create_job(kind=JobKind.IMPORT_ARTICLES, project=project, params=params, by=by)
    return enqueue_job(job) if queue else job


def import_articles(
    *,
    project: Project,
    source: Source,
    options: ImportOptions,
    by: User | None,
    job: Job | None = None,
    progress: ProgressSink | None = None,
) -> ImportResult:
    """Import everything in `source`, or nothing: raises ImportRejected with the report when input is bad."""
    problems = ProblemLog(settings.ANNOTATOR_IMPORT_MAX_ERRORS, strict=options.strict)
    reader = FORMATS.reader(options.format)
    max_chars, batch_size = settings.ANNOTATOR_IMPORT_MAX_ARTICLE_CHARS, settings.ANNOTATOR_IMPORT_BATCH_SIZE
    if progress is not None:
        progress.set_total(source.bytes_total)
        progress.say(f"Reading {isolate(source.name)}.")

    def batches(importer: Importer) -> Iterator[tuple[list[Prepared], int]]:
        """Checked records in batches, with their span rows drafted, and how many records were read so far
        (in the read-ahead thread)."""
        batch: list[Prepared] = []
        count = 0
        draft = importer.draft
        for record in reader.read(source, problems, options.format_options):
            count += 1
            if (prepared := prepare(record, max_chars=max_chars, problems=problems)) is not None:
                batch.append(draft(prepared) if prepared.record.spans else prepared)
            if len(batch) >= batch_size:
                yield batch, count
                batch = []
        yield batch, count

    read, stopped = 0, False
    with collector_paused(), transaction.atomic():
        importer = Importer(project=project, options=options, by=by, job=job, problems=problems)
        try:
            with ReadAhead(batches(importer)) as ahead:
                importer.discard = ahead.discard
                for batch, read in ahead:
                    importer.add_batch(batch)
                    ahead.discard(batch)
                    if progress is not None:
                        progress.set_done(source.bytes_read)
                        progress.say(f"Read {read:,} articles from {isolate(source.name)}.")
            if read == 0 and not problems:
                problems.add(Where(source.name), f"There are no documents in the {reader.label} format here.")
        except TooManyProblems:
            stopped = True
        except SourceError as error:
            room = problems.limit - len(problems)
            problems.items.extend(error.problems[: max(room, 0)])
        importer.result.entity_types_created = list(importer.schema.created_entity_types)
        importer.result.relation_types_created = list(importer.schema.created_relation_types)
        importer.result.attributes_created = list(importer.schema.created_attributes)
        notices = sorted(problems.warnings, key=lambda notice: (notice.file, notice.line or 0))
        importer.result.warnings = [notice.as_dict() for notice in notices]
        importer.result.warning_counts = problems.warning_counts()
        if problems or options.dry_run:
            transaction.set_rollback(True)
    if progress is not None:
        progress.set_done(source.bytes_total or source.bytes_read)
    if problems:
        # The reader runs ahead of the writer: put the report back in the order of the input.
        problems.items.sort(key=lambda problem: (problem.file, problem.line or 0))
        count = f"{len(problems)} problem{'s' * (len(problems) != 1)}"
        if stopped:
            message = f"Reading {isolate(source.name)} stopped at {count} (the report's limit); nothing was imported."
        else:
            message = f"{count.capitalize()} in {isolate(source.name)}; nothing was imported."
        raise ImportRejected(message, problems.as_dicts())
    refresh_statistics(importer.result)
    if importer.result.created and not options.dry_run:
        from annotator.articles.indexing import start_search_indexing

        start_search_indexing(project=project, by=by)  # after commit: the import does not wait for it
    if options.curated and not options.dry_run and (importer.result.created or importer.result.updated):
        from annotator.suggestions.learning import schedule_learning

        # Curated gold is ready to learn from, as after a bulk curation: whichever way the import came
        # (page, API, command, worker), the project trains if enough is new, else its pipeline is weighed.
        schedule_learning(project_id=project.pk)
    return importer.result


# The articles' columns that no query filters, joins or sorts on, left out of the import's ANALYZE: the
# text (searched through its own index, articles/search.py) and the metadata, whose jsonb statistics were
# a third of the ANALYZE and 6% of a plain import (server CPU 0.17 s -> 0.10 s for 20,000 articles; the
# row count, reltuples, is refreshed all the same).
UNSAMPLED = {"text", "metadata"}
ANALYZED_COLUMNS = {
    f'"{Article._meta.db_table}"': " ("
    + ", ".join(
        f'"{field.column}"' for field in Article._meta.concrete_fields if field.column not in UNSAMPLED
    )
    + ")"
}


def refresh_statistics(result: ImportResult) -> None:
    """ANALYZE the tables a large import filled.

    Until autovacuum's next pass (PostgreSQL) or forever (SQLite runs no ANALYZE by itself) the planner
    knows nothing of the new rows and plans as for the empty tables they were: an export or an agreement
    run right after a bulk load then scans every span for each chunk of articles, and SQLite's article
    browser sorts a whole project where an index would do. A few hundred milliseconds here saves minutes
    there.
    """
    written = result.created + result.updated + result.spans + result.links + result.relations
    if result.dry_run or written < settings.ANNOTATOR_ANALYZE_AFTER_ROWS:
        return
    # Only the tables this import wrote to: ANALYZE samples up to 30,000 rows of each table named, and a
    # plain import into a project with millions of spans has no reason to sample them again.
    wrote = {
        Article: result.created + result.updated,
        AnnotationSet: result.spans,
        Span: result.spans,
        EntityLink: result.links,
        Relation: result.relations,
    }
    tables = [connection.ops.quote_name(model._meta.db_table) for model, rows in wrote.items() if rows]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            named = [f"{table}{ANALYZED_COLUMNS.get(table, '')}" for table in tables]
            cursor.execute(f"ANALYZE {', '.join(named)}")
        else:  # SQLite's ANALYZE takes one table at a time
            for table in tables:
                cursor.execute(f"ANALYZE {table}")
