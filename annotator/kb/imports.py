"""Importing a KB file (JSONL, CSV, Wikidata dump) as a job: streamed, batched, idempotent, all or nothing.

One service, three entry points (`manage.py import_kb`, the import page, the REST endpoint). A file
with any bad line writes nothing and fails with a `{file, line, field, message}` report.

- PostgreSQL: one pass in one transaction; progress goes through a second connection, so that the
  page and the reaper see it while the transaction is open.
- SQLite: a long write transaction would lock every other writer (pages, the reaper) out for the whole
  import, so the file is checked in a first pass that writes nothing, then written in batches of one
  transaction each. An import cut short in the second pass (a killed worker) is completed by running it
  again: imports are idempotent.
"""

from __future__ import annotations

import io
import itertools
import logging
import os
import shutil
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections, transaction
from django.utils import timezone

from annotator.core.text import isolate
from annotator.core.upsert import Change
from annotator.jobs import registry
from annotator.jobs.chunks import Chunk, ChunkedHandler, part_writer, read_parts
from annotator.jobs.models import Job, JobChunk, JobKind
from annotator.jobs.services import JobFailed, create_job, enqueue_job
from annotator.jobs.uploads import kb_uploads_dir
from annotator.kb.formats import (
    DEFAULT_TYPE_MAP,
    LineError,
    ReadOptions,
    detect_format,
    open_decompressed,
    reader_for,
)
from annotator.kb.models import KnowledgeBase
from annotator.kb.records import EntityRecord
from annotator.kb.services import write_entities
from annotator.projects.services import ensure_not_archived

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from annotator.jobs.progress import Progress

logger = logging.getLogger(__name__)

BATCH_SIZE = 1000
MAX_REPORTED_ERRORS = 1000
PROGRESS_INTERVAL = 0.5  # seconds between progress writes

# Someone watching an import run in this process (the command line's progress bar): called with
# (bytes read, bytes in the file, entities read) as the import goes.
Observer = Callable[[int, int, int], None]
_observer: ContextVar[Observer | None] = ContextVar("kb_import_observer", default=None)


@contextmanager
def observe_imports(observer: Observer) -> Iterator[None]:
    """Call `observer` with the progress of KB imports run in this context."""
    token = _observer.set(observer)
    try:
        yield
    finally:
        _observer.reset(token)


@dataclass
class ImportOutcome:
    format: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0  # lines with nothing to keep (Wikidata properties, entities without a label we keep)

    def count(self, changes: list[Change]) -> None:
        for change in changes:
            setattr(self, change.value, getattr(self, change.value) + 1)

    @property
    def entities(self) -> int:
        return self.created + self.updated + self.unchanged

    def summary(self, knowledge_base: KnowledgeBase) -> str:
        return (
            f"Imported {self.entities:,} entities into {knowledge_base.name}: {self.created:,} new, "
            f"{self.updated:,} updated, {self.unchanged:,} unchanged"
            + (f", {self.skipped:,} lines skipped" if self.skipped else "")
            + "."
        )


