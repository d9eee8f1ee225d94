"""Writes to projects: members, guidelines."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import Max

from annotator.projects.models import GuidelineVersion, Membership, Project, Role

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def add_member(*, project: Project, user: User, role: str) -> Membership:
    """Give the user a role in the project (changing the role they had, if any)."""
    membership, _ = Membership.objects.update_or_create(
        project=project, user=user, defaults={"role": Role(role)}
    )
    return membership


@transaction.atomic
def update_guidelines(*, project: Project, text: str, by: User | None) -> GuidelineVersion:
    """Save the guidelines as a new version, unless they are unchanged."""
    Project.objects.select_for_update().filter(pk=project.pk).first()  # number versions one at a time
    latest = GuidelineVersion.objects.filter(project=project).order_by("-number").first()
    if latest is not None and latest.text == text:
        return latest
    number = (GuidelineVersion.objects.filter(project=project).aggregate(n=Max("number"))["n"] or 0) + 1
    return GuidelineVersion.objects.create(project=project, number=number, text=text, created_by=by)


SETTINGS = (
    "annotators_per_article",
    "assignment_strategy",
    "blind",
    "abandon_after_minutes",
    "promote_to_gold",
)


def change_settings(*, project: Project, values: dict[str, Any]) -> Project:
    """Change the project's team settings (only those named in SETTINGS), checked by the database too."""
    unknown = values.keys() - set(SETTINGS)
    if unknown:
        raise ValueError(f"Not a project setting: {', '.join(sorted(unknown))}")
    for name, value in values.items():
        setattr(project, name, value)
    project.full_clean()
    project.save(update_fields=[*values, "updated_at"])
    return project
