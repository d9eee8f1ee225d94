"""The schema over the API: entity types, their attributes and relation types; managers change them.

Members read (GET); managers write; annotators and curators get 403, anyone else 404. A type that
annotations use is deleted only with `?annotations=delete` (409 with the counts otherwise), or merged
into another with `POST .../merge`. Changes that would drop annotations (narrower head or tail types,
an attribute that no longer takes a value spans have) answer 409 with the count unless the body says
`remove_unfitting` / `remove_values`. Deleting an attribute that spans have values of takes
`?annotations=delete` too.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError as ModelValidationError
from django.shortcuts import get_object_or_404
from django.utils.decorators import method_decorator
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.api.access import user_of
from annotator.api.jobs import error_responses
from annotator.api.kb import member_project
from annotator.projects.colours import HEX_COLOUR, legibility
from annotator.projects.models import EntityType, EntityTypeAttribute, Project, RelationType
from annotator.projects.permissions import can_manage
from annotator.projects.schema_changes import delete_entity_type, entity_type_usage, merge_entity_type
from annotator.projects.schema_editing import (
    SchemaConflict,
    delete_attribute,
    delete_relation_type,
    merge_relation_type,
    relation_type_usage,
    save_attribute,
    save_entity_type,
    save_relation_type,
)

api_view = method_decorator(login_not_required, name="dispatch")


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


def _managed(request: Request, project_id: int) -> Project:
    project = member_project(request, project_id)
    if not can_manage(project.my_role):
        raise exceptions.PermissionDenied("Only the project's managers change its schema.")
    return project


def _invalid(error: ModelValidationError | SchemaConflict) -> exceptions.APIException:
    if isinstance(error, SchemaConflict):
        return Conflict(error.message)
    if hasattr(error, "error_dict"):
        return exceptions.ValidationError(error.message_dict)
    return exceptions.ValidationError({"non_field_errors": error.messages})


# Serializers


class AttributeSerializer(serializers.ModelSerializer[EntityTypeAttribute]):
    remove_values = serializers.BooleanField(
        write_only=True, required=False, default=False,
        help_text="Delete the spans' values that the changed attribute would no longer take.",
    )  # fmt: skip

    class Meta:
        model = EntityTypeAttribute
        fields = ["id", "name", "kind", "choices", "description", "position", "remove_values"]
        extra_kwargs = {"position": {"required": False}}
        validators: list[Any] = []  # the service checks with the model's own rules

    def validate_choices(self, value: Any) -> list[str]:
        if not isinstance(value, list):
            raise serializers.ValidationError("A list of texts.")
        return value


class LegibilitySerializer(serializers.Serializer):
    chip_text = serializers.FloatField(help_text="Contrast of the chip's text on the colour (needs 4.5).")
    underline = serializers.FloatField(help_text="Contrast of the colour on the page (needs 3).")
    legible = serializers.BooleanField()
    proposed = serializers.CharField(
        help_text="A legible colour of the same hue (the colour itself if legible)."
    )


class EntityTypeEditSerializer(serializers.ModelSerializer[EntityType]):
    attributes = AttributeSerializer(many=True, read_only=True)
    legibility = serializers.SerializerMethodField()

    class Meta:
        model = EntityType
        fields = ["id", "name", "key", "colour", "description", "position", "attributes", "legibility"]
        extra_kwargs = {"position": {"required": False}}
        validators: list[Any] = []

    @extend_schema_field(LegibilitySerializer(allow_null=True))
    def get_legibility(self, entity_type: EntityType) -> dict[str, Any] | None:
        if not HEX_COLOUR.match(entity_type.colour):
            return None  # written past the API's checks: nothing to measure
        shown = legibility(entity_type.colour)
        return {**asdict(shown), "legible": shown.legible}


class RelationTypeEditSerializer(serializers.ModelSerializer[RelationType]):
    head_types = serializers.SlugRelatedField(
        slug_field="name", many=True, queryset=EntityType.objects.none(), required=False,
        help_text="Entity type names allowed as head; none means any.",
    )  # fmt: skip
    tail_types = serializers.SlugRelatedField(
        slug_field="name", many=True, queryset=EntityType.objects.none(), required=False,
        help_text="Entity type names allowed as tail; none means any.",
    )  # fmt: skip
    remove_unfitting = serializers.BooleanField(
        write_only=True, required=False, default=False,
        help_text="Delete the relations that the new head and tail types leave out.",
    )  # fmt: skip

    class Meta:
        model = RelationType
        fields = [
            "id", "name", "directed", "head_types", "tail_types", "key", "description", "position", "remove_unfitting",
        ]  # fmt: skip
        extra_kwargs = {"position": {"required": False}}
        validators: list[Any] = []

    def __init__(self, *args: Any, project: Project | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if project is not None:
            for name in ("head_types", "tail_types"):
                field = self.fields[name]
                assert isinstance(field, serializers.ManyRelatedField)
                field.child_relation.queryset = EntityType.objects.filter(project=project)  # type: ignore[arg-type]


class MergeSerializer(serializers.Serializer):
    into = serializers.IntegerField(
        help_text="The id of the type (of the same project) that takes its place."
    )


class EntityTypeUsageSerializer(serializers.Serializer):
    spans = serializers.IntegerField()
    gold_spans = serializers.IntegerField()
    relations = serializers.IntegerField()
    attribute_values = serializers.IntegerField()
    suggestions = serializers.IntegerField()
    sets = serializers.IntegerField()
    relation_types_only_this = serializers.ListField(child=serializers.CharField())


ANNOTATIONS_PARAMETER = OpenApiParameter(
    "annotations",
    str,
    enum=["delete"],
    description="`delete`: also delete what uses the type. Without it a type in use answers 409.",
)


# Entity types


@api_view
class EntityTypeList(APIView):
    @extend_schema(
        summary="The project's entity types with their attributes",
        responses={200: EntityTypeEditSerializer(many=True), **error_responses(404)},
    )
    def get(self, request: Request, project_id: int) -> Response:
        project = member_project(request, project_id)
        types = EntityType.objects.filter(project=project).prefetch_related("attributes")
        return Response(EntityTypeEditSerializer(types, many=True).data)

    @extend_schema(
        summary="Add an entity type (managers)",
        request=EntityTypeEditSerializer,
        responses={201: EntityTypeEditSerializer, **error_responses(400, 403, 404, 409)},
    )
    def post(self, request: Request, project_id: int) -> Response:
        project = _managed(request, project_id)
        incoming = EntityTypeEditSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        try:
            made = save_entity_type(project=project, values=dict(incoming.validated_data))
        except ModelValidationError as error:
            raise _invalid(error) from None
        return Response(EntityTypeEditSerializer(made).data, status=status.HTTP_201_CREATED)


def _entity_type(request: Request, project_id: int, type_id: int, *, manage: bool) -> EntityType:
    project = _managed(request, project_id) if manage else member_project(request, project_id)
    return get_object_or_404(EntityType.objects.filter(project=project), pk=type_id)


@api_view
class EntityTypeDetail(APIView):
    @extend_schema(
        summary="One entity type, its attributes and how legible its colour is",
        responses={200: EntityTypeEditSerializer, **error_responses(404)},
    )
    def get(self, request: Request, project_id: int, type_id: int) -> Response:
        return Response(
            EntityTypeEditSerializer(_entity_type(request, project_id, type_id, manage=False)).data
        )

    @extend_schema(
        summary="Change an entity type: rename, key, colour, description, position (managers)",
        request=EntityTypeEditSerializer,
        responses={200: EntityTypeEditSerializer, **error_responses(400, 403, 404, 409)},
    )
    def patch(self, request: Request, project_id: int, type_id: int) -> Response:
        entity_type = _entity_type(request, project_id, type_id, manage=True)
        incoming = EntityTypeEditSerializer(entity_type, data=request.data, partial=True)
        incoming.is_valid(raise_exception=True)
        try:
            saved = save_entity_type(
                project=entity_type.project, entity_type=entity_type, values=dict(incoming.validated_data)
            )
        except ModelValidationError as error:
            raise _invalid(error) from None
        return Response(EntityTypeEditSerializer(saved).data)

    @extend_schema(
        summary="Delete an entity type (managers); one in use needs ?annotations=delete",
        parameters=[ANNOTATIONS_PARAMETER],
        responses={200: EntityTypeUsageSerializer, **error_responses(403, 404, 409)},
    )
    def delete(self, request: Request, project_id: int, type_id: int) -> Response:
        entity_type = _entity_type(request, project_id, type_id, manage=True)
        usage = entity_type_usage(entity_type)
        if usage.used and request.query_params.get("annotations") != "delete":
            raise Conflict(
                f"{entity_type.name} is used by {usage.spans} spans ({usage.gold_spans} in gold), "
                f"{usage.relations} relations and {usage.suggestions} suggestions: merge it into another "
                "type, or delete with ?annotations=delete."
            )
        removed = delete_entity_type(entity_type=entity_type, by=user_of(request))
        return Response(EntityTypeUsageSerializer(asdict(removed)).data)


class EntityMergeReportSerializer(serializers.Serializer):
    spans_moved = serializers.IntegerField()
    duplicates_removed = serializers.IntegerField(
        help_text="Spans the target type already had in the same place."
    )
    suggestions_moved = serializers.IntegerField()
    attributes_moved = serializers.IntegerField()


@api_view
class EntityTypeMerge(APIView):
    @extend_schema(
        summary="Merge an entity type into another: every use moves there, then it is deleted (managers)",
        request=MergeSerializer,
        responses={200: EntityMergeReportSerializer, **error_responses(400, 403, 404, 409)},
    )
    def post(self, request: Request, project_id: int, type_id: int) -> Response:
        source = _entity_type(request, project_id, type_id, manage=True)
        incoming = MergeSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        into = get_object_or_404(
            EntityType.objects.filter(project_id=source.project_id).exclude(pk=source.pk),
            pk=incoming.validated_data["into"],
        )
        report = merge_entity_type(source=source, into=into, by=user_of(request))
        return Response(EntityMergeReportSerializer(asdict(report)).data)


# Attributes


@api_view
class AttributeList(APIView):
    @extend_schema(
        summary="The attributes of an entity type",
        responses={200: AttributeSerializer(many=True), **error_responses(404)},
    )
    def get(self, request: Request, project_id: int, type_id: int) -> Response:
        entity_type = _entity_type(request, project_id, type_id, manage=False)
        return Response(AttributeSerializer(entity_type.attributes.all(), many=True).data)

    @extend_schema(
        summary="Add an attribute to an entity type (managers)",
        request=AttributeSerializer,
        responses={201: AttributeSerializer, **error_responses(400, 403, 404, 409)},
    )
    def post(self, request: Request, project_id: int, type_id: int) -> Response:
        entity_type = _entity_type(request, project_id, type_id, manage=True)
        incoming = AttributeSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        values = dict(incoming.validated_data)
        values.pop("remove_values")
        try:
            made = save_attribute(entity_type=entity_type, values=values, by=user_of(request))
        except ModelValidationError as error:
            raise _invalid(error) from None
        return Response(AttributeSerializer(made).data, status=status.HTTP_201_CREATED)


def _attribute(
    request: Request, project_id: int, type_id: int, attribute_id: int, *, manage: bool
) -> EntityTypeAttribute:
    entity_type = _entity_type(request, project_id, type_id, manage=manage)
    return get_object_or_404(EntityTypeAttribute.objects.filter(entity_type=entity_type), pk=attribute_id)


@api_view
class AttributeDetail(APIView):
    @extend_schema(summary="One attribute", responses={200: AttributeSerializer, **error_responses(404)})
    def get(self, request: Request, project_id: int, type_id: int, attribute_id: int) -> Response:
        return Response(
            AttributeSerializer(_attribute(request, project_id, type_id, attribute_id, manage=False)).data
        )

    @extend_schema(
        summary="Change an attribute (managers); 409 when spans' values would no longer fit",
        request=AttributeSerializer,
        responses={200: AttributeSerializer, **error_responses(400, 403, 404, 409)},
    )
    def patch(self, request: Request, project_id: int, type_id: int, attribute_id: int) -> Response:
        attribute = _attribute(request, project_id, type_id, attribute_id, manage=True)
        incoming = AttributeSerializer(attribute, data=request.data, partial=True)
        incoming.is_valid(raise_exception=True)
        values = dict(incoming.validated_data)
        remove = values.pop("remove_values", False)
        try:
            saved = save_attribute(
                entity_type=attribute.entity_type, attribute=attribute, values=values,
                remove_values=remove, by=user_of(request),
            )  # fmt: skip
        except (ModelValidationError, SchemaConflict) as error:
            raise _invalid(error) from None
        return Response(AttributeSerializer(saved).data)

    @extend_schema(
        summary="Delete an attribute (managers); one that spans have values of needs ?annotations=delete",
        parameters=[ANNOTATIONS_PARAMETER],
        responses={204: OpenApiResponse(description="Deleted."), **error_responses(403, 404, 409)},
    )
    def delete(self, request: Request, project_id: int, type_id: int, attribute_id: int) -> Response:
        attribute = _attribute(request, project_id, type_id, attribute_id, manage=True)
        used = attribute.values.count()
        if used and request.query_params.get("annotations") != "delete":
            raise Conflict(
                f"{used} spans have a value of {attribute.name}: delete with ?annotations=delete to remove them too."
            )
        delete_attribute(attribute=attribute, by=user_of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


# Relation types


def _relation_values(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The model fields, and the rest (head and tail types, remove_unfitting), of a validated body."""
    extra: dict[str, Any] = {}
    for key in ("head_types", "tail_types", "remove_unfitting"):
        if key in data:
            extra[key] = data.pop(key)
    return data, extra


