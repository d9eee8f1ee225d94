"""The API over articles and annotation sets: read them, and change sets through the same services as the pages.

Writes to a set (its spans, links, relations, decisions, status) take `If-Match` with the set's ETag
(its version, e.g. `"7"`): a stale one answers 412 and writes nothing, a missing one 428. Every answer
about a set carries its current ETag. Ids in URLs and bodies that belong to a project the request
cannot reach answer 404, as if they did not exist.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils.dateparse import parse_datetime
from django.utils.decorators import method_decorator
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.annotations import services
from annotator.annotations.models import AnnotationSet, Relation, Span
from annotator.annotations.status import with_status
from annotator.api import (
    article_first_page,
    document_reads,
    json_rows,
    plain,
    set_contents,
    set_writes_at_once,
)
from annotator.api.access import check_can_edit, projects_for, user_of, visible_sets
from annotator.api.annotation_serializers import (
    AnnotationSetDetailSerializer,
    AnnotationSetSerializer,
    ArticleDetailSerializer,
    ArticleSerializer,
    DecisionCreateSerializer,
    DecisionSerializer,
    ErrorSerializer,
    LinkWriteSerializer,
    RelationCreateSerializer,
    RelationSerializer,
    SpanChangeSerializer,
    SpanCreateSerializer,
    SpanSerializer,
    decision_create_data,
    decision_data,
    span_create_data,
    span_data,
)
from annotator.api.pagination import IdCursorPagination
from annotator.api.reachable import reachable_project_with_backlog
from annotator.api.set_reads import named, set_for_reading, set_for_writing, suggestion_about, type_named
from annotator.articles.models import Article, ArticleStatus
from annotator.articles.search import FALLBACK_MAX, matching
from annotator.kb.models import KBEntity
from annotator.projects.models import EntityType, RelationType
from annotator.suggestions import services as decisions
from annotator.suggestions.models import Decision, Verdict

# On the article list: how many of the project's articles a full-text search may not see yet.
UNINDEXED_HEADER = "X-Articles-Unindexed"
ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="The request is not valid; `fields` says where."),
    401: OpenApiResponse(
        ErrorSerializer, description="No credentials, or a token that is invalid, expired or revoked."
    ),
    403: OpenApiResponse(ErrorSerializer, description="Your role or your token's scope does not allow this."),
    404: OpenApiResponse(ErrorSerializer, description="No such object in the projects you can reach."),
}
WRITE_ERRORS = {
    **ERRORS,
    409: OpenApiResponse(ErrorSerializer, description="The set is submitted or curated: reopen it first."),
    412: OpenApiResponse(
        ErrorSerializer, description="If-Match is stale: the set changed. Nothing was written."
    ),
    428: OpenApiResponse(ErrorSerializer, description="If-Match is missing: send the set's ETag."),
}
IF_MATCH = OpenApiParameter(
    "If-Match", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True,
    description='The ETag of the annotation set you are changing, e.g. "7".',
)  # fmt: skip


class PreconditionRequired(exceptions.APIException):
    status_code = 428
    default_detail = 'Send the annotation set\'s ETag in an If-Match header (e.g. If-Match: "7").'
    default_code = "precondition_required"


def expected_version(request: Request) -> int:
    # From META: `request.headers` would build a mapping of every header on first use, for one of them.
    header = request.META.get("HTTP_IF_MATCH", "").strip()
    if not header:
        raise PreconditionRequired()
    found = re.fullmatch(r'(?:W/)?"?(\d+)"?', header)
    if found is None:
        raise exceptions.ValidationError({"If-Match": [f'{header!r} is not an ETag of this API (like "7").']})
    return int(found.group(1))


def etag(annotation_set: AnnotationSet) -> str:
    return f'"{annotation_set.version}"'


def with_etag(response: Response, annotation_set: AnnotationSet) -> Response:
    response["ETag"] = etag(annotation_set)
    return response


def in_project(queryset: QuerySet[Any], value: Any, what: str) -> Any:
    """A body's reference to an object of the set's project; anything else does not exist (404)."""
    found = queryset.filter(pk=value).first() if isinstance(value, int) else None
    if found is None:
        raise exceptions.NotFound(f"No such {what}.")
    return found


api_view = method_decorator(login_not_required, name="dispatch")


# Articles


@api_view
def _moment(value: str) -> datetime:
    """An ISO 8601 date and time, in UTC: the database refuses odd offsets (PostgreSQL: past ±15:59)."""
    try:
        moment = parse_datetime(value)
        if moment is not None:
            return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):
        pass
    raise exceptions.ValidationError({"updated_since": [f"{value!r} is not an ISO 8601 date and time."]})


class ArticleList(generics.ListAPIView):
    """The articles of a project, by id. Filters: `q` (title or external id), `search` (full text of the
    title, text and metadata), `status`, `external_id`, `updated_since` (ISO 8601), `ids` (comma-separated)."""

    serializer_class = ArticleSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter("q", str, description="Words of the title or the external id."),
            OpenApiParameter(
                "search", str, description="Words that must all occur in the title, the text or the metadata."
            ),
            OpenApiParameter("status", str, enum=ArticleStatus.values),
            OpenApiParameter("external_id", str),
            OpenApiParameter("updated_since", OpenApiTypes.DATETIME),
            OpenApiParameter("ids", str, description="Comma-separated article ids."),
            OpenApiParameter(
                UNINDEXED_HEADER,
                int,
                location=OpenApiParameter.HEADER,
                response=[200],
                description=(
                    "How many of the project's articles are still being indexed for search (a few minutes "
                    f"after an import). While at most {FALLBACK_MAX:,}, `search` reads them word by word; "
                    "past that, `search` does not find them until they are indexed."
                ),
            ),
        ],
        responses={200: ArticleSerializer(many=True), **ERRORS},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().get(request, *args, **kwargs)
        response[UNINDEXED_HEADER] = str(self.unindexed)
        return response

    unindexed = 0

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The serializer's JSON: written by PostgreSQL where it can (`api/json_rows.py`), else from rows
        read as plain values (`api/plain.py`). The usual call, the first page without filters, reads the
        project, its backlog and its rows in one statement (`api/article_first_page.py`)."""
        if not request.query_params and json_rows.applies(request, Article.objects.all(), ArticleSerializer):
            self.unindexed, rows = article_first_page.first_page(
                request, self.kwargs["project_id"], ArticleSerializer, _FIRST_PAGE_ROWS
            )
            first = self.paginate_queryset(_FirstPage(rows))  # type: ignore[arg-type]
            return json_rows.paginated_response(self.paginator, first or [])  # type: ignore[arg-type]
        articles = self.filter_queryset(self.get_queryset())
        if json_rows.applies(request, articles, ArticleSerializer):
            page = self.paginate_queryset(json_rows.rows(articles, ArticleSerializer))
            return json_rows.paginated_response(self.paginator, page or [])  # type: ignore[arg-type]
        page = self.paginate_queryset(articles.values(*plain.columns(ArticleSerializer)))
        return self.get_paginated_response(plain.represent(ArticleSerializer, page or []))

    def reachable_project(self) -> int:
        """The project's id (if the caller's); its count of articles search cannot see yet, in one query."""
        project_id, self.unindexed = reachable_project_with_backlog(self.request, self.kwargs["project_id"])
        return project_id

    def get_queryset(self) -> QuerySet[Article]:
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no project
            return Article.objects.none()
        project_id = self.reachable_project()
        articles = Article.objects.filter(project_id=project_id).defer("text")
        params = self.request.query_params
        if query := params.get("q", "").strip():
            articles = articles.filter(Q(title__icontains=query) | Q(external_id__icontains=query))
        if words := params.get("search", "").strip():
            articles = matching(articles, words, project_id=project_id, waiting=self.unindexed)
        if external_id := params.get("external_id"):
            articles = articles.filter(external_id=external_id)
        if since := params.get("updated_since"):
            articles = articles.filter(updated_at__gte=_moment(since))
        if ids := params.get("ids"):
            if not re.fullmatch(r"\d{1,18}(,\d{1,18})*", ids):  # 18 digits: within a 64-bit id
                raise exceptions.ValidationError({"ids": ["Give ids as numbers separated by commas."]})
            articles = articles.filter(pk__in=[int(i) for i in ids.split(",")])
        if wanted := params.get("status"):
            if wanted not in ArticleStatus.values:
                raise exceptions.ValidationError(
                    {"status": [f"Status is one of {', '.join(ArticleStatus.values)}."]}
                )
            articles = with_status(articles).filter(status=wanted)  # type: ignore[misc]
        return articles


