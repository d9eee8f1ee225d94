"""The API that starts projects: `POST /api/v1/projects/`, from a preset, a schema document or a copy."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as ModelValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from annotator.api.access import projects_for, token_of, user_of
from annotator.api.jobs import error_responses
from annotator.api.serializers import ProjectDetailSerializer
from annotator.projects.creation import create_project
from annotator.projects.languages import LANGUAGES
from annotator.projects.models import Project
from annotator.projects.permissions import can_create_projects, can_manage
from annotator.projects.presets import PRESETS, preset_schema
from annotator.projects.schema_spec import SchemaError, parse_schema


@extend_schema_field(OpenApiTypes.OBJECT)
class SchemaDocumentField(serializers.JSONField):
    """A schema document: entity_types, relation_types, guidelines, settings (see the README)."""


class NewProjectSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    language = serializers.ChoiceField(choices=LANGUAGES, default="en")
    preset = serializers.ChoiceField(
        choices=list(PRESETS.items()), required=False, help_text="Start from a preset schema."
    )
    schema = SchemaDocumentField(
        required=False,
        help_text="A schema document: entity_types, relation_types, guidelines, settings.",
    )
    copy_from = serializers.IntegerField(
        required=False,
        help_text="Copy the schema, KBs, settings and guidelines of this project (you manage it).",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        given = [key for key in ("preset", "schema", "copy_from") if key in attrs]
        if len(given) > 1:
            raise serializers.ValidationError(
                {given[1]: f"Give one of preset, schema and copy_from, not {' and '.join(given)}."}
            )
        if "schema" in attrs:
            try:
                attrs["schema"] = parse_schema(attrs["schema"])
            except SchemaError as error:
                raise serializers.ValidationError({"schema": str(error)}) from None
        elif "preset" in attrs:
            attrs["schema"] = preset_schema(attrs.pop("preset"))
        return attrs


def start_project(request: Request) -> Response:
    """What `POST /api/v1/projects/` does (ProjectList hands it the request)."""
    user = user_of(request)
    token = token_of(request)
    if token is not None and token.project_id is not None:
        raise exceptions.PermissionDenied("This token is limited to one project; it cannot create projects.")
    if not can_create_projects(user):
        raise exceptions.PermissionDenied("Only staff create projects on this site.")
    incoming = NewProjectSerializer(data=request.data)
    incoming.is_valid(raise_exception=True)
    data = dict(incoming.validated_data)
    source = None
    if "copy_from" in data:
        # Another project's id in a body is a 404 unless it is one of yours, as everywhere.
        source = get_object_or_404(projects_for(request).with_role_of(user), pk=data.pop("copy_from"))
        if not can_manage(source.my_role):
            raise exceptions.PermissionDenied("Only the project's managers copy it.")
    try:
        project = create_project(by=user, copy_from=source, **data)
    except ModelValidationError as error:
        raise exceptions.ValidationError(error.message_dict) from None
    shown = (
        Project.objects.with_role_of(user)
        .prefetch_related("entity_types", "relation_types__head_types", "relation_types__tail_types")
        .get(pk=project.pk)
    )
    return Response(ProjectDetailSerializer(shown).data, status=status.HTTP_201_CREATED)


create_schema = extend_schema(
    summary="Create a project (you become its manager) from a preset, a schema document or a copy",
    request=NewProjectSerializer,
    responses={201: ProjectDetailSerializer, **error_responses(400, 403, 404)},
)
