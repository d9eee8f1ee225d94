"""Create a row, or bring it up to date, writing nothing when it already matches (idempotent loads)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, TypeVar

from django.db import models

M = TypeVar("M", bound=models.Model)


class Change(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


def upsert(model: type[M], *, lookup: dict[str, Any], values: dict[str, Any]) -> tuple[M, Change]:
    """The row matching `lookup`, created with `values` or updated to them; saved only if something differs."""
    instance = model._default_manager.filter(**lookup).first()
    if instance is None:
        return model._default_manager.create(**lookup, **values), Change.CREATED
    changed = [name for name, value in values.items() if getattr(instance, name) != value]
    if not changed:
        return instance, Change.UNCHANGED
    for name in changed:
        setattr(instance, name, values[name])
    if any(getattr(field, "auto_now", False) for field in model._meta.concrete_fields):
        changed.append("updated_at")
    instance.save(update_fields=changed)
    return instance, Change.UPDATED
