"""Span attributes in the native JSON Lines format: read, checked, written back unchanged."""

import json

import pytest

from annotator.interchange.formats import FORMATS
from annotator.interchange.formats.base import DocumentRecord, ProblemLog, SpanRecord
from annotator.interchange.formats.sources import BytesSource


def read(lines):
    problems = ProblemLog()
    data = ("\n".join(json.dumps(line) for line in lines) + "\n").encode()
    records = list(FORMATS.reader("jsonl").read(BytesSource("a.jsonl", data), problems, {}))
    return records, [(p.line, p.field, p.message) for p in problems.items]


def entity(**attributes):
    return {
        "text": "Ann met Bob.",
        "entities": [{"start": 0, "end": 3, "label": "PER", "attributes": attributes}],
    }


def test_attributes_are_read_as_sorted_pairs():
    records, problems = read([entity(Negated=False, Certainty="probable")])
    assert problems == []
    assert records[0].spans[0].attributes == (("Certainty", "probable"), ("Negated", False))


@pytest.mark.parametrize(
    ("attributes", "field", "message"),
    [
        (
            {"Age": 50},
            "entities[0].attributes.Age",
            "An attribute value is true, false or a text, not a number.",
        ),
        (
            {"Age": None},
            "entities[0].attributes.Age",
            "An attribute value is true, false or a text, not null.",
        ),
        (
            {"Role": " "},
            "entities[0].attributes.Role",
            "An attribute's text is empty: leave the attribute out.",
        ),
        ({"": True}, "entities[0].attributes", "An attribute needs a name."),
    ],
)
def test_bad_attributes_are_reported_where_they_are(attributes, field, message):
    records, problems = read([entity(**attributes)])
    assert records == []
    assert problems == [(1, field, message)]


def test_attributes_that_are_not_an_object_are_reported():
    line = {"text": "Ann.", "entities": [{"start": 0, "end": 3, "label": "PER", "attributes": ["Negated"]}]}
    records, problems = read([line])
    assert records == []
    assert problems == [(1, "entities[0].attributes", "'attributes' must be an object, not a list.")]


def test_the_writer_writes_what_the_reader_reads():
    record = DocumentRecord(
        text="Ann met Bob.",
        annotated=True,
        spans=(SpanRecord("T1", 0, 3, "PER", "Ann", attributes=(("Certainty", "sure"), ("Negated", True))),),
    )
    written = b"".join(FORMATS.writer("jsonl").write([record]))
    assert json.loads(written)["entities"][0]["attributes"] == {"Certainty": "sure", "Negated": True}
    again, problems = read([json.loads(written)])
    assert problems == []
    assert again[0].spans == record.spans
