"""Suggestions in the API: an article's (computed when missing), a raw text's (stateless), batch
pre-annotation and training as jobs, suggester versions and their quality."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db.models import OuterRef, QuerySet, Subquery
from django.shortcuts import get_object_or_404
from django.utils.decorators import method_decorator
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.annotations.models import SetKind
from annotator.annotations.services import curate_gold_sets
from annotator.api.access import projects_for, user_of
from annotator.api.annotation_serializers import IdField
from annotator.api.jobs import JobSerializer, error_responses
from annotator.articles.models import Article, ArticleStatus
from annotator.kb.models import KBEntity
from annotator.projects.models import EntityType, Project, RelationType
from annotator.projects.permissions import can_curate, can_manage
from annotator.suggestions import curve, labels, learning, sources
from annotator.suggestions.configuring import SITE, InvalidSettings, SettingsChange, change_suggester_settings
from annotator.suggestions.engine import Suggested
from annotator.suggestions.generate import active_suggester, ensure_article_suggestions, suggest_text
from annotator.suggestions.jobs import start_preannotation, start_training
from annotator.suggestions.models import Decision, SuggesterVersion, Suggestion, SuggestionKind
from annotator.suggestions.quality import quality_report
from annotator.suggestions.training import activate_suggester, count_training_articles

if TYPE_CHECKING:
    from django.contrib.auth.models import User

MAX_TEXT = 1_000_000  # characters of raw text the stateless endpoint takes


ERRORS = error_responses(400, 403, 404)


def _project(request: Request, project_id: int) -> Project:
    return get_object_or_404(projects_for(request).with_role_of(user_of(request)), pk=project_id)


def _user(request: Request) -> User:
    """The authenticated user (the API's default permission lets no one else in)."""
    return cast("User", request.user)


def _require_manager(project: Project) -> None:
    if not can_manage(project.my_role):
        raise exceptions.PermissionDenied("Only the project's managers can do this.")


class KBEntityBriefSerializer(serializers.ModelSerializer[KBEntity]):
    class Meta:
        model = KBEntity
        fields = ["id", "kb_id", "name"]


class SuggestionSerializer(serializers.ModelSerializer[Suggestion]):
    # Null where the kind of suggestion has none (an entity has no tail or relation type; a link may not
    # know its mention's type): the schema must say so, or clients' generated types reject the answers.
    entity_type: serializers.SlugRelatedField[EntityType] = serializers.SlugRelatedField(
        slug_field="name", read_only=True, allow_null=True
    )
    tail_entity_type: serializers.SlugRelatedField[EntityType] = serializers.SlugRelatedField(
        slug_field="name", read_only=True, allow_null=True
    )
    relation_type: serializers.SlugRelatedField[RelationType] = serializers.SlugRelatedField(
        slug_field="name", read_only=True, allow_null=True
    )
    kb_entity = KBEntityBriefSerializer(read_only=True, allow_null=True)
    text = serializers.SerializerMethodField(help_text="The article's text at [start, end).")
    tail_text = serializers.SerializerMethodField(help_text="The text of a relation's tail.")
    my_decision = serializers.CharField(
        read_only=True, allow_null=True, help_text="What your own annotation set decided: accepted, corrected, "
        "rejected, or null."
    )  # fmt: skip

    class Meta:
        model = Suggestion
        fields = [
            "id", "kind", "start", "end", "text", "entity_type", "tail_start", "tail_end", "tail_text",
            "tail_entity_type", "relation_type", "kb_entity", "rank", "score", "source", "suggester_version",
            "my_decision",
        ]  # fmt: skip
        read_only_fields = fields

    def get_text(self, suggestion: Suggestion) -> str:
        return str(self.context["article_text"][suggestion.start : suggestion.end])

    def get_tail_text(self, suggestion: Suggestion) -> str | None:
        if suggestion.tail_start is None or suggestion.tail_end is None:
            return None
        return str(self.context["article_text"][suggestion.tail_start : suggestion.tail_end])


@method_decorator(login_not_required, name="dispatch")
class ArticleSuggestions(generics.ListAPIView):
    """The active suggester's suggestions for an article. Computed and stored on the first request (and
    again when the project's KB or gold changed since), then read from the database."""

    serializer_class = SuggestionSerializer

    def get_queryset(self) -> QuerySet[Suggestion]:
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no article
            return Suggestion.objects.none()
        article = get_object_or_404(
            Article.objects.filter(project__in=projects_for(self.request)).select_related("project"),
            pk=self.kwargs["article_id"],
        )
        kind = self.request.query_params.get("kind")
        if kind is not None and kind not in SuggestionKind.values:
            raise exceptions.ValidationError({"kind": [f"Choose one of {', '.join(SuggestionKind.values)}."]})
        self.article_text = article.text
        version = ensure_article_suggestions(article=article)
        mine = Decision.objects.filter(
            suggestion=OuterRef("pk"),
            annotation_set__kind=SetKind.ANNOTATOR,
            annotation_set__annotator=_user(self.request),
        ).values("verdict")[:1]
        suggestions = (
            Suggestion.objects.filter(article=article, suggester_version=version)
            .select_related("entity_type", "tail_entity_type", "relation_type", "kb_entity")
            .annotate(my_decision=Subquery(mine))
        )
        return suggestions.filter(kind=kind) if kind else suggestions

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "article_text": getattr(self, "article_text", "")}

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "kind", OpenApiTypes.STR, enum=SuggestionKind.values, description="Only this kind."
            )
        ],
        responses={200: SuggestionSerializer(many=True), 400: ERRORS[400], 404: ERRORS[404]},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class SuggestRequestSerializer(serializers.Serializer):
    project = IdField(help_text="The project whose schema, KB and suggester to use.")
    text = serializers.CharField(
        max_length=MAX_TEXT, trim_whitespace=False, help_text="Up to 1,000,000 characters."
    )


