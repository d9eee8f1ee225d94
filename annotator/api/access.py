"""What an API request may see and do: the user's projects, narrowed to the token's project and scope."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django.db.models import OuterRef, QuerySet, Subquery
from rest_framework import exceptions, permissions
from rest_framework.request import Request

from annotator.annotations.models import AnnotationSet, SetKind
from annotator.api.models import ApiToken
from annotator.projects.models import Membership, Project, ProjectQuerySet

if TYPE_CHECKING:
    from django.contrib.auth.models import User
from annotator.annotations.permissions import can_edit_set
from annotator.projects.permissions import can_curate


def token_of(request: Request) -> ApiToken | None:
    return request.auth if isinstance(request.auth, ApiToken) else None


def user_of(request: Request) -> User:
    """The request's user; every API view needs authentication, so it is never anonymous here."""
    return cast("User", request.user)


def projects_for(request: Request) -> ProjectQuerySet:
    """The projects this request reaches: the user's, or only the token's one."""
    projects = Project.objects.visible_to(user_of(request))
    token = token_of(request)
    if token is not None and token.project_id is not None:
        projects = projects.filter(pk=token.project_id)
    return projects


def role_in(request: Request, project_id: int) -> str | None:
    return (
        Membership.objects.filter(project_id=project_id, user=user_of(request))
        .order_by()
        .values_list("role", flat=True)
        .first()
    )


def with_role(sets: QuerySet[AnnotationSet], request: Request) -> QuerySet[AnnotationSet]:
    """Annotate `my_role`, the user's role in each set's project, so `check_can_edit` need not read it."""
    role = Membership.objects.filter(project=OuterRef("article__project_id"), user=user_of(request))
    return sets.annotate(my_role=Subquery(role.order_by().values("role")[:1]))


def visible_sets(request: Request) -> QuerySet[AnnotationSet]:
    """Sets of reachable projects that the user may read (blind projects hide others' sets from annotators)."""
    return AnnotationSet.objects.readable_by(user_of(request)).filter(
        article__project__in=projects_for(request)
    )


def check_can_edit(request: Request, annotation_set: AnnotationSet) -> None:
    role = getattr(annotation_set, "my_role", None) or role_in(request, annotation_set.article.project_id)
    if not can_edit_set(user_of(request), role, annotation_set):
        detail = (
            "Only curators and managers change the gold set."
            if annotation_set.kind == SetKind.GOLD and not can_curate(role)
            else "You cannot change this annotation set."
        )
        raise exceptions.PermissionDenied(detail)


class TokenScopePermission(permissions.BasePermission):
    """Any authenticated user may read; writing with a token needs a write token."""

    message = "This token is read-only."

    def has_permission(self, request: Request, view: Any) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        token = token_of(request)
        return request.method in permissions.SAFE_METHODS or token is None or token.can_write
