"""Exports over the API: stream a project's annotations in any format, or have a job write them to a file.

Curators and managers export; read tokens may (exporting changes nothing), scoped to their project.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.db.models import QuerySet
from django.http import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.utils.decorators import method_decorator
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, permissions, serializers, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.annotations.models import SetStatus
from annotator.api.access import projects_for, role_in, token_of, user_of
from annotator.api.annotation_serializers import IdField
from annotator.api.jobs import JobSerializer, error_responses
from annotator.articles.models import ArticleStatus
from annotator.interchange.downloads import export_response, job_file_response
from annotator.interchange.exports import (
    ExportQuery,
    SetChoice,
    export_path,
    missing_articles,
    runs_as_job,
    start_export,
)
from annotator.interchange.formats import FORMATS
from annotator.jobs.models import Job, JobKind, JobStatus
from annotator.projects.models import Membership, Project
from annotator.projects.permissions import can_curate


class ExportParamsSerializer(serializers.Serializer):
    """What to export: the format, which sets, and filters (left out: everything)."""

    format = serializers.ChoiceField(choices=FORMATS.export_choices(), default="jsonl")
    set = serializers.ChoiceField(
        choices=[choice.value for choice in SetChoice], default=SetChoice.GOLD,
        help_text="gold (the default), one annotator's sets (name them in `annotator`), or all annotators' sets.",
    )  # fmt: skip
    annotator = serializers.CharField(
        required=False, help_text="The annotator's username, with set=annotator."
    )
    set_status = serializers.ListField(
        child=serializers.ChoiceField(choices=SetStatus.choices), required=False,
        help_text="Only sets with these statuses (`curated`: gold a curator has finished).",
    )  # fmt: skip
    article_status = serializers.ListField(
        child=serializers.ChoiceField(choices=ArticleStatus.choices), required=False,
        help_text="Only articles with these statuses.",
    )  # fmt: skip
    updated_since = serializers.DateTimeField(required=False, help_text="Only sets changed since then.")
    guideline_version = serializers.IntegerField(
        required=False, min_value=1, max_value=2**31 - 1,  # what the version number's column holds
        help_text="Only sets made under this guideline version number.",
    )  # fmt: skip
    ids = serializers.ListField(
        child=IdField(), required=False, max_length=100_000,
        help_text="Only these articles (ids of this project's articles).",
    )  # fmt: skip


def export_query(project: Project, data: dict[str, Any]) -> ExportQuery:
    """The query the validated parameters ask for; 404 for ids that are not the project's articles."""
    ids = tuple(data.get("ids", ()))
    if missing := missing_articles(project, ids):
        raise exceptions.NotFound(f"No article with id {', '.join(map(str, missing[:20]))} in this project.")
    annotator = data.get("annotator")
    if annotator and not Membership.objects.filter(project=project, user__username=annotator).exists():
        raise exceptions.ValidationError(
            {"annotator": [f"No member of this project is called {annotator!r}."]}
        )
    return ExportQuery(
        format=data["format"], sets=data["set"], annotator=annotator,
        set_status=tuple(data.get("set_status", ())), article_status=tuple(data.get("article_status", ())),
        updated_since=data.get("updated_since"), guideline_version=data.get("guideline_version"), article_ids=ids,
    )  # fmt: skip


def exporting_project(request: Request, project_id: int) -> Project:
    project = get_object_or_404(projects_for(request).with_role_of(user_of(request)), pk=project_id)
    if not can_curate(project.my_role):  # type: ignore[attr-defined]
        raise exceptions.PermissionDenied("Only the project's curators and managers export.")
    return project


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class AnyAccept(BaseContentNegotiation):
    """Answer whatever the client accepts: the export's own media type is not one of DRF's renderers."""

    def select_parser(self, request: Request, parsers: Any) -> Any:
        return parsers[0]

    def select_renderer(self, request: Request, renderers: Any, format_suffix: str | None = None) -> Any:
        return renderers[0], renderers[0].media_type


class ReadOrWriteToken(permissions.BasePermission):
    """Any authenticated user or token: exporting reads, even when a job is started to do it."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and request.user.is_authenticated)


EXPORT_MEDIA = {writer.media_type.split(";")[0] for writer in FORMATS.writers.values()}


@method_decorator(login_not_required, name="dispatch")
class ProjectExport(APIView):
    """Stream the project's annotations (gold by default) in one of the export formats.

    The body is sent as it is read, so any size streams with flat memory. A DocBin is built whole:
    beyond ANNOTATOR_EXPORT_INLINE_MAX_ARTICLES articles, POST the same parameters to `exports/` to
    have a job write it (409 says so)."""

    content_negotiation_class = AnyAccept
    throttle_scopes = {"GET": "export"}

    @extend_schema(
        parameters=[ExportParamsSerializer],
        responses={
            **{(200, media): OpenApiResponse(OpenApiTypes.BINARY, description="The export, streamed.")
               for media in sorted(EXPORT_MEDIA)},
            **error_responses(400, 403, 404, 409),
        },
    )  # fmt: skip
    def get(self, request: Request, project_id: int) -> HttpResponseBase:
        project = exporting_project(request, project_id)
        params = ExportParamsSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        query = export_query(project, params.validated_data)
        if runs_as_job(project, query):
            raise Conflict(
                f"This {query.writer.label} export is too large to build in one request: POST the same "
                f"parameters to /api/v1/projects/{project.pk}/exports/ to have a job write it.",
                code="too_large",
            )
        return export_response(project, query)


@method_decorator(login_not_required, name="dispatch")
class ProjectExportJobs(APIView):
    """Start a job that writes the export to a file (any format, any size); poll the job, then fetch
    `/api/v1/exports/{job id}/file`."""

    permission_classes = [ReadOrWriteToken]
    throttle_scopes = {"POST": "export"}

    @extend_schema(
        request=ExportParamsSerializer, responses={202: JobSerializer, **error_responses(400, 403, 404)}
    )
    def post(self, request: Request, project_id: int) -> Response:
        project = exporting_project(request, project_id)
        params = ExportParamsSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        job = start_export(
            project=project, query=export_query(project, params.validated_data), by=user_of(request)
        )
        body = JobSerializer(job, context={"request": request}).data
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]})


@method_decorator(login_not_required, name="dispatch")
class ExportFile(APIView):
    """The file an export job wrote, once it succeeded (409 before)."""

    content_negotiation_class = AnyAccept
    throttle_scopes = {"GET": "export"}

    def jobs(self) -> QuerySet[Job]:
        jobs = Job.objects.visible_to(self.request.user).filter(kind=JobKind.EXPORT)
        token = token_of(self.request)
        return jobs.filter(project_id=token.project_id) if token is not None and token.project_id else jobs

    @extend_schema(
        responses={
            **{(200, media): OpenApiResponse(OpenApiTypes.BINARY, description="The export file.")
               for media in sorted(EXPORT_MEDIA)},
            **error_responses(403, 404, 409),
        },
    )  # fmt: skip
    def get(self, request: Request, export_job_id: int) -> HttpResponseBase:
        job = get_object_or_404(self.jobs(), pk=export_job_id)
        assert job.project_id is not None  # export jobs always have a project
        if not can_curate(role_in(request, job.project_id)):
            raise exceptions.PermissionDenied("Only the project's curators and managers export.")
        if job.status != JobStatus.SUCCEEDED:
            raise Conflict(f"The export is {job.get_status_display().lower()}, not ready.", code="not_ready")
        if not export_path(job).exists():
            raise exceptions.NotFound("The export file is gone; run the export again.")
        return job_file_response(job)
