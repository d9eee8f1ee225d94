from __future__ import annotations

from rest_framework import serializers

from annotator.projects.models import EntityType, Project, RelationType


class EntityTypeSerializer(serializers.ModelSerializer[EntityType]):
    class Meta:
        model = EntityType
        fields = ["id", "name", "key", "colour", "description"]


class RelationTypeSerializer(serializers.ModelSerializer[RelationType]):
    head_types: serializers.SlugRelatedField[EntityType] = serializers.SlugRelatedField(
        slug_field="name", many=True, read_only=True
    )
    tail_types: serializers.SlugRelatedField[EntityType] = serializers.SlugRelatedField(
        slug_field="name", many=True, read_only=True
    )

    class Meta:
        model = RelationType
        fields = ["id", "name", "directed", "head_types", "tail_types", "description"]


class ProjectSerializer(serializers.ModelSerializer[Project]):
    role = serializers.CharField(source="my_role", read_only=True, help_text="Your role in the project.")

    class Meta:
        model = Project
        fields = [
            "id",
            "name",
            "slug",
            "description",
            "language",
            "role",
            "annotators_per_article",
            "allow_overlapping_spans",
            "assignment_strategy",
            "blind",
            "abandon_after_minutes",
            "promote_to_gold",
            "trim_span_whitespace",
        ]


class ProjectDetailSerializer(ProjectSerializer):
    entity_types = EntityTypeSerializer(many=True, read_only=True)
    relation_types = RelationTypeSerializer(many=True, read_only=True)

    class Meta(ProjectSerializer.Meta):
        fields = [*ProjectSerializer.Meta.fields, "entity_types", "relation_types"]
