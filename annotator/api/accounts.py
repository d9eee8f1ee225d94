"""The API over people: your account, new accounts and invitations of a project, and the site's users (staff).

Managers of a project make accounts (the generated password is in the answer, once) and invitations
(the link is in the answer, once); other members get 403, non-members 404. Only staff list and
(de)activate users; everyone else gets 403.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_not_required
from django.db import connections, router
from django.db.models import Count, Q, QuerySet
from django.http import HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.decorators import method_decorator
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import exceptions, generics, serializers, status
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.accounts.models import Invitation
from annotator.accounts.services import (
    create_account,
    invite,
    mail_invitation,
    revoke_invitation,
    set_active,
)
from annotator.api.access import user_of
from annotator.api.jobs import error_responses
from annotator.api.kb import member_project
from annotator.core.compiled import CompiledQuery
from annotator.core.prepared import prepared_cursor
from annotator.projects.models import Membership, Project, Role
from annotator.projects.permissions import can_manage

api_view = method_decorator(login_not_required, name="dispatch")


class AccountProjectSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="project_id")
    name = serializers.CharField(source="project.name")
    role = serializers.ChoiceField(choices=Role.choices)


class AccountSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField(source="get_username")
    full_name = serializers.CharField(source="get_full_name")
    email = serializers.CharField(help_text="An e-mail address, or empty.")
    is_staff = serializers.BooleanField()
    projects = serializers.SerializerMethodField()

    @extend_schema_field(AccountProjectSerializer(many=True))
    def get_projects(self, user: object) -> list[dict[str, object]]:
        return AccountProjectSerializer(self.context["memberships"], many=True).data  # type: ignore[return-value]


@api_view
class Account(APIView):
    @extend_schema(
        summary="Who you are, and your projects with your role in each", responses=AccountSerializer
    )
    def get(self, request: Request) -> HttpResponseBase:
        # What AccountSerializer gives, built directly: the cheapest authenticated read, which a client
        # makes to check its token, should cost the request stack and one query compiled once.
        user = user_of(request)
        data = {
            "id": user.pk,
            "username": user.get_username(),
            "full_name": user.get_full_name(),
            "email": user.email,
            "is_staff": user.is_staff,
            "projects": projects_of(user.pk),
        }
        return answer_in_json(request, data)


@CompiledQuery
def _memberships(user_id: int) -> QuerySet[Membership, Any]:
    return (
        Membership.objects.filter(user_id=user_id)
        .order_by("project__name", "project_id")
        .values("project_id", "project__name", "role")
    )


def projects_of(user_id: int) -> list[dict[str, object]]:
    """The user's projects as the account lists them: `_memberships`' SQL, compiled once, on a prepared
    cursor, its rows read as they come (whole numbers and texts, which Django converts in no database).
    Through the queryset's own `values()` iterable the same rows cost a tenth of a who-am-I call."""
    with prepared_cursor(connections[router.db_for_read(Membership)]) as cursor:
        cursor.execute(_memberships.sql(), (user_id,))
        return [{"id": project, "name": name, "role": role} for project, name, role in cursor.fetchall()]


_JSON = JSONRenderer()


def answer_in_json(request: Request, data: dict[str, Any]) -> HttpResponseBase:
    """`Response(data)`, as the JSON renderer would render it, made at once when that renderer and its
    plain media type were chosen (no `indent`, the answer of every usual Accept header): DRF's template
    response, rendered after the view, cost a twentieth of a who-am-I call for the same status, headers
    and bytes. Any other choice (the browsable API in debug, `application/json; indent=4`) takes DRF's."""
    if type(request.accepted_renderer) is not JSONRenderer or request.accepted_media_type != _JSON.media_type:
        return Response(data)
    response = HttpResponse(_JSON.render(data), content_type=_JSON.media_type)
    response.data = data  # type: ignore[attr-defined]  # as DRF's answer carries it (tests read it)
    return response


def _managed(request: Request, project_id: int) -> Project:
    project = member_project(request, project_id)
    if not can_manage(project.my_role):
        raise exceptions.PermissionDenied("Only the project's managers add people.")
    return project


class NewPersonSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    full_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    role = serializers.ChoiceField(choices=Role.choices)


class NewAccountSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    role = serializers.ChoiceField(choices=Role.choices)
    password = serializers.CharField(help_text="The generated password. It is shown this once.")


