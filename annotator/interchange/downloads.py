"""Exports as HTTP responses, for the API and the export page alike: streamed as read, or a job's file."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import FileResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header

from annotator.interchange.exports import ExportQuery, export_bytes, export_path, file_name
from annotator.interchange.formats import FORMATS

if TYPE_CHECKING:
    from annotator.jobs.models import Job
    from annotator.projects.models import Project


def export_response(project: Project, query: ExportQuery) -> StreamingHttpResponse:
    """The export streamed as it is read: the first bytes leave before the last article is read."""
    response = StreamingHttpResponse(export_bytes(project, query), content_type=query.writer.media_type)
    response["Content-Disposition"] = content_disposition_header(True, file_name(project, query))
    return response


def job_file_response(job: Job) -> FileResponse:
    """The file a finished export job wrote (the caller checked that it finished, and who asks)."""
    response = FileResponse(
        open(export_path(job), "rb"),  # noqa: SIM115  # FileResponse closes it
        as_attachment=True,
        filename=job.result["file_name"],
        content_type=FORMATS.writer(job.params["format"]).media_type,
    )
    return response
