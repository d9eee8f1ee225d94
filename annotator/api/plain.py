"""Lists read as `values()` rows and shaped as their serializer shapes model instances, field by field.

A list of 100 articles through a ModelSerializer builds 100 model instances, then for each row and field
walks DRF's attribute lookup; that was most of a list call's CPU. Here the serializer's own fields are
built once per process and each row's values go straight to their `to_representation`, so the JSON is
the serializer's, byte for byte (`tests/integration/test_request_path.py` compares them), at a fraction
of the cost. Only flat serializers fit: every field a column of the model (a related field gives its
key); nested serializers, dotted sources and method fields are refused when the shape is first built.
A date-time in DRF's default format is written here too: DRF looks up the current time zone once for
each value (a third of a 50-article list's CPU); here it is looked up once per list.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone
from rest_framework import ISO_8601, serializers
from rest_framework.fields import Field
from rest_framework.settings import api_settings

Shape = tuple[tuple[str, str, Field[Any, Any, Any, Any] | None], ...]
_shapes: dict[type[serializers.Serializer[Any]], Shape] = {}
_lock = threading.Lock()


def shape(serializer_class: type[serializers.Serializer[Any]]) -> Shape:
    """(output name, column, field or None for a key given as is) for each field the serializer writes."""
    found = _shapes.get(serializer_class)
    if found is None:
        built: list[tuple[str, str, Field[Any, Any, Any, Any] | None]] = []
        for name, field in serializer_class().fields.items():
            if field.write_only:
                continue
            source = field.source or name
            if isinstance(field, serializers.BaseSerializer | serializers.SerializerMethodField) or (
                "." in source or source == "*"
            ):
                raise ValueError(
                    f"{serializer_class.__name__}.{name} is not a column: it cannot be read plain."
                )
            if isinstance(field, serializers.PrimaryKeyRelatedField):
                built.append((name, source, None))  # values() gives the key itself
            elif isinstance(field, serializers.RelatedField):
                raise ValueError(f"{serializer_class.__name__}.{name} needs the related object.")
            else:
                built.append((name, source, field))
        found = tuple(built)
        with _lock:
            _shapes[serializer_class] = found
    return found


def columns(serializer_class: type[serializers.Serializer[Any]]) -> list[str]:
    """The columns to read with `values()` for this serializer's fields."""
    return [column for _, column, _ in shape(serializer_class)]


def iso_datetime(field: Field[Any, Any, Any, Any] | None) -> bool:
    """Whether DRF writes this field's values as ISO 8601 in the current time zone."""
    return (
        type(field) is serializers.DateTimeField
        and getattr(field, "format", api_settings.DATETIME_FORMAT) == ISO_8601
        and not hasattr(field, "timezone")
    )


class IsoDateTime:
    """DateTimeField.to_representation for an aware value, with the current time zone read once."""

    def __init__(self, field: Any) -> None:
        self.field = field
        self.zone = timezone.get_current_timezone() if settings.USE_TZ else None

    def to_representation(self, value: Any) -> Any:
        if self.zone is not None and isinstance(value, datetime) and value.utcoffset() is not None:
            with contextlib.suppress(OverflowError):  # at the ends of time: DRF's own answer, a refusal
                text = value.astimezone(self.zone).isoformat()
                return text[:-6] + "Z" if text.endswith("+00:00") else text
        return self.field.to_representation(value)  # naive values too


def datetime_text(field: Field[Any, Any, Any, Any], value: Any) -> Any:
    """`field.to_representation(value)` for a DateTimeField, the current time zone read once."""
    return (IsoDateTime(field) if iso_datetime(field) else field).to_representation(value)


def represent(
    serializer_class: type[serializers.Serializer[Any]], rows: Iterable[dict[str, Any]]
) -> list[dict[str, Any]]:
    """What `serializer_class(instances, many=True).data` gives for the instances these rows were read from."""
    fields = [
        (name, column, IsoDateTime(field) if iso_datetime(field) else field)
        for name, column, field in shape(serializer_class)
    ]
    return [
        {
            name: value if field is None or value is None else field.to_representation(value)
            for name, column, field in fields
            for value in (row[column],)
        }
        for row in rows
    ]
