"""The import job: what a worker (or the command line, inline) runs for an `import_articles` Job."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from annotator.core.text import isolate
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
