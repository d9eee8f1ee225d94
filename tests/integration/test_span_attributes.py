"""Span attributes: the schema's definitions, the editing services, copying, import and export (JSONL)."""

import json

import pytest
from django.core.exceptions import ValidationError

from annotator.annotations import services as annotations
from annotator.annotations.models import AnnotationSet, SetKind, Span, SpanAttribute
from annotator.core.errors import InvalidAnnotation, StaleVersion
from annotator.interchange.exports import ExportQuery, export_bytes
from annotator.interchange.formats.sources import BytesSource
from annotator.interchange.options import ImportOptions
from annotator.interchange.services import ImportRejected, import_articles
from annotator.projects.models import AttributeKind, EntityTypeAttribute
from tests.conftest import MINSK, NARYSHKIN, NEWS_TEXT

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(news):
    """PERSON has three attributes, GPE one."""
    return {
        "negated": EntityTypeAttribute.objects.create(
            entity_type=news.person, name="Negated", kind=AttributeKind.BOOLEAN
        ),
        "certainty": EntityTypeAttribute.objects.create(
            entity_type=news.person, name="Certainty", kind=AttributeKind.CHOICE, choices=["sure", "probable"]
        ),
        "role": EntityTypeAttribute.objects.create(
            entity_type=news.person, name="Role", kind=AttributeKind.TEXT
        ),
        "capital": EntityTypeAttribute.objects.create(
            entity_type=news.gpe, name="Capital", kind=AttributeKind.BOOLEAN
        ),
    }


def person_span(news):
    s = news.annotation_set
    return annotations.create_span(
        annotation_set=s, start=NARYSHKIN[0], end=NARYSHKIN[1], entity_type=news.person, by=news.annotator,
        expected_version=s.version,
    )  # fmt: skip


def set_value(news, span, attribute, value):
    s = news.annotation_set
    return annotations.set_span_attribute(
        span=span, attribute=attribute, value=value, by=news.annotator, expected_version=s.version
    )


def values_of(span):
    return dict(SpanAttribute.objects.filter(span=span).values_list("attribute__name", "value"))


# The schema's definitions


@pytest.mark.parametrize(
    ("kind", "choices", "message"),
    [
        (AttributeKind.CHOICE, [], "A one-of-a-list attribute needs at least one value."),
        (AttributeKind.CHOICE, ["a", "a"], "Each value may appear only once."),
        (AttributeKind.CHOICE, ["a", " "], "Each value is a non-empty text."),
        (AttributeKind.BOOLEAN, ["a"], "Only a one-of-a-list attribute has values to choose from."),
    ],
)
def test_definitions_are_checked(news, kind, choices, message):
    attribute = EntityTypeAttribute(entity_type=news.person, name="X", kind=kind, choices=choices)
    with pytest.raises(ValidationError) as caught:
        attribute.clean()
    assert caught.value.message_dict == {"choices": [message]}


# Editing


def test_each_kind_takes_its_values_and_each_change_is_a_version_with_history(news, schema):
    span = person_span(news)
    version = news.annotation_set.version
    set_value(news, span, schema["negated"], True)
    set_value(news, span, schema["certainty"], "probable")
    set_value(news, span, schema["role"], "speaker of the Duma 🇷🇺")
    assert values_of(span) == {"Negated": True, "Certainty": "probable", "Role": "speaker of the Duma 🇷🇺"}
    assert AnnotationSet.objects.get(pk=news.annotation_set.pk).version == version + 3

    set_value(news, span, schema["negated"], False)
    assert values_of(span)["Negated"] is False
    history = SpanAttribute.history.filter(span_id=span.pk).order_by("history_id")
    assert [(h.history_type, h.value, h.history_user_id) for h in history] == [
        ("+", True, news.annotator.pk),
        ("+", "probable", news.annotator.pk),
        ("+", "speaker of the Duma 🇷🇺", news.annotator.pk),
        ("~", False, news.annotator.pk),
    ]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("negated", "yes", "Negated is yes or no (true or false), not 'yes'."),
        ("negated", 1, "Negated is yes or no (true or false), not 1."),
        ("certainty", "maybe", "Certainty is one of 'sure', 'probable', not 'maybe'."),
        ("certainty", True, "Certainty takes a text value, not True."),
        ("role", "   ", "Role needs some text; clear the attribute instead."),
        ("role", "x" * 1001, "Role takes at most 1000 characters."),
        ("capital", True, "Capital is an attribute of GPE, not of PERSON."),
    ],
)
def test_wrong_values_and_other_types_attributes_are_refused_with_nothing_written(
    news, schema, name, value, message
):
    span = person_span(news)
    version = news.annotation_set.version
    with pytest.raises(InvalidAnnotation, match="^" + __import__("re").escape(message) + "$"):
        set_value(news, span, schema[name], value)
    assert values_of(span) == {}
    assert AnnotationSet.objects.get(pk=news.annotation_set.pk).version == version


