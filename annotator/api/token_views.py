"""API tokens: the REST endpoints and the page where people manage theirs. A token's secret is shown once."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.decorators import login_not_required
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.decorators import method_decorator
from django.views.decorators.http import require_http_methods, require_POST
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from annotator.api.access import token_of, user_of
from annotator.api.annotation_serializers import ID_MAX, ErrorSerializer
from annotator.api.annotations import in_project
from annotator.api.models import ApiToken, Scope
from annotator.api.tokens import TokenError, create_token, revoke_token
from annotator.core.http import AuthedRequest
from annotator.core.offsets import whole_number
from annotator.projects.models import Project
from annotator.signins.models import EventKind
from annotator.signins.records import record_event


class TokenSerializer(serializers.ModelSerializer[ApiToken]):
    usable = serializers.BooleanField(source="is_usable", read_only=True)

    class Meta:
        model = ApiToken
        fields = [
            "id",
            "name",
            "prefix",
            "scope",
            "project",
            "created_at",
            "expires_at",
            "last_used_at",
            "revoked_at",
            "usable",
        ]
        read_only_fields = ["prefix", "created_at", "last_used_at", "revoked_at"]


class NewTokenSerializer(TokenSerializer):
    token = serializers.CharField(
        read_only=True, help_text="The secret. It is shown this once and never again."
    )

    class Meta(TokenSerializer.Meta):
        fields = [*TokenSerializer.Meta.fields, "token"]


def _integer(value: object) -> object:
    number = whole_number(value) if isinstance(value, str) else value
    return number if isinstance(number, int) and 0 < number <= ID_MAX else None  # None: no such project


@method_decorator(login_not_required, name="dispatch")
class TokenList(generics.ListAPIView):
    """Your API tokens (never their secrets)."""

    serializer_class = TokenSerializer

    def get_queryset(self) -> QuerySet[ApiToken]:
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no user
            return ApiToken.objects.none()
        return ApiToken.objects.filter(user=user_of(self.request))

    @extend_schema(
        summary="Make a token",
        request=TokenSerializer,
        responses={
            201: NewTokenSerializer,
            400: OpenApiResponse(ErrorSerializer),
            401: OpenApiResponse(ErrorSerializer),
            404: OpenApiResponse(ErrorSerializer, description="No such project (or not yours)."),
        },
    )
    def post(self, request: Request) -> Response:
        # Another project's id is a 404 like a missing one, before the serializer's own check could say
        # which of the two it is.
        project_id = request.data.get("project") if isinstance(request.data, dict) else None
        if project_id not in (None, ""):
            in_project(Project.objects.visible_to(user_of(request)), _integer(project_id), "project")
        body = TokenSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        token, secret = create_token(
            user=user_of(request),
            name=data["name"],
            scope=data.get("scope", Scope.READ),
            project=data.get("project"),
            expires_at=data.get("expires_at"),
            issued_by=token_of(request),
        )
        record_token_event(request._request, token, EventKind.TOKEN_CREATED)
        return Response({**TokenSerializer(token).data, "token": secret}, status=status.HTTP_201_CREATED)


@method_decorator(login_not_required, name="dispatch")
class TokenDetail(generics.RetrieveDestroyAPIView):
    """One of your tokens; DELETE revokes it (every web process refuses it within
    ANNOTATOR_TOKEN_CACHE_SECONDS, the one that answers the DELETE at once)."""

    serializer_class = TokenSerializer

    def get_queryset(self) -> QuerySet[ApiToken]:
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no user
            return ApiToken.objects.none()
        return ApiToken.objects.filter(user=user_of(self.request))

    def perform_destroy(self, instance: ApiToken) -> None:
        if instance.revoked_at is None:
            record_token_event(self.request._request, revoke_token(instance), EventKind.TOKEN_REVOKED)


# The page


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100)
    scope = forms.ChoiceField(choices=Scope.choices, initial=Scope.READ)
    project = forms.ModelChoiceField(
        queryset=Project.objects.none(), required=False, empty_label="All my projects"
    )
    expires_at = forms.DateTimeField(
        required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}), label="Expires"
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["project"].queryset = Project.objects.visible_to(user)  # type: ignore[attr-defined]


@require_http_methods(["GET", "POST"])
def tokens_page(request: AuthedRequest) -> HttpResponse:
    form = TokenForm(request.POST or None, user=request.user)
    secret = None
    if request.method == "POST" and form.is_valid():
        try:
            token, secret = create_token(user=request.user, **form.cleaned_data)
        except TokenError as error:
            form.add_error(error.field, error.message)
        else:
            record_token_event(request, token, EventKind.TOKEN_CREATED)
            form = TokenForm(user=request.user)
    tokens = ApiToken.objects.filter(user=request.user).select_related("project")
    return render(request, "api/tokens.html", {"form": form, "tokens": tokens, "secret": secret})


@require_POST
def revoke_page(request: AuthedRequest, token_id: int) -> HttpResponse:
    token = get_object_or_404(ApiToken.objects.filter(user=request.user), pk=token_id)
    if token.revoked_at is None:
        record_token_event(request, revoke_token(token), EventKind.TOKEN_REVOKED)
    return redirect("tokens:list")


def record_token_event(request: HttpRequest, token: ApiToken, kind: str) -> None:
    scope = (
        f"{token.scope}, project {token.project_id}" if token.project_id else f"{token.scope}, all projects"
    )
    record_event(
        kind=kind, request=request, user=token.user, detail=f"{token.name} ({token.prefix}…, {scope})"
    )
