"""The KB over the API: candidate search, entities (list, read, create) and KB imports (as jobs)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, cast

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.decorators import method_decorator
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.api.access import projects_for, user_of
from annotator.api.annotation_serializers import IdField
from annotator.api.jobs import JobSerializer, error_responses
from annotator.core.offsets import whole_number
from annotator.jobs.models import Job, JobKind
from annotator.kb.formats import FORMATS
from annotator.kb.imports import start_kb_import, upload_path
from annotator.kb.models import Alias, KBEntity, KnowledgeBase
from annotator.kb.search import MAX_LIMIT, find_candidates
from annotator.kb.services import create_entity, create_knowledge_base, default_knowledge_base
from annotator.projects.models import Project
from annotator.projects.permissions import can_annotate, can_manage


def member_project(request: Request, project_id: int) -> Project:
    """The project with the user's role as `my_role`; a 404 for anyone who is not a member."""
    return get_object_or_404(projects_for(request).with_role_of(user_of(request)), pk=project_id)


def project_kb(project: Project, knowledge_base_id: int) -> KnowledgeBase:
    """A knowledge base named in a request body: a 404 unless it is this project's."""
    return get_object_or_404(KnowledgeBase.objects.filter(project=project), pk=knowledge_base_id)


# Candidates


class CandidateQuerySerializer(serializers.Serializer):
    mention = serializers.CharField(
        required=False, default="", allow_blank=True, max_length=500,
        help_text="The mention's text, as in the article. Blank: no candidates.",
    )  # fmt: skip
    type = serializers.CharField(
        required=False, default="", allow_blank=True, max_length=100,
        help_text="The span's entity type (e.g. PERSON): entities of that type rank higher.",
    )  # fmt: skip
    limit = serializers.IntegerField(required=False, default=10, min_value=1, max_value=MAX_LIMIT)

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        # Declared here: as a class attribute, `context` would hide the serializer's own context.
        fields["context"] = serializers.CharField(
            required=False, default="", allow_blank=True, max_length=20_000, trim_whitespace=False,
            help_text="Text around the mention: entities whose description shares its words rank higher.",
        )  # fmt: skip
        return fields


class CandidateSerializer(serializers.Serializer):
    entity_id = serializers.IntegerField()
    knowledge_base_id = serializers.IntegerField()
    kb_id = serializers.CharField(help_text="The entity's id in its KB, e.g. a Wikidata Q-id.")
    name = serializers.CharField()
    description = serializers.CharField()
    type = serializers.CharField()
    prior = serializers.FloatField()
    matched_alias = serializers.CharField(help_text="The alias the mention matched.")
    name_similarity = serializers.FloatField(help_text="1 for an exact alias match, less for a fuzzy one.")
    type_fit = serializers.FloatField(help_text="1 same type as asked, 0 another type, 0.5 unknown.")
    context_overlap = serializers.FloatField(allow_null=True, help_text="Null when no context was given.")
    score = serializers.FloatField(help_text="In [0, 1]; candidates come best first.")


class CandidateListSerializer(serializers.Serializer):
    mention = serializers.CharField()
    type = serializers.CharField()
    candidates = CandidateSerializer(many=True)


@method_decorator(login_not_required, name="dispatch")
class CandidateList(APIView):
    """Ranked KB candidates for a mention: exact alias matches, then fuzzy ones (typos, spelling variants)."""

    @extend_schema(
        parameters=[CandidateQuerySerializer],
        responses={200: CandidateListSerializer, **error_responses(400, 404)},
    )
    def get(self, request: Request, project_id: int) -> Response:
        project = member_project(request, project_id)
        query = CandidateQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        candidates = find_candidates(
            project_id=project.pk, mention=data["mention"], entity_type=data["type"] or None, limit=data["limit"],
            context=data["context"],
        )  # fmt: skip
        body = {
            "mention": data["mention"],
            "type": data["type"],
            "candidates": [asdict(c) for c in candidates],
        }
        return Response(CandidateListSerializer(body).data)


# Entities


class AliasSerializer(serializers.ModelSerializer[Alias]):
    class Meta:
        model = Alias
        fields = ["text", "language"]


class EntitySerializer(serializers.ModelSerializer[KBEntity]):
    aliases = AliasSerializer(many=True, read_only=True)

    class Meta:
        model = KBEntity
        fields = [
            "id", "knowledge_base", "kb_id", "name", "description", "type", "prior", "instance_of", "aliases",
            "merged_into",
        ]  # fmt: skip
        read_only_fields = fields


class EntityCreateSerializer(serializers.Serializer):
    knowledge_base = IdField(
        required=False, help_text="Which of the project's KBs; may be left out when it has at most one."
    )
    kb_id = serializers.CharField(
        required=False,
        default="",
        allow_blank=True,
        max_length=255,
        help_text="Made from the name when left out.",
    )
    name = serializers.CharField(max_length=500)
    description = serializers.CharField(required=False, default="", allow_blank=True)
    type = serializers.CharField(
        required=False,
        default="",
        allow_blank=True,
        max_length=100,
        help_text="One of the project's entity types.",
    )
    prior = serializers.FloatField(required=False, default=0.0, min_value=0.0, max_value=1.0)
    aliases = serializers.ListField(child=serializers.CharField(max_length=500), required=False, default=list)
    language = serializers.CharField(required=False, default="", allow_blank=True, max_length=16)