# Response shapes for the schema. Inline, because some field names (`source`, `label`) would shadow
# attributes of a Serializer class.
SUGGESTER_BRIEF = inline_serializer(
    "SuggesterBrief",
    {
        "id": serializers.IntegerField(
            allow_null=True, help_text="Null when the project has no suggester yet."
        ),
        "name": serializers.CharField(),
        "version": serializers.CharField(),
        "kind": serializers.CharField(),
    },
)
SUGGEST_RESPONSE = inline_serializer(
    "SuggestResponse",
    {
        "suggester": SUGGESTER_BRIEF,
        "entities": inline_serializer(
            "SuggestedEntity",
            {
                "start": serializers.IntegerField(),
                "end": serializers.IntegerField(),
                "text": serializers.CharField(),
                "entity_type": serializers.CharField(),
                "score": serializers.FloatField(),
                "source": serializers.CharField(),
            },
            many=True,
        ),
        "relations": inline_serializer(
            "SuggestedRelation",
            {
                "head": serializers.IntegerField(help_text="Index of the head in `entities`."),
                "tail": serializers.IntegerField(help_text="Index of the tail in `entities`."),
                "relation_type": serializers.CharField(),
                "score": serializers.FloatField(),
                "source": serializers.CharField(),
            },
            many=True,
        ),
        "links": inline_serializer(
            "SuggestedLink",
            {
                "entity": serializers.IntegerField(help_text="Index of the mention in `entities`."),
                "kb_entity": KBEntityBriefSerializer(),
                "rank": serializers.IntegerField(help_text="0 is the best candidate."),
                "score": serializers.FloatField(),
                "source": serializers.CharField(),
            },
            many=True,
        ),
    },
)


def _suggested_body(suggested: Suggested) -> dict[str, Any]:
    return {
        "entities": [e._asdict() for e in suggested.entities],
        "relations": [r._asdict() for r in suggested.relations],
        "links": [
            {
                "entity": link.entity,
                "kb_entity": {"id": link.kb_entity_id, "kb_id": link.kb_id, "name": link.name},
                "rank": link.rank,
                "score": link.score,
                "source": link.source,
            }
            for link in suggested.links
        ],
    }


@method_decorator(login_not_required, name="dispatch")
class SuggestText(APIView):
    """Suggestions for a text that is not stored: entities, relations and KB links, by the project's
    active suggester. Writes nothing."""

    throttle_scopes = {"POST": "suggest"}

    @extend_schema(
        request=SuggestRequestSerializer,
        responses={200: SUGGEST_RESPONSE, 400: ERRORS[400], 404: ERRORS[404]},
    )
    def post(self, request: Request) -> Response:
        body = SuggestRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        project = _project(request, body.validated_data["project"])
        spec, version_id, suggested = suggest_text(project=project, text=body.validated_data["text"])
        suggester = {"id": version_id, "name": spec.name, "version": spec.version, "kind": spec.kind}
        return Response({"suggester": suggester, **_suggested_body(suggested)})


class PreannotateRequestSerializer(serializers.Serializer):
    article_ids = serializers.ListField(
        child=IdField(), required=False, max_length=1_000_000,
        help_text="Only these articles of the project (all of them when left out).",
    )  # fmt: skip
    status = serializers.ChoiceField(
        choices=ArticleStatus.choices, required=False, help_text="Only the articles with this status."
    )
    suggester_version = IdField(
        required=False, help_text="Run this version of the project's suggesters instead of the active one."
    )