@api_view
class ProjectAccounts(APIView):
    @extend_schema(
        summary="Make an account with a generated password and add it to the project (managers)",
        request=NewPersonSerializer,
        responses={201: NewAccountSerializer, **error_responses(400, 403, 404)},
    )
    def post(self, request: Request, project_id: int) -> Response:
        project = _managed(request, project_id)
        incoming = NewPersonSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        user, password = create_account(project=project, **incoming.validated_data)
        body = {"id": user.pk, "username": user.get_username(), "role": incoming.validated_data["role"]}
        return Response({**body, "password": password}, status=status.HTTP_201_CREATED)


class InvitationSerializer(serializers.ModelSerializer[Invitation]):
    state = serializers.CharField(read_only=True)
    email = serializers.CharField(read_only=True, help_text="An e-mail address, or empty.")

    class Meta:
        model = Invitation
        fields = ["id", "username", "full_name", "email", "role", "state", "created_at", "expires_at"]


class NewInvitationSerializer(InvitationSerializer):
    link = serializers.CharField(read_only=True, help_text="The invitation link. It is shown this once.")
    mailed = serializers.BooleanField(read_only=True, help_text="Whether it was e-mailed to `email`.")

    class Meta(InvitationSerializer.Meta):
        fields = [*InvitationSerializer.Meta.fields, "link", "mailed"]


@api_view
class ProjectInvitations(APIView):
    @extend_schema(
        summary="The project's invitations, newest first (managers)",
        responses={200: InvitationSerializer(many=True), **error_responses(403, 404)},
    )
    def get(self, request: Request, project_id: int) -> Response:
        project = _managed(request, project_id)
        invitations = Invitation.objects.filter(project=project).order_by("-created_at")[:500]
        return Response(InvitationSerializer(invitations, many=True).data)

    @extend_schema(
        summary="Invite someone new: a link that makes their account and adds them (managers)",
        request=NewPersonSerializer,
        responses={201: NewInvitationSerializer, **error_responses(400, 403, 404)},
    )
    def post(self, request: Request, project_id: int) -> Response:
        project = _managed(request, project_id)
        incoming = NewPersonSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        invitation, secret = invite(project=project, by=user_of(request), **incoming.validated_data)
        link = request.build_absolute_uri(reverse("accounts:accept", args=[secret]))
        mailed = mail_invitation(invitation=invitation, link=link)
        body = {**InvitationSerializer(invitation).data, "link": link, "mailed": mailed}
        return Response(body, status=status.HTTP_201_CREATED)


@api_view
class ProjectInvitation(APIView):
    @extend_schema(
        summary="Revoke an invitation: its link stops working (managers)",
        responses={204: None, **error_responses(403, 404)},
    )
    def delete(self, request: Request, project_id: int, invitation_id: int) -> Response:
        project = _managed(request, project_id)
        revoke_invitation(get_object_or_404(Invitation.objects.filter(project=project), pk=invitation_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class SiteUserSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    username = serializers.CharField(source="get_username", read_only=True)
    full_name = serializers.CharField(source="get_full_name", read_only=True)
    email = serializers.CharField(read_only=True, help_text="An e-mail address, or empty.")
    is_staff = serializers.BooleanField(read_only=True)
    is_active = serializers.BooleanField()
    projects = serializers.IntegerField(read_only=True, help_text="How many projects they are a member of.")
    last_login = serializers.DateTimeField(read_only=True, allow_null=True)


def _staff(request: Request) -> None:
    if not user_of(request).is_staff:
        raise exceptions.PermissionDenied("Only staff see the site's users.")


@api_view
class SiteUsers(generics.ListAPIView):
    """Every account of the site (staff); `q` finds by username, name or e-mail."""

    serializer_class = SiteUserSerializer

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):
            return get_user_model().objects.none()
        _staff(self.request)
        users = get_user_model().objects.annotate(projects=Count("memberships")).order_by("id")
        if query := self.request.query_params.get("q", "").strip():
            users = users.filter(
                Q(username__icontains=query) | Q(email__icontains=query) | Q(first_name__icontains=query)
            )
        return users

    @extend_schema(
        parameters=[OpenApiParameter("q", str, description="Part of a username, name or e-mail.")],
        responses={200: SiteUserSerializer(many=True), **error_responses(403)},
    )
    def get(self, request: Request) -> Response:
        return super().get(request)


@api_view
class SiteUser(APIView):
    @extend_schema(
        summary="Deactivate (is_active false) or reactivate an account (staff)",
        request=SiteUserSerializer,
        responses={200: SiteUserSerializer, **error_responses(400, 403, 404)},
    )
    def patch(self, request: Request, user_id: int) -> Response:
        _staff(request)
        user = get_object_or_404(get_user_model().objects.annotate(projects=Count("memberships")), pk=user_id)
        incoming = SiteUserSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        set_active(user=user, active=incoming.validated_data["is_active"], by=user_of(request))
        return Response(SiteUserSerializer(user).data)
