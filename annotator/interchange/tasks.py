"""The import and export jobs: what a worker (or the command line, inline) runs for them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from annotator.interchange.exports import ExportQuery, count_articles, export_path, export_records, file_name
from annotator.interchange.formats.base import DocumentRecord
from annotator.interchange.formats.sources import SourceError, open_source
from annotator.interchange.options import ImportOptions
from annotator.interchange.services import ImportRejected, import_articles, source_limits
from annotator.jobs import registry
from annotator.jobs.models import Job, JobKind
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
        raise JobFailed(f"The file {name} is no longer there to import; upload it again.")
    try:
        source = open_source(path, name=name, limits=source_limits())
    except SourceError as error:
        problems = [problem.as_dict() for problem in error.problems]
        raise JobFailed(f"{name} cannot be imported; nothing was imported.", errors=problems) from None
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


@registry.register(JobKind.EXPORT)
def run_export(job: Job, progress: Progress) -> dict[str, Any]:
    """Write the export to a file named by the job; progress counts the articles written."""
    if job.project is None:
        raise JobFailed("An export needs a project.")
    project, query = job.project, ExportQuery.from_params(job.params)
    progress.set_total(count_articles(project, query))
    progress.say(f"Exporting {progress.total:,} articles as {query.writer.label}.")
    articles = 0

    def counted(records: Iterator[DocumentRecord]) -> Iterator[DocumentRecord]:
        nonlocal articles
        last = None
        for record in records:
            article = (record.provenance or {}).get("article_id")
            if article != last:
                articles, last = articles + 1, article
                progress.set_done(articles)
            yield record

    path = export_path(job)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(path.suffix + ".partial")
    with open(partial, "wb") as out:
        for chunk in query.writer.write(counted(export_records(project, query))):
            out.write(chunk)
    os.replace(partial, path)  # a file under the final name is always whole
    size = path.stat().st_size
    progress.set_done(articles)
    progress.say(f"Exported {articles:,} articles ({size:,} bytes).")
    return {"file_name": file_name(project, query), "articles": articles, "bytes": size}
