"""File shapes real tools write: JSON that is not one object per line, UTF-16 text, and CoNLL in every
tagging scheme and column layout, each read into exact records (and CoNLL round-tripped)."""

import json

import pytest

from annotator.interchange.formats.base import DocumentRecord, FormatError, Problem, SpanRecord, Where
from tests.unit.test_export_formats import export, read_back
from tests.unit.test_import_formats import read

TEXT = "Naryshkin visited Minsk."


def test_a_pretty_printed_object_several_or_a_json_array_are_read_as_what_they_are():
    line = {"external_id": "a1", "text": TEXT, "entities": [{"start": 0, "end": 9, "label": "PERSON"}]}
    other = {"external_id": "a2", "text": "Minsk."}
    expected = [
        DocumentRecord(text=TEXT, external_id="a1", annotated=True, spans=(SpanRecord("0", 0, 9, "PERSON"),)),
        DocumentRecord(text="Minsk.", external_id="a2"),
    ]
    for data in (
        (json.dumps(line, indent=2) + "\n" + json.dumps(other, indent=2)).encode(),
        json.dumps([line, other], indent=2).encode(),
        b"\xef\xbb\xbf" + json.dumps([line, other]).encode(),
    ):
        records, problems = read("jsonl", "pretty.jsonl", data)
        assert (records, problems) == (expected, [])
        assert records[1].where == Where("pretty.jsonl", None, "[1]")
    records, problems = read(
        "doccano", "d.json", json.dumps([{"text": TEXT, "label": [[0, 9, "PER"]]}]).encode()
    )
    assert [(r.text, r.spans) for r in records] == [(TEXT, (SpanRecord("0", 0, 9, "PER"),))]


def test_a_json_array_with_a_bad_item_or_cut_short_says_so():
    records, problems = read("jsonl", "a.json", b'[{"text": "One."}, 5, {"text": "Tw')
    assert [r.text for r in records] == ["One."]
    assert problems == [
        Problem("a.json", None, "[1]", "Each item must be a JSON object, not a number."),
        Problem("a.json", None, "[2]",
                "The JSON cannot be read past this item: the file ends in the middle of the JSON: it looks cut short."),
    ]  # fmt: skip


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "conll", "text"])
def test_a_utf16_file_gets_one_clear_message(fmt):
    records, problems = read(fmt, f"u.{fmt}", "text,title\nMinsk,City\n".encode("utf-16"))
    assert records == []
    assert [p.message for p in problems] == [
        "The file is UTF-16 text, not UTF-8: save it as UTF-8 and import it again."
    ]


SCHEMES = {
    "IOB1": "Sergey I-PER\nNaryshkin I-PER\nmet I-PER\nB I-LOC\nMinsk B-LOC\nand O\nVitebsk I-LOC\n",
    "IOB2": "Sergey B-PER\nNaryshkin I-PER\nmet B-PER\nB B-LOC\nMinsk B-LOC\nand O\nVitebsk B-LOC\n",
    "IOBES": "Sergey B-PER\nNaryshkin E-PER\nmet S-PER\nB S-LOC\nMinsk S-LOC\nand O\nVitebsk S-LOC\n",
    "BILOU": "Sergey B-PER\nNaryshkin L-PER\nmet U-PER\nB U-LOC\nMinsk U-LOC\nand O\nVitebsk U-LOC\n",
}
# IOB1's I-PER after a finished I-PER span continues it: "Sergey Naryshkin met" is one PER there.
SPANS = [(0, 16, "PER"), (17, 20, "PER"), (21, 22, "LOC"), (23, 28, "LOC"), (33, 40, "LOC")]


@pytest.mark.parametrize("scheme", SCHEMES)
def test_each_tagging_scheme_reads_the_same_entities_and_round_trips(scheme):
    records, problems = read("conll", "s.conll", SCHEMES[scheme].encode())
    assert problems == []
    (record,) = records
    assert record.text == "Sergey Naryshkin met B Minsk and Vitebsk"
    expected = [(0, 20, "PER"), *SPANS[2:]] if scheme == "IOB1" else SPANS
    assert [(s.start, s.end, s.label) for s in record.spans] == expected
    for span in record.spans:
        assert record.text[span.start : span.end].strip() == record.text[span.start : span.end]
    (back,) = read_back("conll", export("conll", record))
    assert (back.text, [(s.start, s.end, s.label) for s in back.spans]) == (record.text, expected)


def test_options_name_the_token_and_tag_columns_and_comments_are_skipped():
    data = "# text = Minsk is big\nx\tMinsk\tB-LOC\tNNP\ny\tis\tO\tVBZ\n# a note\nz\tbig\tO\tJJ\n"
    records, problems = read("conll", "c.tsv", data.encode(), token="2", tags="3")
    assert problems == []
    assert [(r.text, [(s.start, s.end, s.label) for s in r.spans]) for r in records] == [
        ("Minsk is big", [(0, 5, "LOC")])
    ]
    with pytest.raises(FormatError, match="The CoNLL tags option names columns by number, from 1"):
        read("conll", "c.tsv", data.encode(), tags="tag")
