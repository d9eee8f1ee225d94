"""The API over teamwork: project settings and members, the queue, curation into gold, comments, history.

The same services and the same role rules as the pages: managers change settings, curators and managers
curate (annotators get 403), anyone who is not a member gets 404. Curation writes take `If-Match` with
the gold set's ETag, like every other write to a set.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError as ModelValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404
from django.utils.decorators import method_decorator
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.annotations.models import AnnotationSet, Relation, Span
from annotator.annotations.services import get_or_create_gold_set
from annotator.api.access import projects_for, role_in, user_of
from annotator.api.annotation_serializers import ArticleSerializer, IdField
from annotator.api.annotations import IF_MATCH, etag, expected_version
from annotator.api.jobs import error_responses
from annotator.api.kb import member_project
from annotator.articles.models import Article
from annotator.projects.forms import MemberForm
from annotator.projects.models import Membership, Project, Role
from annotator.projects.permissions import can_curate, can_manage
from annotator.projects.services import SETTINGS, LastManager, add_member, change_settings, remove_member
from annotator.review import curation
from annotator.review.comments import add_comment, visible_comments
from annotator.review.history import describe, history_rows
from annotator.review.queue import next_article

api_view = method_decorator(login_not_required, name="dispatch")


def _article(request: Request, article_id: int) -> Article:
    article = get_object_or_404(
        Article.objects.filter(project__in=projects_for(request)).select_related("project"), pk=article_id
    )
    article.project.my_role = role_in(request, article.project_id)
    return article


# Settings


class ProjectSettingsSerializer(serializers.ModelSerializer[Project]):
    class Meta:
        model = Project
        fields = list(SETTINGS)


@api_view
class ProjectSettings(APIView):
    @extend_schema(
        summary="The project's assignment and curation settings",
        responses={200: ProjectSettingsSerializer, **error_responses(404)},
    )
    def get(self, request: Request, project_id: int) -> Response:
        return Response(ProjectSettingsSerializer(member_project(request, project_id)).data)

    @extend_schema(
        summary="Change the project's assignment and curation settings (managers)",
        request=ProjectSettingsSerializer,
        responses={200: ProjectSettingsSerializer, **error_responses(400, 403, 404)},
    )
    def patch(self, request: Request, project_id: int) -> Response:
        project = member_project(request, project_id)
        if not can_manage(project.my_role):
            raise exceptions.PermissionDenied("Only the project's managers change its settings.")
        incoming = ProjectSettingsSerializer(project, data=request.data, partial=True)
        incoming.is_valid(raise_exception=True)
        try:
            change_settings(project=project, values=dict(incoming.validated_data))
        except ModelValidationError as error:
            raise exceptions.ValidationError(error.message_dict) from None
        return Response(ProjectSettingsSerializer(project).data)


# The queue


@api_view
class NextArticle(APIView):
    @extend_schema(
        summary="Hand out your next article and reserve a place in it (204: nothing left for you)",
        request=None,
        responses={
            200: ArticleSerializer,
            204: OpenApiResponse(description="Nothing left to annotate."),
            **error_responses(404),
        },
    )
    def post(self, request: Request, project_id: int) -> Response:
        project = member_project(request, project_id)
        article = next_article(project=project, user=user_of(request))
        if article is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(ArticleSerializer(article, context={"request": request}).data)


# Curation


class CellSerializer(serializers.Serializer):
    set = serializers.IntegerField()
    id = serializers.IntegerField(help_text="The span or relation of that set: what `take` takes.")
    link = serializers.CharField(help_text="Where its link points (name and KB id, NIL), or empty.")


class SpanItemSerializer(serializers.Serializer):
    start = serializers.IntegerField()
    end = serializers.IntegerField()
    type = serializers.CharField()
    text = serializers.CharField()
    status = serializers.ChoiceField(choices=curation.STATUSES)
    link_status = serializers.CharField(help_text="agreed / disagreed among the sets that have it, or empty.")
    in_gold = serializers.BooleanField()
    versions = CellSerializer(many=True)


class RelationItemSerializer(serializers.Serializer):
    type = serializers.CharField()
    head = serializers.CharField()
    tail = serializers.CharField()
    status = serializers.ChoiceField(choices=curation.STATUSES)
    in_gold = serializers.BooleanField()
    versions = CellSerializer(many=True)


class CurationSerializer(serializers.Serializer):
    gold = serializers.IntegerField(help_text="The gold set's id; its ETag is this answer's ETag.")
    sets = serializers.ListField(
        child=serializers.IntegerField(), help_text="The compared sets, in column order."
    )
    spans = SpanItemSerializer(many=True)
    relations = RelationItemSerializer(many=True)


class TakeSerializer(serializers.Serializer):
    item = serializers.ChoiceField(choices=["span", "relation"])
    id = IdField(help_text="A span or relation of one of the compared sets.")


def _curated(request: Request, article_id: int) -> Article:
    article = _article(request, article_id)
    if not can_curate(article.project.my_role):  # type: ignore[attr-defined]
        raise exceptions.PermissionDenied("Only curators and managers curate.")
    return article


def _versions(items: dict[int, Any], *, labels: bool) -> list[dict[str, Any]]:
    return [
        {"set": set_id, "id": found.pk, "link": curation.link_label(found) if labels else ""}
        for set_id, found in items.items()
    ]


def _curation_body(article: Article, gold: Any) -> dict[str, Any]:
    comparison = curation.compare(article, gold)
    return {
        "gold": gold.pk,
        "sets": [s.pk for s in comparison.sets],
        "spans": [
            {"start": item.key[0], "end": item.key[1], "type": item.type_name, "text": item.surface,
             "status": item.status, "link_status": item.link_status, "in_gold": item.in_gold,
             "versions": _versions(item.spans, labels=True)}
            for item in comparison.spans
        ],
        "relations": [
            {"type": item.example.relation_type.name, "head": item.example.head.surface,
             "tail": item.example.tail.surface, "status": item.status, "in_gold": item.in_gold,
             "versions": _versions(item.relations, labels=False)}
            for item in comparison.relations
        ],
    }  # fmt: skip


def _with_gold(body: dict[str, Any], gold: Any) -> Response:
    response = Response(body)
    response["ETag"] = etag(gold)
    return response


@api_view
class Curation(APIView):
    @extend_schema(
        summary="The submitted sets of an article compared item by item, and what gold has (curators)",
        responses={200: CurationSerializer, **error_responses(403, 404)},
    )
    def get(self, request: Request, article_id: int) -> Response:
        article = _curated(request, article_id)
        gold = get_or_create_gold_set(article=article)
        return _with_gold(_curation_body(article, gold), gold)


@api_view
class CurationTake(APIView):
    @extend_schema(
        summary="Take one version of a span (with its link) or a relation into gold",
        parameters=[IF_MATCH],
        request=TakeSerializer,
        responses={200: CurationSerializer, **error_responses(400, 403, 404, 409, 412)},
    )
    def post(self, request: Request, article_id: int) -> Response:
        article = _curated(request, article_id)
        gold = get_or_create_gold_set(article=article)
        incoming = TakeSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        found = curation.version_to_take(
            article, incoming.validated_data["item"], incoming.validated_data["id"]
        )
        version = expected_version(request)
        if isinstance(found, Span):
            curation.take_span(gold=gold, span=found, by=user_of(request), expected_version=version)
        elif isinstance(found, Relation):
            curation.take_relation(gold=gold, relation=found, by=user_of(request), expected_version=version)
        else:
            raise exceptions.NotFound("No such item in the compared sets.")
        return _with_gold(_curation_body(article, gold), gold)


@api_view
class CurationTakeAgreed(APIView):
    @extend_schema(
        summary="Take every item the compared sets agree on into gold, at once",
        parameters=[IF_MATCH],
        request=None,
        responses={200: CurationSerializer, **error_responses(403, 404, 409, 412)},
    )
    def post(self, request: Request, article_id: int) -> Response:
        article = _curated(request, article_id)
        gold = get_or_create_gold_set(article=article)
        comparison = curation.compare(article, gold)
        curation.take_agreed(
            gold=gold, comparison=comparison, by=user_of(request), expected_version=expected_version(request)
        )
        return _with_gold(_curation_body(article, gold), gold)


# Comments and history


class CommentSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    author = serializers.CharField(source="author.get_username", read_only=True)
    text = serializers.CharField(max_length=5000)
    span = IdField(source="span_id", required=False, allow_null=True)
    start = serializers.IntegerField(read_only=True, allow_null=True)
    end = serializers.IntegerField(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)


@api_view
class ArticleComments(APIView):
    @extend_schema(
        summary="Comments on the article you may see (curators and managers: all; others: their own)",
        responses={200: CommentSerializer(many=True), **error_responses(404)},
    )
    def get(self, request: Request, article_id: int) -> Response:
        article = _article(request, article_id)
        comments = visible_comments(article, user_of(request), article.project.my_role)  # type: ignore[attr-defined]
        return Response(CommentSerializer(comments, many=True).data)

    @extend_schema(
        summary="Comment on the article, or on one of its spans you may read",
        request=CommentSerializer,
        responses={201: CommentSerializer, **error_responses(400, 404, 409)},
    )
    def post(self, request: Request, article_id: int) -> Response:
        article = _article(request, article_id)
        incoming = CommentSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        span = None
        if (span_id := incoming.validated_data.get("span_id")) is not None:
            readable = AnnotationSet.objects.readable_by(user_of(request)).filter(article=article)
            span = get_object_or_404(
                Span.objects.filter(annotation_set__in=readable).select_related("annotation_set"), pk=span_id
            )
        comment = add_comment(
            article=article, author=user_of(request), text=incoming.validated_data["text"], span=span
        )
        return Response(CommentSerializer(comment).data, status=status.HTTP_201_CREATED)


class HistoryEntrySerializer(serializers.Serializer):
    when = serializers.DateTimeField()
    who = serializers.CharField()
    set_label = serializers.CharField()
    kind = serializers.CharField()
    action = serializers.CharField()
    what = serializers.CharField()


class HistoryPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    page = serializers.IntegerField()
    pages = serializers.IntegerField()
    results = HistoryEntrySerializer(many=True)


@api_view
class ArticleHistory(APIView):
    @extend_schema(
        summary="Who changed what in the article's sets you may read, newest first (`page`, 50 per page)",
        responses={200: HistoryPageSerializer, **error_responses(404)},
    )
    def get(self, request: Request, article_id: int) -> Response:
        article = _article(request, article_id)
        page = Paginator(history_rows(article, user_of(request)), 50).get_page(
            request.query_params.get("page")
        )
        body = {
            "count": page.paginator.count,
            "page": page.number,
            "pages": page.paginator.num_pages,
            "results": HistoryEntrySerializer(describe(list(page), article), many=True).data,
        }
        return Response(body)


# Members


class MemberSerializer(serializers.Serializer):
    user = serializers.IntegerField(source="user_id", read_only=True)
    username = serializers.CharField(source="user.get_username", max_length=150)
    role = serializers.ChoiceField(choices=Role.choices)


def _managed(request: Request, project_id: int) -> Project:
    project = member_project(request, project_id)
    if not can_manage(project.my_role):
        raise exceptions.PermissionDenied("Only the project's managers manage its members.")
    return project


@api_view
class ProjectMembers(APIView):
    @extend_schema(
        summary="The project's members and their roles (managers)",
        responses={200: MemberSerializer(many=True), **error_responses(403, 404)},
    )
    def get(self, request: Request, project_id: int) -> Response:
        project = _managed(request, project_id)
        people = Membership.objects.filter(project=project).select_related("user").order_by("user__username")
        return Response(MemberSerializer(people, many=True).data)

    @extend_schema(
        summary="Add a person by username, or change a member's role (managers)",
        request=MemberSerializer,
        responses={200: MemberSerializer, **error_responses(400, 403, 404)},
    )
    def post(self, request: Request, project_id: int) -> Response:
        project = _managed(request, project_id)
        incoming = MemberSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        username = incoming.validated_data["user"]["get_username"]
        form = MemberForm({"username": username, "role": incoming.validated_data["role"]})
        if not form.is_valid():
            raise exceptions.ValidationError(
                {name: [str(e) for e in errors] for name, errors in form.errors.items()}
            )
        try:
            membership = add_member(
                project=project, user=form.cleaned_data["username"], role=form.cleaned_data["role"]
            )
        except LastManager as error:
            raise exceptions.ValidationError({"role": [str(error)]}) from None
        return Response(MemberSerializer(membership).data)


@api_view
class ProjectMember(APIView):
    @extend_schema(
        summary="Remove a member; their annotations stay (managers)",
        responses={204: None, **error_responses(400, 403, 404)},
    )
    def delete(self, request: Request, project_id: int, user_id: int) -> Response:
        project = _managed(request, project_id)
        membership = get_object_or_404(
            Membership.objects.filter(project=project).select_related("user"), user_id=user_id
        )
        try:
            remove_member(project=project, user=membership.user)
        except LastManager as error:
            raise exceptions.ValidationError({"user": [str(error)]}) from None
        return Response(status=status.HTTP_204_NO_CONTENT)