@method_decorator(login_not_required, name="dispatch")
class Preannotate(APIView):
    """Pre-annotate the project's articles (or a filtered set) as a background job. Managers only.
    Re-running replaces only undecided suggestions; decisions and annotations are never touched."""

    @extend_schema(
        request=PreannotateRequestSerializer,
        responses={202: JobSerializer, 400: ERRORS[400], 403: ERRORS[403], 404: ERRORS[404]},
    )
    def post(self, request: Request, project_id: int) -> Response:
        project = _project(request, project_id)
        _require_manager(project)
        body = PreannotateRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        ids = body.validated_data.get("article_ids")
        if ids is not None:
            found = set(Article.objects.filter(project=project, pk__in=ids).values_list("pk", flat=True))
            if missing := sorted(set(ids) - found):
                raise exceptions.NotFound(
                    f"No article with id {', '.join(map(str, missing[:20]))} in this project."
                )
        version = None
        if "suggester_version" in body.validated_data:
            version = SuggesterVersion.objects.filter(
                project=project, pk=body.validated_data["suggester_version"]
            ).first()
            if version is None:
                raise exceptions.NotFound("No suggester version with that id in this project.")
        job = start_preannotation(
            project=project, by=_user(request), article_ids=ids, status=body.validated_data.get("status"),
            suggester_version=version,
        )  # fmt: skip
        return _accepted(job)


def _accepted(job: Any) -> Response:
    body = JobSerializer(job).data
    return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]})


@method_decorator(login_not_required, name="dispatch")
class TrainSuggester(APIView):
    """Train a new suggester version from the project's curated gold, as a background job. Managers
    only. It becomes active only if it measures better on held-out gold than the active one."""

    @extend_schema(request=None, responses={202: JobSerializer, 403: ERRORS[403], 404: ERRORS[404]})
    def post(self, request: Request, project_id: int) -> Response:
        project = _project(request, project_id)
        _require_manager(project)
        return _accepted(start_training(project=project, by=_user(request)))


class SuggesterVersionSerializer(serializers.ModelSerializer[SuggesterVersion]):
    class Meta:
        model = SuggesterVersion
        fields = [
            "id", "name", "version", "kind", "description", "is_active", "config", "trained_on", "metrics",
            "created_at",
        ]  # fmt: skip
        read_only_fields = fields


@method_decorator(login_not_required, name="dispatch")
class SuggesterList(generics.ListAPIView):
    """The project's suggester versions, with what they were trained on and their held-out metrics."""

    serializer_class = SuggesterVersionSerializer

    def get_queryset(self) -> QuerySet[SuggesterVersion]:
        if getattr(self, "swagger_fake_view", False):
            return SuggesterVersion.objects.none()
        project = _project(self.request, self.kwargs["project_id"])
        return SuggesterVersion.objects.filter(project=project)


@method_decorator(login_not_required, name="dispatch")
class ActivateSuggester(APIView):
    """Make this version the project's active suggester. Managers only."""

    @extend_schema(
        request=None, responses={200: SuggesterVersionSerializer, 403: ERRORS[403], 404: ERRORS[404]}
    )
    def post(self, request: Request, suggester_id: int) -> Response:
        version = get_object_or_404(
            SuggesterVersion.objects.filter(project__in=projects_for(request)), pk=suggester_id
        )
        _require_manager(_project(request, version.project_id))
        activate_suggester(suggester_version=version, by=_user(request))
        return Response(SuggesterVersionSerializer(version).data)


def _tally_fields() -> dict[str, serializers.Field]:
    return {
        "suggested": serializers.IntegerField(),
        "accepted": serializers.IntegerField(),
        "corrected": serializers.IntegerField(),
        "rejected": serializers.IntegerField(),
        "acceptance_rate": serializers.FloatField(allow_null=True, help_text="Accepted among decided."),
    }


