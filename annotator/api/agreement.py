"""Agreement over the API: the dashboard's figures for a project, for curators and managers."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.shortcuts import get_object_or_404
from django.utils.decorators import method_decorator
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.agreement.reports import (
    article_rows,
    articles_behind,
    build_report,
    describe_focus,
    parse_focus,
)
from annotator.agreement.services import project_agreement
from annotator.api.access import projects_for, user_of
from annotator.api.jobs import error_responses
from annotator.projects.models import Project
from annotator.projects.permissions import can_curate

ERRORS = error_responses(403, 404)


def _curated_project(request: Request, project_id: int) -> Project:
    project = get_object_or_404(projects_for(request).with_role_of(user_of(request)), pk=project_id)
    if not can_curate(project.my_role):
        raise exceptions.PermissionDenied("Only the project's curators and managers see agreement.")
    return project


def _in_progress(request: Request) -> bool:
    return request.query_params.get("include_in_progress", "").lower() in ("1", "true")


class AgreementOverlapSerializer(serializers.Serializer):
    matched = serializers.IntegerField(help_text="Items both annotators have (pairs matched one to one).")
    left = serializers.IntegerField(help_text="Items of the first annotator of each pair, summed.")
    right = serializers.IntegerField(help_text="Items of the second annotator of each pair, summed.")
    f1 = serializers.FloatField(
        allow_null=True, help_text="2 x matched / (left + right); null when both are 0."
    )


class AgreementLinksSerializer(serializers.Serializer):
    agreed = serializers.IntegerField(help_text="Matched spans linked to the same KB entity (or both NIL).")
    compared = serializers.IntegerField(help_text="Matched spans both annotators linked (NIL is a value).")
    one_sided = serializers.IntegerField(help_text="Matched spans only one annotator linked.")
    agreement = serializers.FloatField(allow_null=True, help_text="agreed / compared; null when none.")


class AgreementNamedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class AgreementLabelSerializer(serializers.Serializer):
    entity_type = AgreementNamedSerializer()
    articles = serializers.IntegerField(help_text="Compared articles where some annotator used the type.")
    entities = AgreementOverlapSerializer(help_text="Exact matching: same start, end and type.")
    entities_overlapping = AgreementOverlapSerializer(help_text="Same type, at least one shared character.")
    alpha = serializers.FloatField(
        allow_null=True, help_text="Krippendorff's alpha on tokens: this type or not, all annotators."
    )
    links = AgreementLinksSerializer()


class AgreementPairSerializer(serializers.Serializer):
    annotators = AgreementNamedSerializer(many=True, help_text="The two annotators, by user id and username.")
    articles = serializers.IntegerField(help_text="Articles both annotated.")
    entities = AgreementOverlapSerializer()
    entities_overlapping = AgreementOverlapSerializer()
    kappa = serializers.FloatField(allow_null=True, help_text="Cohen's kappa on the tokens' entity types.")
    relations = AgreementOverlapSerializer(help_text="Relations whose head and tail both matched exactly.")
    links = AgreementLinksSerializer()


class AgreementRelationTypeSerializer(serializers.Serializer):
    relation_type = AgreementNamedSerializer()
    articles = serializers.IntegerField()
    relations = AgreementOverlapSerializer()


class AgreementReportSerializer(serializers.Serializer):
    include_in_progress = serializers.BooleanField(source="agreement.include_in_progress")
    articles = serializers.IntegerField(help_text="Articles with two annotator sets or more.")
    entities = AgreementOverlapSerializer(source="agreement.entities")
    entities_overlapping = AgreementOverlapSerializer(source="agreement.entities_overlapping")
    alpha = serializers.FloatField(
        source="agreement.alpha", allow_null=True, help_text="Krippendorff's nominal alpha on token types."
    )
    relations = AgreementOverlapSerializer(source="agreement.relations")
    links = AgreementLinksSerializer(source="agreement.links")
    labels = AgreementLabelSerializer(many=True)
    pairs = AgreementPairSerializer(many=True)
    relation_types = AgreementRelationTypeSerializer(many=True)


@method_decorator(login_not_required, name="dispatch")
class ProjectAgreementView(APIView):
    """Inter-annotator agreement of the project: entities (F1 exact and overlapping, Cohen's kappa and
    Krippendorff's alpha on tokens), relations (F1 over matched heads and tails) and KB links, overall,
    per entity type, per annotator pair and per relation type. Curators and managers only."""

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "include_in_progress",
                OpenApiTypes.BOOL,
                description="Count in-progress annotator sets too (by default only submitted ones).",
            )
        ],
        responses={200: AgreementReportSerializer, 403: ERRORS[403], 404: ERRORS[404]},
    )
    def get(self, request: Request, project_id: int) -> Response:
        project = _curated_project(request, project_id)
        agreement = project_agreement(project_id=project.pk, include_in_progress=_in_progress(request))
        return Response(
            AgreementReportSerializer(build_report(project_id=project.pk, agreement=agreement)).data
        )


class AgreementArticleSerializer(serializers.Serializer):
    article = serializers.IntegerField(source="article_id")
    title = serializers.CharField()
    share = AgreementOverlapSerializer(
        help_text="The article's part of the figure asked for (all entities, a type, a pair, a relation type)."
    )
    disagreements = serializers.IntegerField(source="share.disagreements", help_text="Unmatched items.")
    alpha = serializers.FloatField(source="figures.alpha", allow_null=True, help_text="The article's alpha.")
    relations = AgreementOverlapSerializer(source="figures.relations")
    links = AgreementLinksSerializer(source="figures.links")


class AgreementArticlePagination(LimitOffsetPagination):
    default_limit = 100
    max_limit = 1000


class AgreementArticlePageSerializer(serializers.Serializer):
    """One page of AgreementArticles, as LimitOffsetPagination answers it (the view paginates itself, so
    the schema generator does not know to wrap the rows)."""

    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = AgreementArticleSerializer(many=True)


@method_decorator(login_not_required, name="dispatch")
class AgreementArticles(APIView):
    """The articles behind one agreement figure, lowest agreement first: all entities by default, or one
    entity type (`label`), one pair of annotators (`pair=<user id>-<user id>`) or one relation type
    (`relation_type`). Curators and managers only; another project's ids are 404."""

    @extend_schema(
        parameters=[
            OpenApiParameter("label", OpenApiTypes.INT, description="An entity type id of the project."),
            OpenApiParameter("pair", OpenApiTypes.STR, description="Two annotators' user ids, as `3-7`."),
            OpenApiParameter(
                "relation_type", OpenApiTypes.INT, description="A relation type id of the project."
            ),
            OpenApiParameter(
                "include_in_progress", OpenApiTypes.BOOL, description="Count in-progress sets too."
            ),
            OpenApiParameter("limit", OpenApiTypes.INT, description="Articles per page (100, at most 1000)."),
            OpenApiParameter("offset", OpenApiTypes.INT, description="Articles to skip."),
        ],
        responses={
            200: AgreementArticlePageSerializer,
            400: error_responses(400)[400],
            403: ERRORS[403],
            404: ERRORS[404],
        },
    )
    def get(self, request: Request, project_id: int) -> Response:
        project = _curated_project(request, project_id)
        params = request.query_params
        focus = parse_focus(
            label=params.get("label"), pair=params.get("pair"), relation_type=params.get("relation_type")
        )
        if focus is None:
            given = [name for name in ("label", "pair", "relation_type") if params.get(name)]
            raise exceptions.ValidationError(
                {name: ["Give a type id, or two annotators' user ids as 3-7."] for name in given}
            )
        if describe_focus(project_id=project.pk, focus=focus) is None:
            raise exceptions.NotFound("No such entity type, relation type or annotator in this project.")
        agreement = project_agreement(project_id=project.pk, include_in_progress=_in_progress(request))
        paginator = AgreementArticlePagination()
        page = paginator.paginate_queryset(articles_behind(agreement, focus), request, view=self) or []  # type: ignore[arg-type]
        rows = article_rows(project_id=project.pk, agreement=agreement, shares=page)
        return paginator.get_paginated_response(AgreementArticleSerializer(rows, many=True).data)