# The first page of a project's articles without filters, as `ArticleList` reads it (`json_rows.rows`, in
# the pagination's order, one row more than a page: whether there is a next page), in one statement
# (`article_first_page`).
_FIRST_PAGE_ROWS = IdCursorPagination.page_size + 1


class _FirstPage:
    """The rows `article_first_page` read, as the cursor pagination reads a queryset's first page: ordered
    by its ordering, then sliced to a page and one row. Anything else it would ask is refused (a pagination
    that asked it would not be reading a first page)."""

    def __init__(self, rows: list[article_first_page.Row]) -> None:
        self.rows = rows

    def order_by(self, *ordering: str) -> _FirstPage:
        if ordering != (IdCursorPagination.ordering,):
            raise ValueError(f"The first page is ordered by {IdCursorPagination.ordering}, not {ordering}.")
        return self

    def __getitem__(self, rows: slice) -> list[article_first_page.Row]:
        if rows != slice(0, _FIRST_PAGE_ROWS):
            raise ValueError(f"The first page is rows [0, {_FIRST_PAGE_ROWS}), not {rows}.")
        return self.rows


@api_view
class ArticleDetail(generics.RetrieveAPIView):
    """One article with its text."""

    serializer_class = ArticleDetailSerializer

    @extend_schema(responses={200: ArticleDetailSerializer, **ERRORS})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        # The retrieve's answer, read as one compiled row (api/document_reads.py).
        return Response(document_reads.article_data(request, kwargs["pk"]))

    def get_queryset(self) -> QuerySet[Article]:
        return Article.objects.filter(project__in=projects_for(self.request))


