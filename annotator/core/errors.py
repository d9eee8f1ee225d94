"""Errors the services raise; pages and the API turn them into messages and status codes."""

from __future__ import annotations


class DomainError(Exception):
    """A request the domain refuses. `field` names the input at fault, when there is one."""

    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidAnnotation(DomainError):
    """An annotation that would break an invariant (offsets, surface text, schema)."""


class NotEditable(DomainError):
    """The object is locked: a submitted set, or a set that is not the user's."""

    code = "not_editable"


class StaleVersion(DomainError):
    """The client wrote against an old version of a shared object; nothing was written."""

    code = "conflict"

    def __init__(self, *, expected: int, current: int | None) -> None:
        super().__init__(
            f"This annotation set changed since you loaded it (you had version {expected}, "
            f"it is now at version {current}). Reload to see the changes, then apply yours again.",
            field="version",
        )
        self.expected = expected
        self.current = current


class ProjectArchived(NotEditable):
    """The project is archived: read-only until a manager unarchives it."""

    code = "archived"

    def __init__(
        self, message: str = "This project is archived: it is read-only until a manager unarchives it."
    ) -> None:
        super().__init__(message)
