"""An annotation set's spans (with their links) and relations as the API answers them, read as plain rows.

`AnnotationSetDetailSerializer` over prefetched spans built a model instance for each span, its type, its
link and the link's KB entity, then walked DRF's nested serializers field by field: for 50 spans, about
half of the CPU of `GET /api/v1/sets/{id}/`, more than doccano spends on the same read. Here one query per
kind reads the columns the answer shows, and the dicts are `SpanSerializer`'s and `RelationSerializer`'s
(`tests/integration/test_i26saves_set_detail.py` compares them), in the order the prefetches gave:
spans by start, end and id, relations by id.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from annotator.annotations.models import Relation, Span
from annotator.core.compiled import CompiledQuery

_SPAN_COLUMNS = (
    "id", "start", "end", "entity_type__name", "entity_type_id", "surface",
    "link__id", "link__kb_entity_id", "link__kb_entity__kb_id", "link__kb_entity__name",
)  # fmt: skip
_RELATION_COLUMNS = ("id", "head_id", "tail_id", "relation_type__name", "relation_type_id")


@CompiledQuery
def _span_rows(set_id: int) -> QuerySet[Span, tuple[Any, ...]]:
    return (
        Span.objects.filter(annotation_set_id=set_id)
        .order_by("start", "end", "id")
        .values_list(*_SPAN_COLUMNS)
    )


@CompiledQuery
def _relation_rows(set_id: int) -> QuerySet[Relation, tuple[Any, ...]]:
    return Relation.objects.filter(annotation_set_id=set_id).order_by("id").values_list(*_RELATION_COLUMNS)


def spans_data(set_id: int) -> list[dict[str, Any]]:
    """`SpanSerializer(spans, many=True).data` for the set's spans."""
    return [
        {
            "id": span_id, "start": start, "end": end, "type": type_name, "entity_type": type_id, "text": surface,
            "link": None if link_id is None else {
                "kb_entity": kb_entity_id, "kb_id": kb_id, "name": name, "nil": kb_entity_id is None,
            },
        }
        for span_id, start, end, type_name, type_id, surface, link_id, kb_entity_id, kb_id, name
        in _span_rows(set_id=set_id)
    ]  # fmt: skip


def relations_data(set_id: int) -> list[dict[str, Any]]:
    """`RelationSerializer(relations, many=True).data` for the set's relations."""
    return [
        {"id": relation_id, "head": head, "tail": tail, "type": type_name, "relation_type": type_id}
        for relation_id, head, tail, type_name, type_id in _relation_rows(set_id=set_id)
    ]
