"""Who may do what in a project: plain predicates over the user's role (None for non-members).

Non-members never reach these: membership-scoped querysets make the project a 404 for them first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from annotator.annotations.models import SetKind
from annotator.projects.models import Role

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from annotator.annotations.models import AnnotationSet


def can_view(role: str | None) -> bool:
    return role in Role.values


def can_annotate(role: str | None) -> bool:
    return role in Role.values


def can_curate(role: str | None) -> bool:
    return role in (Role.CURATOR, Role.MANAGER)


def can_manage(role: str | None) -> bool:
    return role == Role.MANAGER


def can_edit_set(user: User, role: str | None, annotation_set: AnnotationSet) -> bool:
    """Annotators edit their own set; curators and managers edit gold; managers edit imported sets."""
    if annotation_set.kind == SetKind.ANNOTATOR:
        return can_annotate(role) and annotation_set.annotator_id == user.pk
    if annotation_set.kind == SetKind.GOLD:
        return can_curate(role)
    return can_manage(role)