@api_view
class ArticleSets(APIView):
    @extend_schema(
        summary="The annotation sets of an article you can see",
        responses={200: AnnotationSetSerializer(many=True), **ERRORS},
    )
    def get(self, request: Request, pk: int) -> Response:
        article = get_object_or_404(Article.objects.filter(project__in=projects_for(request)), pk=pk)
        sets = (
            visible_sets(request).filter(article=article).select_related("annotator").order_by("kind", "id")
        )
        return Response(AnnotationSetSerializer(sets, many=True).data)

    @extend_schema(
        summary="Your own annotation set of the article, made if you have none",
        request=None,
        responses={200: AnnotationSetSerializer, 201: AnnotationSetSerializer, **ERRORS},
    )
    def post(self, request: Request, pk: int) -> Response:
        article = get_object_or_404(Article.objects.filter(project__in=projects_for(request)), pk=pk)
        existed = AnnotationSet.objects.filter(article=article, annotator=user_of(request)).exists()
        annotation_set = services.get_or_create_own_set(article=article, user=user_of(request))
        code = status.HTTP_200_OK if existed else status.HTTP_201_CREATED
        return with_etag(Response(AnnotationSetSerializer(annotation_set).data, status=code), annotation_set)


# Sets


@api_view
class SetDetail(APIView):
    @extend_schema(
        summary="An annotation set with its spans (and their links) and relations",
        responses={
            200: AnnotationSetDetailSerializer,
            304: OpenApiResponse(description="Unchanged."),
            **ERRORS,
        },
    )
    def get(self, request: Request, pk: int) -> Response:
        if document_reads.written_by_database(request):  # the whole answer in one statement
            return document_reads.set_response(request, pk)
        annotation_set = set_for_reading(request, pk)
        if request.META.get("HTTP_IF_NONE_MATCH") == etag(annotation_set):  # as `expected_version` reads
            return with_etag(Response(status=status.HTTP_304_NOT_MODIFIED), annotation_set)
        # AnnotationSetDetailSerializer's answer, its spans and relations read as plain rows (set_contents).
        data = {
            **AnnotationSetSerializer(annotation_set).data,
            "spans": set_contents.spans_data(annotation_set.pk),
            "relations": set_contents.relations_data(annotation_set.pk),
        }
        return with_etag(Response(data), annotation_set)


def _set_action(summary: str, request_serializer: Any = None, response: Any = AnnotationSetSerializer) -> Any:
    return extend_schema(
        summary=summary,
        parameters=[IF_MATCH],
        request=request_serializer,
        responses={200: response, **WRITE_ERRORS},
    )


@api_view
class SetSubmit(APIView):
    @_set_action("Submit the set (gold: mark it curated); it then takes no edits until reopened")
    def post(self, request: Request, pk: int) -> Response:
        annotation_set = set_for_writing(request, pk)
        services.submit_set(
            annotation_set=annotation_set, by=user_of(request), expected_version=expected_version(request)
        )
        return with_etag(Response(AnnotationSetSerializer(annotation_set).data), annotation_set)