VERSION_QUALITY = inline_serializer(
    "VersionQuality",
    {
        "suggester_version": inline_serializer(
            "SuggesterVersionBrief",
            {
                "id": serializers.IntegerField(),
                "name": serializers.CharField(),
                "version": serializers.CharField(),
                "kind": serializers.CharField(),
                "is_active": serializers.BooleanField(),
            },
        ),
        "gold_articles": serializers.IntegerField(help_text="Curated gold articles it ran on."),
        "heldout_metrics": serializers.DictField(help_text="P/R/F1 per label measured when it was trained."),
        "labels": inline_serializer(
            "LabelQuality",
            {
                "kind": serializers.ChoiceField(choices=SuggestionKind.choices),
                "label": serializers.CharField(
                    help_text="Entity type, relation type, or the linked mention's type; ALL for the whole kind."
                ),
                **_tally_fields(),
                "gold": inline_serializer(
                    "GoldScore",
                    {
                        "tp": serializers.IntegerField(),
                        "fp": serializers.IntegerField(),
                        "fn": serializers.IntegerField(),
                        "precision": serializers.FloatField(),
                        "recall": serializers.FloatField(),
                        "f1": serializers.FloatField(),
                    },
                    allow_null=True,
                    help_text="Against curated gold; null when it ran on none.",
                ),
            },
            many=True,
        ),
        "sources": inline_serializer(
            "SourceQuality", {"source": serializers.CharField(), **_tally_fields()}, many=True
        ),
    },
    many=True,
)


@method_decorator(login_not_required, name="dispatch")
class SuggestionQuality(APIView):
    """Per suggester version and label: acceptance rate from reviewers' decisions, and precision,
    recall and F1 against curated gold."""

    @extend_schema(responses={200: VERSION_QUALITY, 404: ERRORS[404]})
    def get(self, request: Request, project_id: int) -> Response:
        project = _project(request, project_id)
        return Response([quality.as_dict() for quality in quality_report(project=project)])


# The project's sources, label map and learning loop


def _settings_body(project: Project) -> dict[str, Any]:
    chosen = sources.project_settings(project)
    active = active_suggester(project.pk)
    spoken = sources.source_labels(project, active)
    effective = sources.effective_label_map(project, active)
    types = sources.project_types(project.pk)
    return {
        "language": project.language,
        "pipeline": SITE if chosen.use_site_pipeline else chosen.pipeline,
        "mode": chosen.pipeline_mode,
        "site_pipeline": settings.ANNOTATOR_SPACY_PIPELINE,
        "available_pipelines": [
            {
                "ref": p.ref,
                "name": p.name,
                "version": p.version,
                "language": p.lang,
                "kind": p.kind,
                "labels": list(p.labels),
            }
            for p in sources.available_pipelines()
        ],
        "label_map": [
            {
                "label": label,
                "spoken_by": speakers,
                "becomes": effective.get(label, ""),
                "default": labels.default_target(label, types),
            }
            for label, speakers in spoken.items()
        ],
        "learning": {
            "learn": chosen.learn,
            "learn_after": chosen.learn_after,
            "retrain_every": chosen.retrain_every,
            "folds": chosen.folds,
            "annotated_articles": count_training_articles(project.pk),
            "next_training_at": learning.next_training_at(chosen),
            "training_running": learning.training_running(project.pk),
        },
        "dropped_gold_patterns": [
            {"label": label, "text": text} for label, text in sources.dropped_gold_patterns(chosen)
        ],
    }


class SettingsChangeSerializer(serializers.Serializer):
    pipeline = serializers.CharField(
        required=False, allow_blank=True, max_length=500,
        help_text="`site` (the site's default), empty (none), or the `ref` of an available pipeline.",
    )  # fmt: skip
    mode = serializers.ChoiceField(
        choices=["", "add", "replace"], required=False, help_text="Empty: the site's default."
    )
    label_map = serializers.DictField(
        child=serializers.CharField(allow_blank=True, max_length=100), required=False,
        help_text="Label -> project type; empty drops the label. Labels left out take their default.",
    )  # fmt: skip
    learn = serializers.BooleanField(required=False)
    learn_after = serializers.IntegerField(required=False, min_value=2, max_value=1_000_000)
    retrain_every = serializers.IntegerField(required=False, min_value=1, max_value=1_000_000)
    folds = serializers.IntegerField(required=False, min_value=2, max_value=10)


SETTINGS_RESPONSE = inline_serializer(
    "SuggesterSettings",
    {
        "language": serializers.CharField(),
        "pipeline": serializers.CharField(help_text="`site`, empty (none), or a pipeline's ref."),
        "mode": serializers.CharField(help_text="add, replace, or empty for the site's default."),
        "site_pipeline": serializers.CharField(help_text="ANNOTATOR_SPACY_PIPELINE (may be empty)."),
        "available_pipelines": inline_serializer(
            "AvailablePipeline",
            {
                "ref": serializers.CharField(),
                "name": serializers.CharField(),
                "version": serializers.CharField(),
                "language": serializers.CharField(),
                "kind": serializers.ChoiceField(choices=["package", "directory"]),
                "labels": serializers.ListField(child=serializers.CharField()),
            },
            many=True,
        ),
        "label_map": inline_serializer(
            "LabelMapping",
            {
                "label": serializers.CharField(),
                "spoken_by": serializers.ListField(child=serializers.CharField()),
                "becomes": serializers.CharField(help_text="Empty: dropped."),
                "default": serializers.CharField(help_text="What it becomes by name; empty: dropped."),
            },
            many=True,
        ),
        "learning": inline_serializer(
            "LearningState",
            {
                "learn": serializers.BooleanField(),
                "learn_after": serializers.IntegerField(),
                "retrain_every": serializers.IntegerField(),
                "folds": serializers.IntegerField(),
                "annotated_articles": serializers.IntegerField(),
                "next_training_at": serializers.IntegerField(),
                "training_running": serializers.BooleanField(),
            },
        ),
        "dropped_gold_patterns": inline_serializer(
            "DroppedPattern", {"label": serializers.CharField(), "text": serializers.CharField()}, many=True
        ),
    },
)


