"""The import and export jobs: what a worker (or the command line, inline) runs for them."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from annotator.core.text import isolate
from annotator.interchange.exports import (
    ExportQuery,
    export_json_lines,
    export_path,
    export_records,
    file_name,
    selected_articles,
)
from annotator.interchange.formats import FORMATS
from annotator.interchange.formats.base import DocumentRecord
from annotator.interchange.formats.sources import SourceError, open_source
from annotator.interchange.options import ImportOptions
from annotator.interchange.services import ImportRejected, import_articles, source_limits
from annotator.jobs import registry
from annotator.jobs.chunks import Chunk, ChunkedHandler, article_chunks, part_writer, read_parts
from annotator.jobs.models import Job, JobChunk, JobKind
from annotator.jobs.progress import Progress
from annotator.jobs.services import JobFailed


@registry.register(JobKind.IMPORT_ARTICLES)
def run_import(job: Job, progress: Progress) -> dict[str, Any]:
    params = job.params
    options = ImportOptions.from_params(params)
    path, name = Path(params["path"]), params["file_name"]
    if job.project is None:
        raise JobFailed("An import needs a project.")
    if not path.exists():
        raise JobFailed(f"The file {isolate(name)} is no longer there to import; upload it again.")
    try:
        source = open_source(path, name=name, limits=source_limits())
    except SourceError as error:
        problems = [problem.as_dict() for problem in error.problems]
        raise JobFailed(
            f"{isolate(name)} cannot be imported; nothing was imported.", errors=problems
        ) from None
    try:
        result = import_articles(
            project=job.project, source=source, options=options, by=job.created_by, job=job, progress=progress
        )
    except ImportRejected as rejected:
        raise JobFailed(rejected.message, errors=rejected.problems) from None
    finally:
        if (close := getattr(source, "close", None)) is not None:
            close()
    if params.get("delete_after") and not options.dry_run:
        path.unlink(missing_ok=True)
    progress.say(result.summary())
    return result.as_dict()


def plan_export(job: Job, progress: Progress) -> list[Chunk]:
    """The selected articles, in id order, in chunks of ANNOTATOR_JOB_CHUNK_ARTICLES."""
    if job.project is None:
        raise JobFailed("An export needs a project.")
    query = ExportQuery.from_params(job.params)
    ids = list(selected_articles(job.project, query).values_list("pk", flat=True))
    progress.say(f"Exporting {len(ids):,} articles as {query.writer.label}.")
    return article_chunks(ids)


def parts_dir(job: Job) -> Path:
    """Where an export's chunks leave their records until the last one assembles the file."""
    return export_path(job).parent / f"export-{job.pk}.parts"


# Formats whose file is a head (the same for any documents: b"" or a first line) and then each document's
# bytes: a chunk writes its documents' bytes and the file is the head and the chunks' bytes in order, so
# that the writing (a CoNLL export's tokenising) is spread over the workers too. A JSON Lines chunk makes
# its lines straight from the rows (`export_json_lines`), as a download does. The other formats' chunks
# keep records, and the last chunk writes the file from them (a zip's directory, a DocBin's one message).
CONCATENATED = frozenset({"jsonl", "doccano", "conll", "csv"})


def export_chunk(job: Job, chunk: JobChunk, progress: Progress) -> dict[str, Any]:
    """Read the chunk's articles (the database's share of an export) and keep, in a part file replaced
    whole (so that a chunk run again leaves one), their bytes in the format (`CONCATENATED`) or their
    records, for the job's finish to put together."""
    assert job.project is not None
    query = replace(ExportQuery.from_params(job.params), article_ids=tuple(chunk.params["article_ids"]))
    if query.format not in CONCATENATED:
        records = 0
        with part_writer(parts_dir(job), chunk) as keep:
            for record in counted(export_records(job.project, query), progress):
                keep(record)
                records += 1
        return {"articles": progress.done, "records": records}
    if query.format == "jsonl":

        def articles(count: int) -> None:
            progress.set_done(progress.done + count)

        pieces = export_json_lines(job.project, query, on_articles=articles)
    else:
        pieces = without_head(query.writer.write(counted(export_records(job.project, query), progress)),
                              head(query.format))  # fmt: skip
    path = parts_dir(job) / f"{chunk.number:06d}.bytes"
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.partial")
    with open(partial, "wb") as out:
        for piece in pieces:
            out.write(piece)
    os.replace(partial, path)
    return {"articles": progress.done}


def head(format_name: str) -> bytes:
    """What a `CONCATENATED` format writes before any document (what it writes for none)."""
    return b"".join(FORMATS.writer(format_name).write([]))


def without_head(pieces: Iterable[bytes], first: bytes) -> Iterator[bytes]:
    """The writer's bytes after its head."""
    left = first
    for piece in pieces:
        if left:
            cut = min(len(left), len(piece))
            if piece[:cut] != left[:cut]:
                raise ValueError("The writer's bytes do not start with its head.")
            piece, left = piece[cut:], left[cut:]
        if piece:
            yield piece


def counted(records: Iterator[DocumentRecord], progress: Progress) -> Iterator[DocumentRecord]:
    """The records, counting their articles (one or more records each, in a row) as progress."""
    last = None
    for record in records:
        article = (record.provenance or {}).get("article_id")
        if article != last:
            last = article
            progress.set_done(progress.done + 1)
        yield record


def finish_export(job: Job, chunks: list[JobChunk], progress: Progress) -> dict[str, Any]:
    """Write the file from the chunks' parts, in article order, under its final name only when whole."""
    assert job.project is not None
    project, query = job.project, ExportQuery.from_params(job.params)
    articles = sum(chunk.result["articles"] for chunk in chunks)
    progress.say(f"Writing {articles:,} articles as {query.writer.label}.")
    path = export_path(job)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(path.suffix + ".partial")
    with open(partial, "wb") as out:
        if query.format in CONCATENATED:
            out.write(head(query.format))
            for chunk in chunks:
                with open(parts_dir(job) / f"{chunk.number:06d}.bytes", "rb") as part:
                    shutil.copyfileobj(part, out)
        else:
            for piece in query.writer.write(read_parts(parts_dir(job), chunks, "records")):
                out.write(piece)
    os.replace(partial, path)  # a file under the final name is always whole
    shutil.rmtree(parts_dir(job), ignore_errors=True)
    size = path.stat().st_size
    progress.say(f"Exported {articles:,} articles ({size:,} bytes).")
    return {"file_name": file_name(project, query), "articles": articles, "bytes": size}


def abandon_export(job: Job) -> None:
    """A failed or cancelled export leaves no file: neither its parts nor a half-written one."""
    shutil.rmtree(parts_dir(job), ignore_errors=True)
    path = export_path(job)
    path.with_suffix(path.suffix + ".partial").unlink(missing_ok=True)


# All or nothing: the file appears under its name only once every chunk is in it.
registry.register_chunked(
    JobKind.EXPORT,
    ChunkedHandler(plan=plan_export, run_chunk=export_chunk, finish=finish_export, abandon=abandon_export),
)