@api_view
class RelationTypeList(APIView):
    @extend_schema(
        summary="The project's relation types",
        responses={200: RelationTypeEditSerializer(many=True), **error_responses(404)},
    )
    def get(self, request: Request, project_id: int) -> Response:
        project = member_project(request, project_id)
        types = RelationType.objects.filter(project=project).prefetch_related("head_types", "tail_types")
        return Response(RelationTypeEditSerializer(types, many=True).data)

    @extend_schema(
        summary="Add a relation type (managers)",
        request=RelationTypeEditSerializer,
        responses={201: RelationTypeEditSerializer, **error_responses(400, 403, 404, 409)},
    )
    def post(self, request: Request, project_id: int) -> Response:
        project = _managed(request, project_id)
        incoming = RelationTypeEditSerializer(data=request.data, project=project)
        incoming.is_valid(raise_exception=True)
        values, extra = _relation_values(dict(incoming.validated_data))
        try:
            made = save_relation_type(
                project=project, values=values, head_types=extra.get("head_types", []),
                tail_types=extra.get("tail_types", []), by=user_of(request),
            )  # fmt: skip
        except ModelValidationError as error:
            raise _invalid(error) from None
        return Response(RelationTypeEditSerializer(made).data, status=status.HTTP_201_CREATED)