def test_setting_the_same_value_again_is_refused_and_a_stale_version_writes_nothing(news, schema):
    span = person_span(news)
    set_value(news, span, schema["certainty"], "sure")
    with pytest.raises(InvalidAnnotation, match="^Certainty is already 'sure' on this span.$"):
        set_value(news, span, schema["certainty"], "sure")
    with pytest.raises(StaleVersion):
        annotations.set_span_attribute(
            span=span, attribute=schema["certainty"], value="probable", by=news.annotator,
            expected_version=news.annotation_set.version - 1,
        )  # fmt: skip
    assert values_of(span) == {"Certainty": "sure"}


def test_clearing_a_value(news, schema):
    span = person_span(news)
    set_value(news, span, schema["negated"], True)
    annotations.clear_span_attribute(
        span=span,
        attribute=schema["negated"],
        by=news.annotator,
        expected_version=news.annotation_set.version,
    )
    assert values_of(span) == {}
    with pytest.raises(InvalidAnnotation, match="^The span has no value for Negated.$"):
        annotations.clear_span_attribute(
            span=span, attribute=schema["negated"], by=news.annotator,
            expected_version=news.annotation_set.version,
        )  # fmt: skip


def test_a_new_type_drops_the_old_types_values_and_moving_keeps_them(news, schema):
    span = person_span(news)
    set_value(news, span, schema["negated"], True)
    s = news.annotation_set
    annotations.change_span(span=span, end=NARYSHKIN[1] - 1, by=news.annotator, expected_version=s.version)
    assert values_of(span) == {"Negated": True}
    annotations.change_span(span=span, entity_type=news.org, by=news.annotator, expected_version=s.version)
    assert values_of(span) == {}
    assert SpanAttribute.history.filter(span_id=span.pk, history_type="-").count() == 1


def test_deleting_a_span_deletes_its_values_with_history(news, schema):
    span = person_span(news)
    set_value(news, span, schema["negated"], True)
    span_id = span.pk
    annotations.delete_span(span=span, by=news.annotator, expected_version=news.annotation_set.version)
    assert not SpanAttribute.objects.filter(span_id=span_id).exists()
    assert SpanAttribute.history.filter(span_id=span_id, history_type="-").count() == 1


def test_promoting_to_gold_copies_attribute_values(news, schema):
    news.project.promote_to_gold = True
    news.project.save()
    span = person_span(news)
    set_value(news, span, schema["certainty"], "probable")
    annotations.submit_set(
        annotation_set=news.annotation_set, by=news.annotator, expected_version=news.annotation_set.version
    )
    gold_span = Span.objects.get(annotation_set__article=news.article, annotation_set__kind=SetKind.GOLD)
    assert values_of(gold_span) == {"Certainty": "probable"}


# Import and export (JSON Lines)


def jsonl(*records):
    return ("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n").encode()


def import_jsonl(news, data, **options):
    """Into the gold set, so that the default export (gold) shows it."""
    return import_articles(
        project=news.project,
        source=BytesSource("attrs.jsonl", data),
        options=ImportOptions(format="jsonl", set_kind="gold", **options),
        by=news.manager,
    )


RECORD = {
    "external_id": "a-1",
    "text": NEWS_TEXT,
    "entities": [
        {
            "id": "T1",
            "start": 0,
            "end": 16,
            "label": "PERSON",
            "attributes": {"Negated": False, "Certainty": "sure"},
        },
        {"id": "T2", "start": MINSK[0], "end": MINSK[1], "label": "GPE", "attributes": {"Capital": True}},
    ],
}


def exported(news):
    lines = b"".join(export_bytes(news.project, ExportQuery())).splitlines()
    return [json.loads(line) for line in lines]