@method_decorator(login_not_required, name="dispatch")
class SuggesterSettingsView(APIView):
    """The project's pretrained pipeline choice, what each source's labels become, and its learning
    loop. Managers change them; choosing another pipeline or mode makes it the active suggester."""

    @extend_schema(responses={200: SETTINGS_RESPONSE, 404: ERRORS[404]})
    def get(self, request: Request, project_id: int) -> Response:
        return Response(_settings_body(_project(request, project_id)))

    @extend_schema(
        request=SettingsChangeSerializer,
        responses={200: SETTINGS_RESPONSE, 400: ERRORS[400], 403: ERRORS[403], 404: ERRORS[404]},
    )
    def patch(self, request: Request, project_id: int) -> Response:
        project = _project(request, project_id)
        _require_manager(project)
        body = SettingsChangeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            change_suggester_settings(
                project=project, change=SettingsChange(**body.validated_data), by=_user(request)
            )
        except InvalidSettings as error:
            raise exceptions.ValidationError({error.field or "non_field_errors": [error.message]}) from None
        return Response(_settings_body(project))


LEARNING_CURVE = inline_serializer(
    "LearningCurvePoint",
    {
        "version": serializers.CharField(),
        "articles": serializers.IntegerField(help_text="Annotated articles it learnt from."),
        "active": serializers.BooleanField(),
        "f1": serializers.DictField(
            child=serializers.FloatField(), help_text="Cross-validated F1 by label; ALL overall."
        ),
    },
    many=True,
)


@method_decorator(login_not_required, name="dispatch")
class LearningCurve(APIView):
    """The project's learning curve: each trained version's cross-validated F1 (overall and per label)
    by the number of annotated articles it learnt from, fewest first."""

    @extend_schema(responses={200: LEARNING_CURVE, 404: ERRORS[404]})
    def get(self, request: Request, project_id: int) -> Response:
        project = _project(request, project_id)
        points = curve.learning_curve(project)["points"]
        return Response(
            [{"version": p.version, "articles": p.articles, "active": p.active, "f1": p.f1} for p in points]
        )


class CurateGoldSerializer(serializers.Serializer):
    article_ids = serializers.ListField(
        child=IdField(), required=False, max_length=1_000_000,
        help_text="The articles whose gold sets to mark curated.",
    )  # fmt: skip
    all = serializers.BooleanField(required=False, default=False, help_text="Every gold set in progress.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("all") and not attrs.get("article_ids"):
            raise serializers.ValidationError("Give article_ids, or all: true.")
        return attrs


@method_decorator(login_not_required, name="dispatch")
class CurateGold(APIView):
    """Mark many gold sets curated at once: those of the articles given (their gold sets in progress),
    or every gold set in progress. Curators and managers; one versioned edit per set, all or nothing."""

    @extend_schema(
        request=CurateGoldSerializer,
        responses={
            200: inline_serializer("CuratedGold", {"curated": serializers.IntegerField()}),
            400: ERRORS[400],
            403: ERRORS[403],
            404: ERRORS[404],
        },
    )
    def post(self, request: Request, project_id: int) -> Response:
        project = _project(request, project_id)
        if not can_curate(project.my_role):
            raise exceptions.PermissionDenied("Only the project's curators and managers can curate gold.")
        body = CurateGoldSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        ids = None if body.validated_data["all"] else sorted(set(body.validated_data["article_ids"]))
        if ids is not None:
            found = set(Article.objects.filter(project=project, pk__in=ids).values_list("pk", flat=True))
            if missing := [pk for pk in ids if pk not in found]:
                raise exceptions.NotFound(
                    f"No article with id {', '.join(map(str, missing[:20]))} in this project."
                )
        marked = curate_gold_sets(project=project, by=_user(request), article_ids=ids)
        return Response({"curated": marked})