@method_decorator(login_not_required, name="dispatch")
class EntityList(generics.ListCreateAPIView):
    """The project's KB entities (merged-away ones left out), and creating one (every member may)."""

    serializer_class = EntitySerializer

    def get_queryset(self) -> QuerySet[KBEntity]:
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no project
            return KBEntity.objects.none()
        project = member_project(self.request, self.kwargs["project_id"])
        entities = KBEntity.objects.active().in_project(project.pk).prefetch_related("aliases")
        if (kb := whole_number(self.request.query_params.get("knowledge_base", ""))) is not None:
            entities = entities.filter(knowledge_base_id=kb)
        if kb_id := self.request.query_params.get("kb_id"):
            entities = entities.filter(kb_id=kb_id)
        return entities

    @extend_schema(
        parameters=[
            OpenApiParameter("knowledge_base", int, description="Only this knowledge base's entities."),
            OpenApiParameter("kb_id", str, description="Only the entity with this id in its KB."),
        ],
        responses={200: EntitySerializer(many=True), **error_responses(404)},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=EntityCreateSerializer,
        responses={201: EntitySerializer, **error_responses(400, 403, 404, 409)},
    )
    def post(self, request: Request, project_id: int) -> Response:
        project = member_project(request, project_id)
        if not can_annotate(project.my_role):
            raise PermissionDenied
        incoming = EntityCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = dict(incoming.validated_data)
        kb = data.pop("knowledge_base", None)
        knowledge_base = project_kb(project, kb) if kb is not None else default_knowledge_base(project)
        entity = create_entity(knowledge_base=knowledge_base, by=cast(User, request.user), **data)
        entity = KBEntity.objects.prefetch_related("aliases").get(pk=entity.pk)
        return Response(EntitySerializer(entity).data, status=status.HTTP_201_CREATED)


@method_decorator(login_not_required, name="dispatch")
class EntityDetail(generics.RetrieveAPIView):
    """One KB entity of the project, with its aliases (merged-away ones too: see `merged_into`)."""

    serializer_class = EntitySerializer
    lookup_url_kwarg = "entity_id"

    def get_queryset(self) -> QuerySet[KBEntity]:
        project = member_project(self.request, self.kwargs["project_id"])
        return KBEntity.objects.in_project(project.pk).prefetch_related("aliases")

    @extend_schema(responses={200: EntitySerializer, **error_responses(404)})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


# Imports


class ImportSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text="JSONL, CSV (aliases separated by |) or a Wikidata JSON dump; .gz, .bz2."
    )
    knowledge_base = IdField(required=False, help_text="Import into this knowledge base...")
    knowledge_base_name = serializers.CharField(
        required=False, max_length=200, help_text="...or into a new one with this name."
    )
    format = serializers.ChoiceField(choices=["auto", *FORMATS], default="auto")
    languages = serializers.ListField(
        child=serializers.CharField(max_length=16), required=False, default=list,
        help_text="Wikidata: languages whose labels, aliases and descriptions are kept, in order. Default: the KB's.",
    )  # fmt: skip
    type_map = serializers.DictField(
        child=serializers.CharField(max_length=100), required=False,
        help_text='Wikidata: entity type by P31 class, e.g. {"Q5": "PERSON"}. Default: a map of common classes.',
    )  # fmt: skip

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("knowledge_base" in attrs) == ("knowledge_base_name" in attrs):
            raise serializers.ValidationError(
                {"knowledge_base": "Give knowledge_base or knowledge_base_name."}
            )
        return attrs


@method_decorator(login_not_required, name="dispatch")
class ImportList(generics.ListCreateAPIView):
    """The project's KB import jobs, and starting one (managers): upload a file, get the job to poll."""

    serializer_class = JobSerializer

    def get_queryset(self) -> QuerySet[Job]:
        if getattr(self, "swagger_fake_view", False):
            return Job.objects.none()
        project = member_project(self.request, self.kwargs["project_id"])
        return Job.objects.filter(project=project, kind=JobKind.IMPORT_KB)

    @extend_schema(responses={200: JobSerializer(many=True), **error_responses(404)})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request={"multipart/form-data": ImportSerializer},
        responses={202: JobSerializer, **error_responses(400, 403, 404, 409)},
        description="Answers 202 with the queued job; its `Location` header is the job to poll.",
    )
    def post(self, request: Request, project_id: int) -> Response:
        project = member_project(request, project_id)
        if not can_manage(project.my_role):
            raise PermissionDenied
        incoming = ImportSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        if "knowledge_base" in data:
            knowledge_base = project_kb(project, data["knowledge_base"])
        else:
            knowledge_base = create_knowledge_base(
                project=project, name=data["knowledge_base_name"], languages=data["languages"] or ["en"]
            )
        job = _start(request, knowledge_base, data, new="knowledge_base" not in data)
        location = reverse("api:job-detail", args=[job.pk])
        return Response(
            JobSerializer(job).data, status=status.HTTP_202_ACCEPTED, headers={"Location": location}
        )


def _start(request: Request, knowledge_base: KnowledgeBase, data: dict[str, Any], *, new: bool) -> Job:
    upload = data["file"]
    if upload.size > _max_upload_bytes():
        raise serializers.ValidationError(
            {"file": f"The file is larger than {_max_upload_bytes() // 2**20} MB."}
        )
    path = upload_path(upload.name)
    with path.open("wb") as destination:
        for chunk in upload.chunks():
            destination.write(chunk)
    job = start_kb_import(
        knowledge_base=knowledge_base, path=path, file_label=path.name, by=cast(User, request.user),
        format=data["format"],
        languages=data["languages"] or None, type_map=data.get("type_map"), uploaded=True,
        new_knowledge_base=new,
    )  # fmt: skip
    job.refresh_from_db()  # the immediate task backend (tests) may already have run it
    return job


def _max_upload_bytes() -> int:
    return int(settings.ANNOTATOR_KB_UPLOAD_MAX_MB) * 2**20
