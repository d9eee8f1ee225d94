"""Deleting many rows at once and still recording each in its django-simple-history table.

`Model.delete()` row by row costs a collector and several queries per row: a schema change that removes
thousands of spans took minutes. Here: one history row per deleted row (bulk), references that Django
would set to NULL set to NULL (as its collector does: no signals), then one DELETE per batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.db import models
from django.utils import timezone

if TYPE_CHECKING:
    from django.contrib.auth.models import User

BATCH = 500


def purge_with_history(model: type[models.Model], rows: Sequence[Any], by: User | None) -> None:
    """Delete `rows` (instances of `model`), each with a "-" history row by `by`.

    Rows other tables reference with CASCADE must have lost those references first: the database
    refuses the delete otherwise, so nothing is ever left pointing at a deleted row.
    """
    if not rows:
        return
    history = model.history.model  # type: ignore[attr-defined]
    now = timezone.now()
    history.objects.bulk_create(
        [
            history(
                history_date=now,
                history_user=by,
                history_change_reason="",
                history_type="-",
                **{field.attname: getattr(row, field.attname) for field in history.tracked_fields},
            )
            for row in rows
        ],
        batch_size=BATCH,
    )
    ids = [row.pk for row in rows]
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        for relation in model._meta.related_objects:
            if relation.on_delete is models.SET_NULL:
                name = relation.field.name
                relation.related_model._base_manager.filter(**{f"{name}__in": chunk}).update(**{name: None})
        queryset = model._base_manager.filter(pk__in=chunk)
        queryset._raw_delete(queryset.db)  # type: ignore[attr-defined]


def update_with_history(
    model: type[models.Model], rows: Sequence[Any], changes: dict[str, Any], by: User | None
) -> None:
    """Give every row the same new field values in one UPDATE per batch, each with a "~" history row."""
    if not rows:
        return
    for row in rows:
        for name, value in changes.items():
            setattr(row, name, value)
    ids = [row.pk for row in rows]
    values = dict(changes)
    if any(getattr(field, "auto_now", False) for field in model._meta.concrete_fields):
        values["updated_at"] = timezone.now()
    for start in range(0, len(ids), BATCH):
        model._base_manager.filter(pk__in=ids[start : start + BATCH]).update(**values)
    model.history.bulk_history_create(rows, batch_size=BATCH, update=True, default_user=by)  # type: ignore[attr-defined]
