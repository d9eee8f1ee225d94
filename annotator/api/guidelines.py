"""The project's guidelines over the API: members read the current version, managers save a new one."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.utils.decorators import method_decorator
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.api.access import user_of
from annotator.api.jobs import error_responses
from annotator.api.kb import member_project
from annotator.projects.models import GuidelineVersion
from annotator.projects.permissions import can_manage
from annotator.projects.services import update_guidelines
from annotator.projects.views import GUIDELINES_MAX_CHARS


class GuidelinesSerializer(serializers.ModelSerializer[GuidelineVersion]):
    created_by = serializers.CharField(source="created_by.get_username", read_only=True, default=None)
    text = serializers.CharField(max_length=GUIDELINES_MAX_CHARS, allow_blank=True, trim_whitespace=False)

    class Meta:
        model = GuidelineVersion
        fields = ["number", "text", "created_at", "created_by"]
        read_only_fields = ["number", "created_at", "created_by"]


@method_decorator(login_not_required, name="dispatch")
class ProjectGuidelines(APIView):
    @extend_schema(
        summary="The current guidelines (Markdown) and their version number",
        responses={
            200: GuidelinesSerializer,
            204: OpenApiResponse(description="The project has no guidelines yet."),
            **error_responses(404),
        },
    )
    def get(self, request: Request, project_id: int) -> Response:
        project = member_project(request, project_id)
        latest = GuidelineVersion.objects.filter(project=project).select_related("created_by").first()
        if latest is None:
            return Response(status=204)
        return Response(GuidelinesSerializer(latest).data)

    @extend_schema(
        summary="Save the guidelines as a new version (managers); unchanged text keeps the current one",
        request=GuidelinesSerializer,
        responses={200: GuidelinesSerializer, **error_responses(400, 403, 404, 409)},
    )
    def put(self, request: Request, project_id: int) -> Response:
        project = member_project(request, project_id)
        if not can_manage(project.my_role):
            raise exceptions.PermissionDenied("Only the project's managers edit its guidelines.")
        incoming = GuidelinesSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        saved = update_guidelines(project=project, text=incoming.validated_data["text"], by=user_of(request))
        return Response(GuidelinesSerializer(saved).data)
