"""Imports and jobs over the API: upload a file to import (a Job comes back at once), then poll the Job."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.db.models import QuerySet
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils.decorators import method_decorator
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from annotator.annotations.models import SetKind
from annotator.api.access import projects_for, user_of
from annotator.api.annotation_serializers import ErrorSerializer
from annotator.api.errors import error_body
from annotator.api.jobs import JobSerializer
from annotator.core.errors import DomainError
from annotator.interchange.formats import FORMATS
from annotator.interchange.forms import limit_uploads, too_large_message, upload_too_large
from annotator.interchange.options import ImportOptions, OnDuplicate
from annotator.interchange.services import start_import, store_upload
from annotator.jobs.models import Job, JobKind
from annotator.projects.models import Project
from annotator.projects.permissions import can_manage

ERROR = ErrorSerializer


class ImportRequestSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="The file: plain, gzipped, or a zip archive (brat, text, ...).")
    format = serializers.ChoiceField(choices=FORMATS.choices())
    set_kind = serializers.ChoiceField(
        choices=[SetKind.IMPORTED, SetKind.GOLD], default=SetKind.IMPORTED,
        help_text="Where annotations in the file go: an imported set (named by set_name) or gold.",
    )  # fmt: skip
    set_name = serializers.CharField(default="imported", max_length=100)
    on_duplicate = serializers.ChoiceField(choices=[o.value for o in OnDuplicate], default=OnDuplicate.SKIP)
    create_types = serializers.BooleanField(default=False, help_text="Add labels the schema lacks as types.")
    dry_run = serializers.BooleanField(default=False, help_text="Check everything, keep nothing.")
    curated = serializers.BooleanField(
        default=False,
        help_text="With set_kind gold: the gold sets the import creates are curated (ready to train on); "
        "the project's model then learns from them, or its pretrained pipeline is weighed on them, as after "
        "a bulk curation.",
    )
    strict = serializers.BooleanField(
        default=False,
        help_text="Refuse the import if anything would be skipped or changed (otherwise the job's result "
        "lists it under warnings).",
    )
    format_options = serializers.JSONField(
        default=dict, help_text='Format options, e.g. {"text": "body", "metadata": ["url"]} for CSV.'
    )

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(data["format_options"], dict):
            raise serializers.ValidationError(
                {"format_options": ["Give the format options as a JSON object."]}
            )
        try:
            data["options"] = ImportOptions(
                format=data["format"], format_options=data["format_options"], set_kind=data["set_kind"],
                set_name=data["set_name"], on_duplicate=data["on_duplicate"], create_types=data["create_types"],
                dry_run=data["dry_run"], curated=data["curated"], strict=data["strict"],
            )  # fmt: skip
        except DomainError as error:
            raise serializers.ValidationError({error.field or "non_field_errors": [error.message]}) from None
        return data


@method_decorator(login_not_required, name="dispatch")
class ProjectImports(generics.ListCreateAPIView):
    """A project's imports (members), and new ones (managers): the file is imported by a background job."""

    serializer_class = JobSerializer

    def initialize_request(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Request:
        if request.method == "POST":
            self.upload_handler = limit_uploads(request)
        return super().initialize_request(request, *args, **kwargs)

    def project(self) -> Project:
        projects = projects_for(self.request).with_role_of(user_of(self.request))
        return get_object_or_404(projects, pk=self.kwargs["project_id"])

    def get_queryset(self) -> QuerySet[Job]:
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no project
            return Job.objects.none()
        return Job.objects.filter(project=self.project(), kind=JobKind.IMPORT_ARTICLES)

    @extend_schema(
        request={"multipart/form-data": ImportRequestSerializer},
        responses={
            202: OpenApiResponse(JobSerializer, description="Queued: poll the job's url for its progress."),
            400: OpenApiResponse(ERROR, description="The request is not valid; see the fields."),
            403: OpenApiResponse(ERROR, description="Only the project's managers import."),
            404: OpenApiResponse(ERROR, description="No such project (or you are not a member)."),
            413: OpenApiResponse(ERROR, description="The file is larger than the upload limit."),
        },
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        project = self.project()
        if not can_manage(project.my_role):  # type: ignore[attr-defined]
            raise PermissionDenied("Only the project's managers import articles.")
        if upload_too_large(request._request) or (request.data is not None and self.upload_handler.refused):
            return Response(
                error_body("too_large", too_large_message()), status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
            )
        incoming = ImportRequestSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        upload = incoming.validated_data["file"]
        job = start_import(
            project=project, path=store_upload(upload), file_name=upload.name,
            options=incoming.validated_data["options"], by=request.user, delete_after=True,  # type: ignore[arg-type]
        )  # fmt: skip
        body = JobSerializer(job, context={"request": request}).data
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]})