@api_view
class SetReopen(APIView):
    @_set_action("Reopen a submitted or curated set")
    def post(self, request: Request, pk: int) -> Response:
        annotation_set = set_for_writing(request, pk)
        services.reopen_set(
            annotation_set=annotation_set, by=user_of(request), expected_version=expected_version(request)
        )
        return with_etag(Response(AnnotationSetSerializer(annotation_set).data), annotation_set)


# Spans and links


@api_view
class SetSpans(APIView):
    @extend_schema(
        summary="Add a span",
        parameters=[IF_MATCH],
        request=SpanCreateSerializer,
        responses={201: SpanSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, pk: int) -> Response:
        usual = span_create_data(request.data)  # the set is read with the type it names
        if usual is not None and (done := set_writes_at_once.create_span(request, pk, usual)) is not None:
            return _created(done)  # one statement: the usual way's checks, the set's read and the write
        annotation_set = set_for_writing(request, pk, type_name=usual["type"] if usual else None)
        data = usual or _validated(SpanCreateSerializer, request)
        span = services.create_span(
            annotation_set=annotation_set,
            start=data["start"],
            end=data["end"],
            entity_type=type_named(annotation_set, data["type"]),
            surface=data.get("text"),
            by=user_of(request),
            expected_version=expected_version(request),
        )
        return with_etag(Response(span_data(span), status=status.HTTP_201_CREATED), annotation_set)


def _created(done: set_writes_at_once.Written) -> Response:
    response = Response(done.body, status=status.HTTP_201_CREATED)
    response["ETag"] = f'"{done.version}"'
    return response


def _validated(serializer: Any, request: Request) -> Any:
    body = serializer(data=request.data)
    body.is_valid(raise_exception=True)
    return body.validated_data


def _span_for_writing(request: Request, pk: int) -> Span:
    span = get_object_or_404(
        Span.objects.filter(annotation_set__in=visible_sets(request)).select_related(
            "entity_type", "annotation_set__article"
        ),
        pk=pk,
    )
    check_can_edit(request, span.annotation_set)
    return span


@api_view
class SpanDetail(APIView):
    @_set_action(
        "Change a span's boundaries or type; its link and relations stay",
        SpanChangeSerializer,
        SpanSerializer,
    )
    def patch(self, request: Request, pk: int) -> Response:
        span = _span_for_writing(request, pk)
        body = SpanChangeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        entity_type = None
        if "type" in data:
            entity_type = named(EntityType, span.annotation_set.article.project_id, data["type"], "type")
        services.change_span(
            span=span,
            start=data.get("start"),
            end=data.get("end"),
            entity_type=entity_type,
            surface=data.get("text"),
            by=user_of(request),
            expected_version=expected_version(request),
        )
        return with_etag(Response(SpanSerializer(span).data), span.annotation_set)

    @extend_schema(
        summary="Delete a span with its link and relations",
        parameters=[IF_MATCH],
        responses={204: None, **WRITE_ERRORS},
    )
    def delete(self, request: Request, pk: int) -> Response:
        span = _span_for_writing(request, pk)
        services.delete_span(span=span, by=user_of(request), expected_version=expected_version(request))
        return with_etag(Response(status=status.HTTP_204_NO_CONTENT), span.annotation_set)


@api_view
class SpanLink(APIView):
    @_set_action(
        "Link a span to a KB entity, or mark it NIL with kb_entity: null", LinkWriteSerializer, SpanSerializer
    )
    def put(self, request: Request, pk: int) -> Response:
        span = _span_for_writing(request, pk)
        body = LinkWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        kb_entity = None
        if body.validated_data["kb_entity"] is not None:
            entities = KBEntity.objects.filter(
                knowledge_base__project_id=span.annotation_set.article.project_id
            )
            kb_entity = in_project(entities, body.validated_data["kb_entity"], "KB entity")
        services.link_span(
            span=span, kb_entity=kb_entity, by=user_of(request), expected_version=expected_version(request)
        )
        span = Span.objects.select_related("entity_type", "link__kb_entity").get(pk=span.pk)
        return with_etag(Response(SpanSerializer(span).data), _fresh(span.annotation_set_id))

    @extend_schema(
        summary="Remove a span's link", parameters=[IF_MATCH], responses={204: None, **WRITE_ERRORS}
    )
    def delete(self, request: Request, pk: int) -> Response:
        span = _span_for_writing(request, pk)
        services.unlink_span(span=span, by=user_of(request), expected_version=expected_version(request))
        return with_etag(Response(status=status.HTTP_204_NO_CONTENT), span.annotation_set)


def _fresh(set_id: int) -> AnnotationSet:
    return AnnotationSet.objects.get(pk=set_id)


# Relations


@api_view
class SetRelations(APIView):
    @extend_schema(
        summary="Relate two spans of the set",
        parameters=[IF_MATCH],
        request=RelationCreateSerializer,
        responses={201: RelationSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, pk: int) -> Response:
        annotation_set = set_for_writing(request, pk)
        body = RelationCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        project_id = annotation_set.article.project_id
        spans = Span.objects.filter(annotation_set__in=visible_sets(request)).select_related("entity_type")
        relation = services.create_relation(
            annotation_set=annotation_set,
            head=in_project(spans, data["head"], "span"),
            tail=in_project(spans, data["tail"], "span"),
            relation_type=named(RelationType, project_id, data["type"], "type"),
            by=user_of(request),
            expected_version=expected_version(request),
        )
        return with_etag(
            Response(RelationSerializer(relation).data, status=status.HTTP_201_CREATED), annotation_set
        )


@api_view
class RelationDetail(APIView):
    @extend_schema(summary="Delete a relation", parameters=[IF_MATCH], responses={204: None, **WRITE_ERRORS})
    def delete(self, request: Request, pk: int) -> Response:
        relation = get_object_or_404(
            Relation.objects.filter(annotation_set__in=visible_sets(request)).select_related(
                "annotation_set__article"
            ),
            pk=pk,
        )
        check_can_edit(request, relation.annotation_set)
        services.delete_relation(
            relation=relation, by=user_of(request), expected_version=expected_version(request)
        )
        return with_etag(Response(status=status.HTTP_204_NO_CONTENT), relation.annotation_set)


# Decisions on suggestions


@api_view
class SetDecisions(APIView):
    @extend_schema(
        summary="Accept, correct or reject a suggestion in this set",
        parameters=[IF_MATCH],
        request=DecisionCreateSerializer,
        responses={201: DecisionSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, pk: int) -> Response:
        usual = decision_create_data(request.data)  # the set is read with the suggestion it names
        if usual is not None and (done := set_writes_at_once.decide(request, pk, usual)) is not None:
            return _created(done)  # one statement, as a new span's
        annotation_set = set_for_writing(request, pk, suggestion_id=usual["suggestion"] if usual else None)
        data = usual or _validated(DecisionCreateSerializer, request)
        project_id = annotation_set.article.project_id
        suggestion = suggestion_about(annotation_set, data["suggestion"])
        common: dict[str, Any] = {
            "suggestion": suggestion,
            "annotation_set": annotation_set,
            "by": user_of(request),
            "expected_version": expected_version(request),
        }
        if data["verdict"] == Verdict.ACCEPTED:
            decision = decisions.accept_suggestion(**common)
        elif data["verdict"] == Verdict.REJECTED:
            decision = decisions.reject_suggestion(**common)
        else:
            decision = decisions.correct_suggestion(**common, **_corrections(data, project_id))
        return with_etag(Response(decision_data(decision), status=status.HTTP_201_CREATED), annotation_set)


def _corrections(data: dict[str, Any], project_id: int) -> dict[str, Any]:
    changes: dict[str, Any] = {
        "start": data.get("start"),
        "end": data.get("end"),
        "nil": data.get("nil", False),
    }
    if "type" in data:
        changes["entity_type"] = named(EntityType, project_id, data["type"], "type")
    if "relation_type" in data:
        changes["relation_type"] = named(RelationType, project_id, data["relation_type"], "relation_type")
    if "kb_entity" in data:
        entities = KBEntity.objects.filter(knowledge_base__project_id=project_id)
        changes["kb_entity"] = in_project(entities, data["kb_entity"], "KB entity")
    return changes


@api_view
class DecisionDetail(APIView):
    @extend_schema(
        summary="Undo a decision: remove it and exactly the annotations it created",
        parameters=[IF_MATCH],
        responses={204: None, **WRITE_ERRORS},
    )
    def delete(self, request: Request, pk: int) -> Response:
        decision = get_object_or_404(
            Decision.objects.filter(annotation_set__in=visible_sets(request)).select_related(
                "annotation_set__article"
            ),
            pk=pk,
        )
        check_can_edit(request, decision.annotation_set)
        decisions.undo_decision(
            decision=decision, by=user_of(request), expected_version=expected_version(request)
        )
        return with_etag(Response(status=status.HTTP_204_NO_CONTENT), decision.annotation_set)
