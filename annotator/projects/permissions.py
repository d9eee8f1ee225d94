"""Who may do what in a project: plain predicates over the user's role (None for non-members).

Non-members never reach these: membership-scoped querysets make the project a 404 for them first.
"""

from __future__ import annotations

from annotator.projects.models import Role


def can_view(role: str | None) -> bool:
    return role in Role.values


def can_annotate(role: str | None) -> bool:
    return role in Role.values


def can_curate(role: str | None) -> bool:
    return role in (Role.CURATOR, Role.MANAGER)


def can_manage(role: str | None) -> bool:
    return role == Role.MANAGER
