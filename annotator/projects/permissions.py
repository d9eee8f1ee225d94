"""Who may do what in a project: plain predicates over the user's role (None for non-members).

Non-members never reach these: membership-scoped querysets make the project a 404 for them first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings

from annotator.projects.models import Role

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User


def can_view(role: str | None) -> bool:
    return role in Role.values


def can_annotate(role: str | None) -> bool:
    return role in Role.values


def can_curate(role: str | None) -> bool:
    return role in (Role.CURATOR, Role.MANAGER)


def can_manage(role: str | None) -> bool:
    return role == Role.MANAGER


def can_create_projects(user: User | AnonymousUser) -> bool:
    """Who may start a project is a site setting (ANNOTATOR_PROJECT_CREATORS): staff only, or every user."""
    if not user.is_authenticated or not user.is_active:
        return False
    return user.is_staff or settings.ANNOTATOR_PROJECT_CREATORS == "everyone"
