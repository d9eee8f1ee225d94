"""Writes to projects: members, guidelines."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import Max

from annotator.core.errors import ProjectArchived
from annotator.projects.models import GuidelineVersion, Membership, Project, Role

if TYPE_CHECKING:
    from django.contrib.auth.models import User


class LastManager(ValueError):
    """The change would leave the project without a manager, so nobody could run it any more."""


def add_member(*, project: Project, user: User, role: str) -> Membership:
    """Give the user a role in the project (changing the role they had, if any)."""
    with transaction.atomic():
        if role != Role.MANAGER:
            _keep_a_manager(project, user)
        membership, _ = Membership.objects.update_or_create(
            project=project, user=user, defaults={"role": Role(role)}
        )
    return membership


@transaction.atomic
def remove_member(*, project: Project, user: User) -> None:
    """Take the user out of the project. Their annotation sets stay: they are the project's data."""
    _keep_a_manager(project, user)
    Membership.objects.filter(project=project, user=user).delete()


def _keep_a_manager(project: Project, leaving: User) -> None:
    # Locked so that two managers demoting each other at once cannot both succeed.
    managers = list(
        Membership.objects.select_for_update()
        .filter(project=project, role=Role.MANAGER)
        .values_list("user_id", flat=True)
    )
    if managers == [leaving.pk]:
        raise LastManager(
            f"{leaving.get_username()} is the project's only manager: make someone else manager first."
        )


def ensure_not_archived(project: Project | int) -> None:
    """Refuse a change to an archived project (read-only until a manager unarchives it): its schema, its
    knowledge bases, its guidelines, comments. Read from the database, not from the caller's instance,
    which a manager may have archived since it was loaded."""
    project_id = project if isinstance(project, int) else project.pk
    if Project.objects.filter(pk=project_id, archived_at__isnull=False).exists():
        raise ProjectArchived


@transaction.atomic
def update_guidelines(*, project: Project, text: str, by: User | None) -> GuidelineVersion:
    """Save the guidelines as a new version, unless they are unchanged."""
    ensure_not_archived(project)
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
    "trim_span_whitespace",
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