class _Reporter:
    """Reports how far the import is: to the job (see the module docstring) and to an observer."""

    def __init__(self, progress: Progress | None, raw: IO[bytes], total: int) -> None:
        self.progress, self.raw, self.total = progress, raw, total
        self.observer = _observer.get()
        self.side = (
            connections.create_connection(DEFAULT_DB_ALIAS)
            if progress is not None and connection.vendor == "postgresql"
            else None
        )
        self._last = 0.0

    def tick(self, entities: int, phase: str, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < PROGRESS_INTERVAL:
            return
        self._last = now
        done = min(self.raw.tell(), self.total)
        if self.observer is not None:
            self.observer(done, self.total, entities)
        if self.progress is None:
            return
        progress = self.progress
        progress.done, progress.total, progress.message = (
            done,
            self.total,
            f"{phase}: {entities:,} entities read.",
        )
        if self.side is None:
            progress.flush()
            return
        try:
            with self.side.cursor() as cursor:
                # Never wait on a lock: a missed progress write is better than a stalled import.
                cursor.execute("SET lock_timeout = '1s'")
                cursor.execute(
                    f"UPDATE {Job._meta.db_table} SET progress_done = %s, progress_total = %s, message = %s, "  # noqa: S608
                    "heartbeat_at = %s WHERE id = %s",
                    [done, self.total, progress.message, timezone.now(), progress.job.pk],
                )
        except DatabaseError:
            logger.warning("Could not report the progress of job %s.", progress.job.pk, exc_info=True)

    def close(self) -> None:
        if self.side is not None:
            self.side.close()


def _error(file_label: str, error: LineError) -> dict[str, Any]:
    return {"file": file_label, "line": error.line, "field": error.field, "message": error.message}


def _items(reader: Any, stream: IO[bytes], options: ReadOptions) -> Iterator[tuple[int, Any]]:
    """The reader's items, with a broken compressed stream reported as a bad line instead of a crash."""
    line = 0
    try:
        for line, item in reader.read(stream, options):
            yield line, item
    except (OSError, EOFError, zlib.error) as error:
        yield line + 1, LineError(line + 1, "", f"The file cannot be read past this point ({error}).")


def import_kb_file(
    *,
    knowledge_base: KnowledgeBase,
    path: Path,
    file_label: str,
    format: str = "auto",
    options: ReadOptions | None = None,
    progress: Progress | None = None,
) -> ImportOutcome:
    """Import a KB file (optionally gzip- or bzip2-compressed) into the knowledge base.

    Entities are matched by kb_id and updated in place, so importing the same file again changes
    nothing. Raises JobFailed, having written nothing, when any line is bad.
    """
    options = options or ReadOptions(languages=tuple(knowledge_base.languages or ["en"]))
    one_transaction = connection.vendor == "postgresql"
    with path.open("rb") as raw:
        reporter = _Reporter(progress, raw, os.fstat(raw.fileno()).st_size)
        try:
            if not one_transaction:
                _check_file(raw, file_label, format, options, reporter)
                raw.seek(0)
            with transaction.atomic() if one_transaction else nullcontext():
                outcome = _write_file(
                    knowledge_base, raw, file_label, format, options, reporter, one_transaction
                )
        finally:
            reporter.close()
    if outcome.created or outcome.updated:
        _refresh_statistics()
    return outcome


def _refresh_statistics() -> None:
    """Tell the query planner about the rows just written: with a KB's old statistics (say, "empty"),
    browsing and searching a freshly imported KB scan whole tables until autovacuum catches up."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ANALYZE kb_kbentity, kb_alias")
        else:
            cursor.execute("PRAGMA optimize")


def _open(raw: IO[bytes], format: str) -> tuple[IO[bytes], str]:
    stream = open_decompressed(raw)
    return stream, (detect_format(stream) if format == "auto" else format)


def _check_file(
    raw: IO[bytes], file_label: str, format: str, options: ReadOptions, reporter: _Reporter
) -> None:
    """The first pass on SQLite: read the whole file, write nothing, fail with the report if anything is bad."""
    stream, name = _open(raw, format)
    errors: list[dict[str, Any]] = []
    error_count = entities = 0
    for _, item in _items(reader_for(name), stream, options):
        if isinstance(item, LineError):
            error_count += 1
            if len(errors) < MAX_REPORTED_ERRORS:
                errors.append(_error(file_label, item))
        elif item is not None:
            entities += 1
        reporter.tick(entities, "Checking")
    _fail_if_bad(file_label, errors, error_count, entities, options)


def _write_file(
    knowledge_base: KnowledgeBase,
    raw: IO[bytes],
    file_label: str,
    format: str,
    options: ReadOptions,
    reporter: _Reporter,
    one_transaction: bool,
) -> ImportOutcome:
    stream, name = _open(raw, format)
    outcome = ImportOutcome(format=name)
    errors: list[dict[str, Any]] = []
    error_count = 0
    batch: list[EntityRecord] = []

    def flush() -> None:
        with nullcontext() if one_transaction else transaction.atomic():
            outcome.count(write_entities(knowledge_base=knowledge_base, records=batch))
        batch.clear()

    for _, item in _items(reader_for(name), stream, options):
        if isinstance(item, LineError):
            error_count += 1
            if len(errors) < MAX_REPORTED_ERRORS:
                errors.append(_error(file_label, item))
            batch.clear()  # nothing more is written: the transaction will be rolled back
        elif item is None:
            outcome.skipped += 1
        elif not error_count:
            batch.append(item)
            if len(batch) >= BATCH_SIZE:
                flush()
        reporter.tick(outcome.entities + len(batch), "Importing")
    if batch:
        flush()
    _fail_if_bad(file_label, errors, error_count, outcome.entities, options)
    reporter.tick(outcome.entities, "Importing", force=True)
    return outcome


def _fail_if_bad(
    file_label: str, errors: list[dict[str, Any]], error_count: int, entities: int, options: ReadOptions
) -> None:
    if error_count:
        listed = "" if error_count <= len(errors) else f" (the first {len(errors):,} are listed)"
        noun = "error" if error_count == 1 else "errors"
        raise JobFailed(
            f"{error_count:,} {noun} in {isolate(file_label)}{listed}; nothing was imported.", errors=errors
        )
    if not entities:
        languages = ", ".join(options.languages)
        message = f"{isolate(file_label)} holds no entities with a name in {languages}; nothing was imported."
        raise JobFailed(message, errors=[{"file": file_label, "line": None, "field": "", "message": message}])


# The job


def start_kb_import(
    *,
    knowledge_base: KnowledgeBase,
    path: Path,
    file_label: str,
    by: User | None,
    format: str = "auto",
    languages: list[str] | None = None,
    type_map: dict[str, str] | None = None,
    uploaded: bool = False,
    new_knowledge_base: bool = False,
    queue: bool = True,
) -> Job:
    """Create the import job (and queue it for a worker unless `queue` is false: then run it with run_job).

    `uploaded` files belong to the job: they are deleted when it finishes, whichever way. A knowledge
    base made for the job (`new_knowledge_base`) is removed again if the job fails and leaves it empty.
    """
    ensure_not_archived(knowledge_base.project_id)
    if format != "auto":
        reader_for(format)  # an unknown format is refused before anyone waits for it
    params = {
        "knowledge_base_id": knowledge_base.pk,
        "path": str(path),
        "file_label": file_label,
        "format": format,
        "languages": languages or knowledge_base.languages or ["en"],
        "type_map": type_map,
        "uploaded": uploaded,
        "new_knowledge_base": new_knowledge_base,
    }
    job = create_job(kind=JobKind.IMPORT_KB, project=knowledge_base.project, params=params, by=by)
    return enqueue_job(job) if queue else job


def upload_path(file_label: str) -> Path:
    """Where an uploaded KB file waits for its import job: a fresh directory of its own under MEDIA_ROOT."""
    directory = kb_uploads_dir() / f"{timezone.now():%Y%m%d%H%M%S}-{os.urandom(6).hex()}"
    directory.mkdir(parents=True, exist_ok=False)
    return directory / (Path(file_label).name or "upload")


# The job, in chunks that workers share. A chunk reads and checks a range of the file's lines (the parse:
# most of an import's time for a Wikidata dump) and stages the records in a part file; the last chunk to
# end writes them all, in file order, in one transaction on PostgreSQL (batches on SQLite, as above). So
# the job keeps its promise: any bad line anywhere writes nothing, and a worker killed at any point
# leaves the knowledge base as it was. Uncompressed JSON lines and Wikidata dumps are split at line
# boundaries every ANNOTATOR_KB_IMPORT_CHUNK_MB; a compressed file or a CSV (whose quoted cells may hold
# line breaks) is one chunk.


def _job_target(job: Job) -> tuple[KnowledgeBase, Path]:
    params = job.params
    knowledge_base = KnowledgeBase.objects.filter(
        pk=params["knowledge_base_id"], project=job.project_id
    ).first()
    if knowledge_base is None:
        raise JobFailed("The knowledge base to import into no longer exists.")
    path = Path(params["path"])
    if not path.is_file():
        raise JobFailed(f"The file {params['file_label']} is gone; upload or give it again.")
    return knowledge_base, path


def _job_options(job: Job) -> ReadOptions:
    return ReadOptions(
        languages=tuple(job.params["languages"]),
        type_map=job.params.get("type_map") or dict(DEFAULT_TYPE_MAP),
    )


def staging_dir(job: Job) -> Path:
    """Where a KB import's chunks stage their records until the last one writes them."""
    return Path(settings.DATA_DIR) / "jobs" / f"{job.pk}.kb-parts"


def plan_kb_import(job: Job, progress: Progress) -> list[Chunk]:
    _, path = _job_target(job)
    size = path.stat().st_size
    with path.open("rb") as raw:
        stream, name = _open(raw, job.params["format"])
        compressed = stream is not raw
        boundaries = [0]
        step = max(1, int(settings.ANNOTATOR_KB_IMPORT_CHUNK_MB * 2**20))
        if not compressed and name != "csv":
            while boundaries[-1] + step < size:
                raw.seek(boundaries[-1] + step - 1)
                raw.readline()  # to the start of the next line (-1: a boundary already there stays)
                if raw.tell() >= size:
                    break
                boundaries.append(raw.tell())
    boundaries.append(size)
    label = job.params["file_label"]
    progress.say(f"Reading {isolate(label)} ({size:,} bytes) as {name}.")
    if len(boundaries) == 2:
        return [Chunk(label=f"all of {label}", params={"start": 0, "end": size, "format": name}, total=size)]
    return [
        Chunk(
            label=f"bytes {start:,}–{end:,} of {label}",
            params={"start": start, "end": end, "format": name},
            total=end - start,
        )
        for start, end in itertools.pairwise(boundaries)
    ]


def read_kb_chunk(job: Job, chunk: JobChunk, progress: Progress) -> dict[str, Any]:
    """Read and check the chunk's lines; stage its records (none when a line is bad: nothing will be
    written). Line numbers in its report count from the chunk's start (`finish` adds the lines before)."""
    _, path = _job_target(job)
    options, name = _job_options(job), chunk.params["format"]
    start, end = chunk.params["start"], chunk.params["end"]
    file_label = job.params["file_label"]
    observer = _observer.get()
    errors: list[dict[str, Any]] = []
    error_count = entities = skipped = 0
    with path.open("rb") as raw, part_writer(staging_dir(job), chunk) as keep:
        if chunk.params["end"] - start == path.stat().st_size:  # the whole file, maybe compressed
            stream, _ = _open(raw, name)
            newlines = 0  # one chunk: nothing comes after it
            position = raw.tell
        else:
            raw.seek(start)
            data = raw.read(end - start)
            newlines = data.count(b"\n")
            stream = io.BytesIO(data)
            position = stream.tell
        for _, item in _items(reader_for(name), stream, options):
            if isinstance(item, LineError):
                error_count += 1
                if len(errors) < MAX_REPORTED_ERRORS:
                    errors.append(_error(file_label, item))
            elif item is None:
                skipped += 1
            else:
                entities += 1
                if not error_count:
                    keep(item)
            progress.set_done(min(position(), end - start))
            if observer is not None:
                observer(start + min(position(), end - start), end, entities)
    progress.set_done(end - start)
    return {
        "entities": entities, "skipped": skipped, "errors": errors, "error_count": error_count, "newlines": newlines,
    }  # fmt: skip


def write_kb_import(job: Job, chunks: list[JobChunk], progress: Progress) -> dict[str, Any]:
    """Every chunk is read: refuse the file if any line was bad, else write its records all at once."""
    knowledge_base, path = _job_target(job)
    file_label, options = job.params["file_label"], _job_options(job)
    errors: list[dict[str, Any]] = []
    lines_before = error_count = 0
    for chunk in chunks:
        error_count += chunk.result["error_count"]
        for error in chunk.result["errors"][: MAX_REPORTED_ERRORS - len(errors)]:
            errors.append({**error, "line": None if error["line"] is None else error["line"] + lines_before})
        lines_before += chunk.result["newlines"]
    entities = sum(chunk.result["entities"] for chunk in chunks)
    _fail_if_bad(file_label, errors, error_count, entities, options)

    outcome = ImportOutcome(
        format=chunks[0].params["format"], skipped=sum(c.result["skipped"] for c in chunks)
    )
    observer, size = _observer.get(), path.stat().st_size
    one_transaction = connection.vendor == "postgresql"
    batch: list[EntityRecord] = []

    def flush() -> None:
        with nullcontext() if one_transaction else transaction.atomic():
            outcome.count(write_entities(knowledge_base=knowledge_base, records=batch))
        batch.clear()
        progress.message = f"Importing: {outcome.entities:,} of {entities:,} entities written."
        progress.flush()
        if observer is not None:
            observer(size, size, outcome.entities)

    with transaction.atomic() if one_transaction else nullcontext():
        for record in read_parts(staging_dir(job), chunks, "entities"):
            batch.append(record)
            if len(batch) >= BATCH_SIZE:
                flush()
        if batch:
            flush()
    if outcome.created or outcome.updated:
        _refresh_statistics()
    _clean_up(job, failed=False)
    progress.say(outcome.summary(knowledge_base))
    return {**asdict(outcome), "knowledge_base_id": knowledge_base.pk}


def _clean_up(job: Job, *, failed: bool) -> None:
    """The staged records go; an uploaded file goes with its job, whichever way it ends; a knowledge
    base made for a failed job goes too when it is still empty."""
    shutil.rmtree(staging_dir(job), ignore_errors=True)
    if failed and job.params.get("new_knowledge_base"):
        KnowledgeBase.objects.filter(pk=job.params["knowledge_base_id"], entities__isnull=True).delete()
    if job.params.get("uploaded"):
        shutil.rmtree(Path(job.params["path"]).parent, ignore_errors=True)


registry.register_chunked(
    JobKind.IMPORT_KB,
    ChunkedHandler(
        plan=plan_kb_import,
        run_chunk=read_kb_chunk,
        finish=write_kb_import,
        abandon=lambda job: _clean_up(job, failed=True),
    ),
)
