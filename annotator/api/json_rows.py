"""List rows that PostgreSQL writes as JSON text, the way the API's JSON renderer writes their serializer's.

A list of 50 articles read as `values()` rows (`api/plain.py`) still costs Python per row and field: psycopg
parses each date-time and each metadata document into objects, and the renderer writes them back out as
text. Here the database writes each row's JSON object itself, one text column, and the answer joins them:
the rows cost no Python beyond that join (a 50-article list's CPU falls by about half).

The text is the renderer's, byte for byte, for the fields' own values: the same keys in the serializer's
order, whole numbers, strings escaped as Python's `json` escapes them (`"`, `\\`, control characters;
everything else as it is, U+2028 and U+2029 escaped over the whole answer as DRF does), date-times in
ISO 8601 with `Z` and six digits of microseconds unless they are zero. A JSON document (metadata) is
written as PostgreSQL keeps it (jsonb): the same keys in the same order and the same values, with a
space after each `:` and `,` and PostgreSQL's writing of numbers (`1e-07` reads `0.0000001`).

Only where it holds: PostgreSQL, aware date-times (USE_TZ) in the current time zone UTC (elsewhere the
offset of each value would have to match Python's reading of the time zone database), the JSON renderer
without indentation, and flat serializers of the field kinds below (`plain.columns` refuses the others).
Anything else takes the general path.
"""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connections
from django.db.models import Model, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.settings import api_settings

from annotator.api import plain

if TYPE_CHECKING:
    from rest_framework.pagination import BasePagination
    from rest_framework.request import Request

# The column of each row's JSON text.
ROW = "row_json"

_expressions: dict[tuple[type[Any], type[Model], str], str | None] = {}
_lock = threading.Lock()


def _string(column: str) -> str:
    return f"COALESCE(to_json({column})::text, 'null')"


def _integer(column: str) -> str:
    return f"COALESCE({column}::text, 'null')"


def _document(column: str) -> str:
    return f"COALESCE({column}::text, 'null')"


def _utc_datetime(column: str) -> str:
    """ISO 8601 in UTC as Python's `isoformat` writes it (no fraction when the microseconds are zero: the
    only ".000000" in this format is at its end), with DRF's `Z` for +00:00."""
    written = f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')"""
    return f"""COALESCE('"' || replace({written}, '.000000', '') || 'Z"', 'null')"""


def _writer(field: Any, model_field: Any) -> Any:
    """How the database writes this serializer field's value as the renderer would, or None."""
    if field is None or type(field) is serializers.IntegerField:  # a key, or a whole number
        return _integer
    if type(field) is serializers.BigIntegerField and not getattr(
        field, "coerce_to_string", api_settings.COERCE_BIGINT_TO_STRING
    ):
        return _integer
    if type(field) is serializers.CharField:
        return _string
    if type(field) is serializers.JSONField and model_field.get_internal_type() == "JSONField":
        return _document
    if plain.iso_datetime(field):
        return _utc_datetime
    return None


def _expression(serializer_class: type[Any], model: type[Model], alias: str) -> str | None:
    """The SQL that writes a row's JSON object (built once per process), or None when a field is of a kind
    not written here."""
    key = (serializer_class, model, alias)
    if key not in _expressions:
        sql = _build(serializer_class, model, connections[alias].ops.quote_name)
        with _lock:
            _expressions[key] = sql
    return _expressions[key]


def _build(serializer_class: type[Any], model: type[Model], quote: Any) -> str | None:
    parts = []
    for name, column, field in plain.shape(serializer_class):
        model_field = model._meta.get_field(column)
        writer = _writer(field, model_field)
        if writer is None:
            return None
        qualified = f"{quote(model._meta.db_table)}.{quote(model_field.column)}"  # type: ignore[union-attr]
        parts.append(f"'{json.dumps(name)}:' || {writer(qualified)}")
    return "'{' || " + " || ',' || ".join(parts) + " || '}'"


def expression(serializer_class: type[Any], model: type[Model], alias: str) -> str | None:
    """The SQL that writes a row's JSON object as `rows` reads it, its columns qualified by the model's
    table; None where the serializer has a field of a kind not written here."""
    return _expression(serializer_class, model, alias)


def applies(request: Request, queryset: QuerySet[Any], serializer_class: type[Any]) -> bool:
    """Whether rows of this queryset, answered to this request, can be written by the database."""
    renderer = getattr(request, "accepted_renderer", None)
    return (
        type(renderer) is JSONRenderer
        and request.accepted_media_type == JSONRenderer.media_type
        and connections[queryset.db].vendor == "postgresql"
        and settings.USE_TZ
        and timezone.get_current_timezone_name() == "UTC"
        and _expression(serializer_class, queryset.model, queryset.db) is not None
    )


def rows(queryset: QuerySet[Any], serializer_class: type[Any]) -> QuerySet[Any]:
    """The queryset as named tuples of its key (by the key's name: the cursor pagination reads it) and its
    JSON text (`ROW`), the last: tuples as the database gives them, not a dict built for each row."""
    expression = _expression(serializer_class, queryset.model, queryset.db)
    assert expression is not None
    key = queryset.model._meta.pk.name  # type: ignore[union-attr]
    # The SQL names the model's own table and columns, quoted; it takes no values.
    written = queryset.annotate(**{ROW: RawSQL(expression, ())})  # noqa: S611
    return written.values_list(key, ROW, named=True)


def paginated_response(paginator: BasePagination, page: list[Any]) -> Response:
    """What `get_paginated_response` renders for the page (`rows`), its results written by the database."""
    links = {"next": paginator.get_next_link(), "previous": paginator.get_previous_link()}  # type: ignore[attr-defined]
    head = json.dumps(links, ensure_ascii=False, separators=(",", ":"))[:-1]
    body = f'{head},"results":[{",".join(row[-1] for row in page)}]}}'
    return WrittenResponse(body.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").encode())


class WrittenResponse(Response):
    """An answer whose JSON is written already: the JSON renderer's part (`applies` checked that it was
    the one chosen) is done. The rest of DRF's handling of an answer (its headers) applies as usual."""

    def __init__(self, body: bytes) -> None:
        super().__init__()
        self.body = body

    @property
    def rendered_content(self) -> bytes:  # type: ignore[override]  # DRF's gives bytes too
        self["Content-Type"] = JSONRenderer.media_type
        return self.body
