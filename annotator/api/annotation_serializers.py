"""How articles, annotation sets and their contents look in the API. Offsets are Unicode code points."""

from __future__ import annotations

import re
from typing import Any

from django.http import QueryDict
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from annotator.annotations.models import AnnotationSet, EntityLink, Relation, Span
from annotator.api import plain
from annotator.articles.models import Article
from annotator.core.offsets import OFFSET_MAX, OffsetError, parse_offset
from annotator.suggestions.models import Decision, Verdict

OFFSETS = "Half-open Unicode code point offsets into the article text, as Python slices it."
OFFSET_RULE = (
    'A JSON integer from 0 to 2147483647: a string such as "12" is refused (form bodies send digits).'
)


class ArticleSerializer(serializers.ModelSerializer[Article]):
    class Meta:
        model = Article
        fields = [
            "id",
            "project",
            "external_id",
            "title",
            "metadata",
            "content_hash",
            "created_at",
            "updated_at",
        ]


class ArticleDetailSerializer(ArticleSerializer):
    class Meta(ArticleSerializer.Meta):
        fields = [*ArticleSerializer.Meta.fields, "text"]


class LinkSerializer(serializers.ModelSerializer[EntityLink]):
    kb_id = serializers.CharField(source="kb_entity.kb_id", allow_null=True, default=None, read_only=True)
    name = serializers.CharField(source="kb_entity.name", allow_null=True, default=None, read_only=True)
    nil = serializers.BooleanField(source="is_nil", read_only=True, help_text="Known not to be in the KB.")

    class Meta:
        model = EntityLink
        fields = ["kb_entity", "kb_id", "name", "nil"]


class SpanSerializer(serializers.ModelSerializer[Span]):
    type = serializers.CharField(source="entity_type.name", read_only=True)
    text = serializers.CharField(source="surface", read_only=True, help_text="Equals text[start:end].")
    link = serializers.SerializerMethodField()

    class Meta:
        model = Span
        fields = ["id", "start", "end", "type", "entity_type", "text", "link"]
        extra_kwargs = {"start": {"help_text": OFFSETS}}

    @extend_schema_field(LinkSerializer(allow_null=True))
    def get_link(self, span: Span) -> dict[str, Any] | None:
        link = getattr(span, "link", None)
        return None if link is None else LinkSerializer(link).data


class RelationSerializer(serializers.ModelSerializer[Relation]):
    type = serializers.CharField(source="relation_type.name", read_only=True)

    class Meta:
        model = Relation
        fields = ["id", "head", "tail", "type", "relation_type"]


class DecisionSerializer(serializers.ModelSerializer[Decision]):
    class Meta:
        model = Decision
        fields = ["id", "suggestion", "verdict", "span", "relation", "link", "result", "created_at"]


class AnnotationSetSerializer(serializers.ModelSerializer[AnnotationSet]):
    annotator = serializers.CharField(
        source="annotator.username", allow_null=True, default=None, read_only=True
    )

    class Meta:
        model = AnnotationSet
        fields = [
            "id",
            "article",
            "kind",
            "name",
            "annotator",
            "status",
            "version",
            "guideline_version",
            "updated_at",
        ]


class AnnotationSetDetailSerializer(AnnotationSetSerializer):
    spans = SpanSerializer(many=True, read_only=True)
    relations = RelationSerializer(many=True, read_only=True)

    class Meta(AnnotationSetSerializer.Meta):
        fields = [*AnnotationSetSerializer.Meta.fields, "spans", "relations"]


# Requests

# The largest id a database row can have (a 64-bit signed key): a bigger number in a body is a 400,
# not an integer overflow inside the database driver (a 500).
ID_MAX = 2**63 - 1


class IdField(serializers.IntegerField):
    """An id of a row named in a request body."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(min_value=1, max_value=ID_MAX, **kwargs)


class OffsetField(serializers.IntegerField):
    """A code point offset in a request body. Every span write takes its offsets through this field, so
    any number, whatever its size or type, is a 400 naming the field (core.offsets.parse_offset)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", OFFSET_RULE)
        super().__init__(min_value=0, max_value=OFFSET_MAX, **kwargs)

    def to_internal_value(self, data: Any) -> int:
        # Form and multipart bodies carry every value as text; a JSON body says which type it means.
        from_form = isinstance(getattr(self.root, "initial_data", None), QueryDict)
        try:
            return parse_offset(data, name=self.field_name or "offset", text=from_form)
        except OffsetError as error:
            raise serializers.ValidationError(str(error), code="invalid") from None


class SpanCreateSerializer(serializers.Serializer):
    start = OffsetField(help_text=f"{OFFSETS} {OFFSET_RULE}")
    end = OffsetField()
    type = serializers.CharField(help_text="The entity type's name, e.g. PERSON.")
    text = serializers.CharField(
        required=False,
        trim_whitespace=False,
        help_text="If given, must equal text[start:end] (a safety check).",
    )


