"""Who may edit an annotation set: the role predicates of `projects.permissions`, applied to a set."""

from __future__ import annotations

from typing import TYPE_CHECKING

from annotator.annotations.models import SetKind
from annotator.projects.permissions import can_annotate, can_curate, can_manage

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from annotator.annotations.models import AnnotationSet


def can_edit_set(user: User, role: str | None, annotation_set: AnnotationSet) -> bool:
    """Annotators edit their own set; curators and managers edit gold; managers edit imported sets."""
    if annotation_set.kind == SetKind.ANNOTATOR:
        return can_annotate(role) and annotation_set.annotator_id == user.pk
    if annotation_set.kind == SetKind.GOLD:
        return can_curate(role)
    return can_manage(role)
