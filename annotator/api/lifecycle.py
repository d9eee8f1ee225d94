"""The API over a project's life: archive or unarchive it, delete it (managers; others 403, non-members 404)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponseBase
from django.utils.decorators import method_decorator
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.api.access import user_of
from annotator.api.jobs import JobSerializer, error_responses
from annotator.api.kb import member_project
from annotator.interchange.backup import backup_response, restore_backup
from annotator.projects.models import Project
from annotator.projects.permissions import can_manage
from annotator.review.lifecycle import archive_project, delete_project, unarchive_project

api_view = method_decorator(login_not_required, name="dispatch")


def _managed(request: Request, project_id: int) -> Project:
    project = member_project(request, project_id)
    if not can_manage(project.my_role):
        raise exceptions.PermissionDenied("Only the project's managers archive or delete it.")
    return project


class ArchiveSerializer(serializers.Serializer):
    archived = serializers.BooleanField(
        help_text="true archives (read-only, out of the queues), false reopens."
    )
    archived_at = serializers.DateTimeField(read_only=True, allow_null=True)


class DeleteSerializer(serializers.Serializer):
    confirm = serializers.CharField(max_length=100, help_text="The project's slug, typed to confirm.")


@api_view
class ProjectArchive(APIView):
    @extend_schema(
        summary="Archive the project (read-only, out of every queue) or unarchive it (managers)",
        request=ArchiveSerializer,
        responses={200: ArchiveSerializer, **error_responses(400, 403, 404)},
    )
    def post(self, request: Request, project_id: int) -> Response:
        project = _managed(request, project_id)
        incoming = ArchiveSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        if incoming.validated_data["archived"]:
            archive_project(project=project)
        else:
            unarchive_project(project=project)
        return Response({"archived": project.archived_at is not None, "archived_at": project.archived_at})


@api_view
class ProjectDelete(APIView):
    @extend_schema(
        summary="Delete the project with everything in it, its slug typed as `confirm` (managers)",
        request=DeleteSerializer,
        responses={
            204: OpenApiResponse(description="Deleted."),
            202: OpenApiResponse(
                JobSerializer, description="A big project: archived, and deleted by this job."
            ),
            **error_responses(400, 403, 404),
        },
    )
    def post(self, request: Request, project_id: int) -> Response:
        project = _managed(request, project_id)
        incoming = DeleteSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        job = delete_project(project=project, confirm=incoming.validated_data["confirm"], by=user_of(request))
        if job is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        body = JobSerializer(job, context={"request": request}).data
        return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]})


@api_view
class ProjectBackup(APIView):
    @extend_schema(
        summary="The whole project as one gzipped JSON-lines file (managers)",
        responses={
            (200, "application/gzip"): OpenApiResponse(OpenApiTypes.BINARY, description="The backup file."),
            **error_responses(403, 404),
        },
    )
    def get(self, request: Request, project_id: int) -> HttpResponseBase:
        project = member_project(request, project_id)
        if not can_manage(project.my_role):
            raise exceptions.PermissionDenied("Only the project's managers download its backup.")
        return backup_response(project)


class RestoreSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="A backup file made by GET /api/v1/projects/{id}/backup.")
    slug = serializers.SlugField(max_length=100, help_text="The new project's short name.")


class RestoredSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField()
    name = serializers.CharField()


@api_view
class ProjectRestore(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        summary="Make a new project from a backup file (staff); you become one of its managers",
        request={"multipart/form-data": RestoreSerializer},
        responses={201: RestoredSerializer, **error_responses(400, 403)},
    )
    def post(self, request: Request) -> Response:
        if not user_of(request).is_staff:
            raise exceptions.PermissionDenied("Only staff restore backups.")
        incoming = RestoreSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        project = restore_backup(data["file"], slug=data["slug"], by=user_of(request))
        body = {"id": project.pk, "slug": project.slug, "name": project.name}
        return Response(body, status=status.HTTP_201_CREATED)