def _relation_type(request: Request, project_id: int, type_id: int, *, manage: bool) -> RelationType:
    project = _managed(request, project_id) if manage else member_project(request, project_id)
    return get_object_or_404(RelationType.objects.filter(project=project), pk=type_id)


class RelationUsageSerializer(serializers.Serializer):
    relations = serializers.IntegerField()
    sets = serializers.IntegerField()
    suggestions = serializers.IntegerField()


@api_view
class RelationTypeDetail(APIView):
    @extend_schema(
        summary="One relation type", responses={200: RelationTypeEditSerializer, **error_responses(404)}
    )
    def get(self, request: Request, project_id: int, type_id: int) -> Response:
        return Response(
            RelationTypeEditSerializer(_relation_type(request, project_id, type_id, manage=False)).data
        )

    @extend_schema(
        summary="Change a relation type (managers); 409 when relations would no longer fit its types",
        request=RelationTypeEditSerializer,
        responses={200: RelationTypeEditSerializer, **error_responses(400, 403, 404, 409)},
    )
    def patch(self, request: Request, project_id: int, type_id: int) -> Response:
        relation_type = _relation_type(request, project_id, type_id, manage=True)
        incoming = RelationTypeEditSerializer(
            relation_type, data=request.data, partial=True, project=relation_type.project
        )
        incoming.is_valid(raise_exception=True)
        values, extra = _relation_values(dict(incoming.validated_data))
        try:
            saved = save_relation_type(
                project=relation_type.project,
                relation_type=relation_type,
                values=values,
                head_types=extra.get("head_types", list(relation_type.head_types.all())),
                tail_types=extra.get("tail_types", list(relation_type.tail_types.all())),
                remove_unfitting=extra.get("remove_unfitting", False),
                by=user_of(request),
            )
        except (ModelValidationError, SchemaConflict) as error:
            raise _invalid(error) from None
        return Response(RelationTypeEditSerializer(saved).data)

    @extend_schema(
        summary="Delete a relation type (managers); one in use needs ?annotations=delete",
        parameters=[ANNOTATIONS_PARAMETER],
        responses={200: RelationUsageSerializer, **error_responses(403, 404, 409)},
    )
    def delete(self, request: Request, project_id: int, type_id: int) -> Response:
        relation_type = _relation_type(request, project_id, type_id, manage=True)
        usage = relation_type_usage(relation_type)
        if usage["relations"] and request.query_params.get("annotations") != "delete":
            raise Conflict(
                f"{relation_type.name} is used by {usage['relations']} relations: merge it into another "
                "type, or delete with ?annotations=delete."
            )
        return Response(delete_relation_type(relation_type=relation_type, by=user_of(request)))


class RelationMergeReportSerializer(serializers.Serializer):
    relations_moved = serializers.IntegerField()


@api_view
class RelationTypeMerge(APIView):
    @extend_schema(
        summary="Merge a relation type into another; the other then allows what it allowed (managers)",
        request=MergeSerializer,
        responses={200: RelationMergeReportSerializer, **error_responses(400, 403, 404, 409)},
    )
    def post(self, request: Request, project_id: int, type_id: int) -> Response:
        source = _relation_type(request, project_id, type_id, manage=True)
        incoming = MergeSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        into = get_object_or_404(
            RelationType.objects.filter(project_id=source.project_id).exclude(pk=source.pk),
            pk=incoming.validated_data["into"],
        )
        moved = merge_relation_type(source=source, into=into, by=user_of(request))
        return Response({"relations_moved": moved})
