"""The JSON Lines export's byte-level pieces: an article's text written from its UTF-8 bytes
(`json_text.json_string`) and a plain set's entities numbered in one template (`span_json.entities_json`)
make exactly what orjson and the split-and-join way made."""

from itertools import chain, repeat

import orjson
import pytest

from annotator.interchange.json_text import json_string
from annotator.interchange.span_json import PlainSpans, SpanTypes, entities_json, span_types

TEXTS = [
    "",
    "Minsk and Vilnius.",
    "Two\nparagraphs\n\nand a\r\nCRLF and a\ttab",
    'He said "no" \\ twice',
    "\x01 start, \x1f end, \x0b vertical tab, \x08 backspace, \x0c form feed",
    "\x7f DEL, / slash, \u2028 and \u2029 separators, \ufeff BOM",
    "👩\u200d👩\u200d👧 مرحبا é ß 中文 — “curly” quotes",
    "%d %s %b %% percent signs",
]


@pytest.mark.parametrize("text", TEXTS + [chr(code) for code in range(1, 128)])
def test_a_text_from_its_bytes_is_the_json_string_orjson_writes(text):
    assert json_string(text.encode()) == orjson.dumps(text)


def test_every_ascii_character_in_one_text_and_with_a_line_break_only():
    every = "".join(map(chr, range(1, 128))) + " é 👩"
    assert json_string(every.encode()) == orjson.dumps(every)
    no_other_control = "".join(c for c in every if ord(c) >= 32 or c in "\t\n\r")
    assert json_string(no_other_control.encode()) == orjson.dumps(no_other_control)
    assert json_string(b'a\\"b\n') == b'"a\\\\\\"b\\n"'  # the backslash first: added ones stay single


def split_and_join(spans: bytes, provenance: bytes) -> bytes:
    """How entities_json made the array before (stop 28), the reference for the template's bytes."""
    if not spans:
        return b"[]"
    bodies = spans.split(b"\x1f")
    ids = [b'{"id":"T%d' % number for number in range(1, len(bodies) + 1)]
    tail = b',"provenance":' + provenance + b"},"
    return b"[" + b"".join(chain.from_iterable(zip(ids, bodies, repeat(tail))))[:-1] + b"]"


def body(start: int, end: int, label: str, text: str) -> bytes:
    return b'","start":%d,"end":%d,"label":%b,"text":%b' % (
        start,
        end,
        orjson.dumps(label),
        orjson.dumps(text),
    )


@pytest.mark.parametrize("count", [1, 2, 49, 1025, 1026, 3000])
def test_a_plain_sets_entities_are_numbered_from_t1_in_order_with_their_provenance(count):
    labels, texts = ["%d %s%%" if at % 7 == 0 else "GPE" for at in range(count)], ["%b%", "x", "y", "z", "%"]
    bodies = [body(at, at + 1, labels[at], texts[at % 5]) for at in range(count)]
    spans = b"\x1f".join(bodies)
    stamp = {"created_by": "maria", "created_at": "2026-12-07T23:00:00.5+00:00"}
    provenance = orjson.dumps(stamp)
    made = entities_json(PlainSpans(None, "", spans, count), provenance)
    assert made == split_and_join(spans, provenance)
    entities = orjson.loads(made)
    assert [entity["id"] for entity in entities] == [f"T{number}" for number in range(1, count + 1)]
    assert entities[0] == {
        "id": "T1",
        "start": 0,
        "end": 1,
        "label": "%d %s%%",
        "text": "%b%",
        "provenance": stamp,
    }
    assert entities[-1]["start"] == count - 1


def test_a_provenance_with_a_percent_sign_and_a_set_without_spans():
    spans = body(0, 5, "GPE", "Minsk") + b"\x1f" + body(10, 17, "GPE", "Vilnius")
    provenance = b'{"created_by":"100%d","created_at":null}'
    assert entities_json(PlainSpans(None, "", spans, 2), provenance) == split_and_join(spans, provenance)
    assert entities_json(PlainSpans(None, "", b"", 0), provenance) == b"[]"


def test_span_types_are_in_code_point_order_with_the_label_json_orjson_writes():
    types = span_types({7: "b", 3: "Z", 12: "É", 5: 'q"uote\\', 9: "\u2028sep"})
    # By code point: "Z" < "b" < 'q"' < "É" < "\u2028" (not by id, nor by a collation).
    assert types.ids == "{3,7,5,12,9}"
    assert types.labels[0] == ',"label":"Z","text":'
    assert types.labels[2] == ',"label":"q\\"uote\\\\","text":'
    assert span_types({}) == SpanTypes("{}", [])