def test_jsonl_attributes_import_into_the_schemas_attributes_and_export_again(news, schema):
    result = import_jsonl(news, jsonl(RECORD))
    assert result.attributes == 3
    assert "3 attribute values" in result.summary()
    imported = AnnotationSet.objects.get(kind=SetKind.GOLD, article__external_id="a-1")
    rows = SpanAttribute.objects.filter(span__annotation_set=imported).order_by(
        "span__start", "attribute__name"
    )
    assert [(r.span.surface, r.attribute.name, r.value) for r in rows] == [
        ("Sergey Naryshkin", "Certainty", "sure"),
        ("Sergey Naryshkin", "Negated", False),
        ("Minsk", "Capital", True),
    ]
    assert SpanAttribute.history.filter(history_type="+").count() == 3
    line = next(line for line in exported(news) if line["external_id"] == "a-1")
    assert [e.get("attributes") for e in line["entities"]] == [
        {"Certainty": "sure", "Negated": False},
        {"Capital": True},
    ]


def test_an_attribute_the_schema_lacks_is_an_error_naming_the_entity(news, schema):
    record = {
        **RECORD,
        "entities": [{"id": "T1", "start": 0, "end": 16, "label": "PERSON", "attributes": {"Age": "50"}}],
    }
    with pytest.raises(ImportRejected) as caught:
        import_jsonl(news, jsonl(record))
    assert [(p["line"], p["field"], p["message"]) for p in caught.value.problems] == [
        (
            1,
            "entities[T1].attributes.Age",
            "Unknown attribute 'Age' of PERSON (its attributes: Certainty, Negated, Role). Add it to the schema, "
            "or let the import create the types it finds.",
        )
    ]
    assert not SpanAttribute.objects.exists()


def test_a_value_the_attribute_cannot_take_is_an_error(news, schema):
    record = {
        **RECORD,
        "entities": [{"start": 0, "end": 16, "label": "PERSON", "attributes": {"Certainty": "maybe"}}],
    }
    with pytest.raises(ImportRejected) as caught:
        import_jsonl(news, jsonl(record))
    assert [(p["field"], p["message"]) for p in caught.value.problems] == [
        ("entities[0].attributes.Certainty", "Certainty is one of 'sure', 'probable', not 'maybe'.")
    ]


def test_creating_types_creates_attributes_from_their_values(news):
    records = [
        {"external_id": "a", "text": NEWS_TEXT, "entities": [
            {"start": 0, "end": 16, "label": "PERSON", "attributes": {"Negated": True, "Certainty": "sure"}}]},
        {"external_id": "b", "text": NEWS_TEXT + " ", "entities": [
            {"start": 0, "end": 16, "label": "PERSON", "attributes": {"Certainty": "probable"}}]},
    ]  # fmt: skip
    result = import_jsonl(news, jsonl(*records), create_types=True)
    assert result.attributes_created == ["PERSON.Certainty", "PERSON.Negated"]
    assert "new attributes: PERSON.Certainty, PERSON.Negated" in result.summary()
    created = {
        a.name: (a.kind, a.choices) for a in EntityTypeAttribute.objects.filter(entity_type=news.person)
    }
    assert created == {"Negated": ("boolean", []), "Certainty": ("choice", ["sure", "probable"])}


def test_reimporting_with_update_brings_values_to_the_record(news, schema):
    import_jsonl(news, jsonl(RECORD))
    changed = {**RECORD, "entities": [
        {"id": "T1", "start": 0, "end": 16, "label": "PERSON", "attributes": {"Negated": True, "Role": "envoy"}},
        {"id": "T2", "start": MINSK[0], "end": MINSK[1], "label": "GPE"},
        {"id": "T3", "start": 34, "end": 42, "label": "PERSON", "attributes": {"Certainty": "probable"}},
    ]}  # fmt: skip
    result = import_jsonl(news, jsonl(changed), on_duplicate="update")
    assert result.updated == 1
    imported = AnnotationSet.objects.get(kind=SetKind.GOLD, article__external_id="a-1")
    rows = SpanAttribute.objects.filter(span__annotation_set=imported).order_by(
        "span__start", "attribute__name"
    )
    assert [(r.span.start, r.attribute.name, r.value) for r in rows] == [
        (0, "Negated", True),
        (0, "Role", "envoy"),
        (34, "Certainty", "probable"),
    ]
    again = import_jsonl(news, jsonl(changed), on_duplicate="update")
    assert again.unchanged == 1