class SpanChangeSerializer(serializers.Serializer):
    start = OffsetField(required=False)
    end = OffsetField(required=False)
    type = serializers.CharField(required=False)
    text = serializers.CharField(required=False, trim_whitespace=False)


class LinkWriteSerializer(serializers.Serializer):
    kb_entity = IdField(
        allow_null=True, help_text="A KB entity of the project; null marks the span NIL (not in the KB)."
    )


class RelationCreateSerializer(serializers.Serializer):
    head = IdField(help_text="A span of this set.")
    tail = IdField(help_text="A span of this set.")
    type = serializers.CharField(
        help_text="The relation type's name; the schema must allow it for the two spans."
    )


class DecisionCreateSerializer(serializers.Serializer):
    suggestion = IdField()
    verdict = serializers.ChoiceField(choices=Verdict.choices)
    start = OffsetField(required=False, help_text=f"Corrected entities: new start. {OFFSET_RULE}")
    end = OffsetField(required=False, help_text=f"Corrected entities: new end. {OFFSET_RULE}")
    type = serializers.CharField(required=False, help_text="Corrected entities: another entity type.")
    relation_type = serializers.CharField(
        required=False, help_text="Corrected relations: another relation type."
    )
    kb_entity = IdField(required=False, help_text="Corrected links: another KB entity.")
    nil = serializers.BooleanField(required=False, default=False, help_text="Corrected links: NIL.")


class ErrorSerializer(serializers.Serializer):
    """The one shape of every error the API returns."""

    class ErrorBody(serializers.Serializer):
        code = serializers.CharField()
        message = serializers.CharField()
        # DRF's metaclass moves declared fields off the class, so this name does not shadow `.fields`.
        fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))  # type: ignore[assignment]
        retry_after = serializers.IntegerField(
            required=False, help_text="429 only: seconds to wait, as in the Retry-After header."
        )

    error = ErrorBody()


# The hot writes (a span, a decision) read and answer these shapes many times a second. A serializer
# costs about a millisecond of Python each way (a ModelSerializer builds its fields from the model on
# every use); these functions give the same results for the usual bodies and objects, and leave every
# other body to the serializer, so that every refusal is still the serializer's, word for word.
# tests/integration/test_request_path.py compares them with the serializers.

_SURROGATES = re.compile("[\ud800-\udfff]")
_DATETIME = serializers.DateTimeField()


def _offset(value: object) -> bool:
    return type(value) is int and 0 <= value <= OFFSET_MAX


def _id(value: object) -> bool:
    return type(value) is int and 1 <= value <= ID_MAX


def _char(value: object) -> bool:
    """A string a CharField takes as it is (no null or surrogate characters)."""
    return type(value) is str and "\x00" not in value and _SURROGATES.search(value) is None


def span_create_data(data: object) -> dict[str, Any] | None:
    """`SpanCreateSerializer(data=data).validated_data` for a JSON body it accepts, or None: ask it."""
    if type(data) is not dict:
        return None  # a form body: every value is text, the serializer's business
    start, end, name = data.get("start"), data.get("end"), data.get("type")
    if not (_offset(start) and _offset(end) and _char(name)):
        return None
    name = name.strip()  # type: ignore[union-attr]
    if not name:
        return None
    found: dict[str, Any] = {"start": start, "end": end, "type": name}
    if "text" in data:
        if not (_char(data["text"]) and data["text"]):
            return None
        found["text"] = data["text"]
    return found


def decision_create_data(data: object) -> dict[str, Any] | None:
    """`DecisionCreateSerializer(data=data).validated_data` for an accepting or rejecting JSON body, or
    None: ask it (a correction, or anything it may refuse)."""
    if type(data) is not dict or not data.keys() <= {"suggestion", "verdict"}:
        return None
    suggestion, verdict = data.get("suggestion"), data.get("verdict")
    if not (_id(suggestion) and verdict in (Verdict.ACCEPTED.value, Verdict.REJECTED.value)):
        return None
    return {"suggestion": suggestion, "verdict": verdict, "nil": False}


def span_data(span: Span) -> dict[str, Any]:
    """`SpanSerializer(span).data`."""
    link = getattr(span, "link", None)
    return {
        "id": span.pk,
        "start": span.start,
        "end": span.end,
        "type": span.entity_type.name,
        "entity_type": span.entity_type_id,
        "text": span.surface,
        "link": None if link is None else LinkSerializer(link).data,
    }


def decision_data(decision: Decision) -> dict[str, Any]:
    """`DecisionSerializer(decision).data`."""
    return {
        "id": decision.pk,
        "suggestion": decision.suggestion_id,
        "verdict": decision.verdict,
        "span": decision.span_id,
        "relation": decision.relation_id,
        "link": decision.link_id,
        "result": decision.result,
        "created_at": decision_created_at(decision.created_at),
    }


def decision_created_at(moment: Any) -> Any:
    """A decision's `created_at` as DecisionSerializer writes it."""
    return plain.datetime_text(_DATETIME, moment)
