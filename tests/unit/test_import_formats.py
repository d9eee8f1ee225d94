"""Every import format reads small samples written here into exact records, and bad input into exact reports.

The sample text has Cyrillic, an emoji ZWJ sequence, a flag (two astral characters) and a CRLF line
break: offsets are code points into the text as the file has it; `prepare()` then moves them to the
stored text, where the \\r is gone.
"""

import io
import json
import zipfile

import pytest

from annotator.interchange.checks import prepare
from annotator.interchange.formats import FORMATS
from annotator.interchange.formats.base import (
    DocumentRecord,
    FormatError,
    Limits,
    LinkRecord,
    Problem,
    ProblemLog,
    RelationRecord,
    SpanRecord,
    Where,
    build_registry,
)
from annotator.interchange.formats.jsonl import JsonLines, quick_document
from annotator.interchange.formats.sources import BytesSource, ZipSource

SRC = "Сергей Нарышкин 👩\u200d👩\u200d👧 met Lukashenko in Minsk 🇧🇾.\r\nThen Vitebsk."
STORED = SRC.replace("\r\n", "\n")
# Code points into SRC: Сергей Нарышкин [0, 15), Lukashenko [26, 36), Minsk [40, 45), Vitebsk [56, 63);
# Vitebsk comes after the \r, so it is at [55, 62) in the stored text.


UNREADABLE = "cannot be read. Save the file as UTF-8."


def read(fmt, name, data, **options):
    problems = ProblemLog()
    records = list(FORMATS.reader(fmt).read(BytesSource(name, data), problems, options))
    return records, problems.items


def zipped(path, files):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return path


def read_zip(fmt, path, **options):
    problems = ProblemLog()
    source = ZipSource(path, path.name, Limits())
    return list(FORMATS.reader(fmt).read(source, problems, options)), problems.items


def stored(record):
    prepared = prepare(record, max_chars=10_000, problems=ProblemLog())
    assert prepared is not None
    return prepared.record


def where(file, line=None, item=None):
    return Where(file, line, item)


# JSONL (native)

JSONL_LINE = {
    "external_id": "a1",
    "title": "Нарышкин в Минске",
    "text": SRC,
    "metadata": {"url": "https://news.example/a1"},
    "entities": [
        {"id": "T1", "start": 0, "end": 15, "label": "PERSON", "text": "Сергей Нарышкин", "kb_id": "Q1"},
        {"start": 40, "end": 45, "label": "GPE", "kb_id": None},
        {"id": "T3", "start": 56, "end": 63, "label": "GPE", "text": "Vitebsk"},
    ],
    "relations": [{"head": "T1", "tail": 1, "label": "visited"}],
}


def test_jsonl_reads_text_ids_annotations_and_links_with_source_offsets():
    data = (
        json.dumps(JSONL_LINE, ensure_ascii=False) + "\n" + json.dumps({"text": "Plain."}) + "\n"
    ).encode()
    records, problems = read("jsonl", "news.jsonl", data)
    assert problems == []
    at = where("news.jsonl", 1)
    assert records == [
        DocumentRecord(
            text=SRC,
            external_id="a1",
            title="Нарышкин в Минске",
            metadata={"url": "https://news.example/a1"},
            annotated=True,
            spans=(
                SpanRecord("T1", 0, 15, "PERSON", "Сергей Нарышкин"),
                SpanRecord("1", 40, 45, "GPE"),
                SpanRecord("T3", 56, 63, "GPE", "Vitebsk"),
            ),
            relations=(RelationRecord("T1", "1", "visited"),),
            links=(LinkRecord("T1", "Q1"), LinkRecord("1", None)),
        ),
        DocumentRecord(text="Plain."),
    ]
    assert (records[0].where, records[1].where, records[0].spans[2].where) == (at, where("news.jsonl", 2), at)
    assert records[1].annotated is False


def test_prepare_normalises_crlf_and_moves_the_offsets_after_it():
    records, _ = read("jsonl", "news.jsonl", json.dumps(JSONL_LINE).encode())
    record = stored(records[0])
    assert record.text == STORED
    assert [(s.start, s.end, record.text[s.start : s.end]) for s in record.spans] == [
        (0, 15, "Сергей Нарышкин"),
        (40, 45, "Minsk"),
        (55, 62, "Vitebsk"),
    ]


def test_the_quick_path_reads_well_formed_lines_exactly_as_the_careful_path():
    lines = [
        JSONL_LINE,
        {"text": "x", "external_id": "b"},
        {"text": "Minsk, Minsk", "entities": [{"start": 0, "end": 5, "label": "GPE", "id": 7}], "relations": []},
        {"text": "ab", "entities": [{"start": 0, "end": 1, "label": "A"}, {"start": 1, "end": 2, "label": "B"}],
         "relations": [{"id": "R1", "head": 0, "tail": 1, "label": "r"}]},
    ]  # fmt: skip
    for line in lines:
        at = where("f.jsonl", 1)
        quick = quick_document(line, at)
        assert quick is not None
        assert quick == JsonLines().document(line, at, ProblemLog())


def test_jsonl_reports_each_bad_line_with_its_number_and_reads_the_good_ones():
    data = b"\n".join(
        [
            b'{"text": "good"}',
            b'{"text": "caf\xe9"}',  # Latin-1, not UTF-8
            b'{"text": "a\x00b"}',  # a raw NUL byte
            b"[1, 2]",
            b'"just a string"',
            b'{"text": "x", "entites": []}',
            b'{"text": 5}',
            b'{"text": "x", "entities": [{"start": "0", "end": 1, "label": "A"}, {"start": 0, "label": "B"}]}',
            b'{"text": "x", "relations": [{"head": "T9", "tail": 0}]}',
            b'{"text": "x", "external_id": ""}',
            b'{"text": "cut sh',  # the last line, truncated
        ]
    )
    records, problems = read("jsonl", "bad.jsonl", data)
    assert [r.text for r in records] == ["good"]
    assert problems == [
        Problem("bad.jsonl", 2, None, f"The text is not UTF-8: byte 0xe9 at column 14 {UNREADABLE}"),
        Problem("bad.jsonl", 3, None, "The line contains a NUL byte at column 12."),
        Problem("bad.jsonl", 4, None, "Each line must be a JSON object, not a list."),
        Problem("bad.jsonl", 5, None, "Each line must be a JSON object, not a string."),
        Problem("bad.jsonl", 6, "entites",
                "Unknown field 'entites'; the fields are: entities, external_id, metadata, provenance, relations, "
                "text, title."),
        Problem("bad.jsonl", 7, "text", "'text' must be a string, not a number."),
        Problem("bad.jsonl", 8, "entities[0].start", "'start' must be a whole number, not a string."),
        Problem("bad.jsonl", 8, "entities[1].end", "The field 'end' is missing."),
        Problem("bad.jsonl", 9, "relations[0].tail", "'tail' is entity number 0, but there are 0."),
        Problem("bad.jsonl", 10, "external_id", "An id cannot be empty."),
        Problem("bad.jsonl", 11, None, "The line ends in the middle of its JSON: the file looks cut short."),
    ]  # fmt: skip


def test_a_line_longer_than_the_record_limit_is_reported_and_skipped_without_reading_it_whole():
    source = BytesSource(
        "big.jsonl", b'{"text": "' + b"x" * 5000 + b'"}\n{"text": "ok"}\n', Limits(max_record_bytes=1000)
    )
    problems = ProblemLog()
    records = list(FORMATS.reader("jsonl").read(source, problems))
    assert [r.text for r in records] == ["ok"]
    assert problems.items == [
        Problem("big.jsonl", 1, None, "The line is longer than 1,000 bytes, the limit for one record.")
    ]


# CSV


def test_csv_maps_columns_keeps_the_others_as_metadata_and_numbers_records_by_their_first_line():
    data = (
        "guid,headline,body,url,empty\r\n"
        'n1,Визит,"Сергей Нарышкин visited Minsk.\r\nSecond line, with a comma.",https://a.example,\r\n'
        'n2,"Quote ""inside""",Short 🇧🇾,https://b.example,x\r\n'
    ).encode()
    records, problems = read("csv", "news.csv", data, text="body", external_id="guid", title="headline")
    assert problems == []
    assert records == [
        DocumentRecord(
            text="Сергей Нарышкин visited Minsk.\r\nSecond line, with a comma.",
            external_id="n1",
            title="Визит",
            metadata={"url": "https://a.example"},
        ),
        DocumentRecord(
            text="Short 🇧🇾",
            external_id="n2",
            title='Quote "inside"',
            metadata={"url": "https://b.example", "empty": "x"},
        ),
    ]
    assert [r.where.line for r in records] == [2, 4]
    assert stored(records[0]).text == "Сергей Нарышкин visited Minsk.\nSecond line, with a comma."


def test_csv_defaults_and_explicit_metadata_columns():
    data = b"id,text,title,source,extra\n7,Hello,T,wire,ignored\n"
    records, _ = read("csv", "a.csv", data, metadata=["source"])
    assert records == [DocumentRecord(text="Hello", external_id="7", title="T", metadata={"source": "wire"})]


def test_csv_reports_wrong_field_counts_bad_bytes_and_an_unclosed_quote():
    data = b'text,title\nok,1\ntoo,many,fields\nbad \xff byte,2\n"never closed,3\nmore text\n'
    records, problems = read("csv", "bad.csv", data)
    assert [r.text for r in records] == ["ok"]
    assert problems == [
        Problem("bad.csv", 3, None, "The row has 3 fields; the header has 2."),
        Problem("bad.csv", 4, None, f"The text is not UTF-8: byte 0xff at column 5 {UNREADABLE}"),
        Problem("bad.csv", 5, None, "A quoted field that starts on line 5 is never closed (the file ends inside it)."),
    ]  # fmt: skip


def test_csv_without_the_text_column_is_refused_at_its_header():
    records, problems = read("csv", "a.csv", b"body,title\nx,y\n")
    assert records == []
    assert problems == [
        Problem("a.csv", 1, "text", "There is no column 'text' for the text (the columns are: body, title).")
    ]


def test_csv_options_are_checked_before_reading():
    with pytest.raises(FormatError, match="The CSV delimiter must be one character"):
        read("csv", "a.csv", b"text\nx\n", delimiter=";;")
    with pytest.raises(FormatError, match="has no option 'columns'"):
        read("csv", "a.csv", b"text\nx\n", columns="x")


# Plain text, zips, archive safety


def test_a_text_file_is_one_article_and_a_zip_holds_one_per_txt_member(tmp_path):
    records, problems = read("text", "note.txt", SRC.encode())
    assert (records, problems) == ([DocumentRecord(text=SRC, external_id="note")], [])
    path = zipped(
        tmp_path / "texts.zip",
        {
            "news/a1.txt": "First 🇧🇾.",
            "news/b2.txt": "Second.",
            "README.md": "not an article",
            "__MACOSX/._a1.txt": "x",
        },
    )
    records, problems = read_zip("text", path)
    assert problems == []
    assert [(r.external_id, r.text, r.where) for r in records] == [
        ("news/a1", "First 🇧🇾.", where("texts.zip:news/a1.txt")),
        ("news/b2", "Second.", where("texts.zip:news/b2.txt")),
    ]


# brat

BRAT_ANN = (
    "T1\tPERSON 0 15\tСергей Нарышкин\r\n"
    "T2\tGPE 40 45\tMinsk\r\n"
    "T3\tORG 26 30;33 36\tLuka nko\r\n"  # discontinuous: two fragments, surface joined by a space
    "T4\tGPE 56 63\tVitebsk\r\n"
    "R1\tvisited Arg1:T1 Arg2:T2\r\n"
    "N1\tReference T1 Wikidata:Q315514\tSergey Naryshkin\r\n"
    "N2\tReference T4 Wikidata:NIL\tVitebsk\r\n"
    "#1\tAnnotatorNotes T1\ta note, kept\r\n"
)


def test_brat_reads_entities_fragments_relations_and_normalisations(tmp_path):
    path = zipped(
        tmp_path / "brat.zip",
        {"doc1.txt": SRC, "doc1.ann": BRAT_ANN, "doc2.txt": "No annotations.", "annotation.conf": ""},
    )
    records, problems = read_zip("brat", path)
    assert problems == []
    assert records == [
        DocumentRecord(
            text=SRC,
            external_id="doc1",
            annotated=True,
            spans=(
                SpanRecord("T1", 0, 15, "PERSON", "Сергей Нарышкин", attributes=(("Note", "a note, kept"),)),
                SpanRecord("T2", 40, 45, "GPE", "Minsk"),
                SpanRecord("T3", 26, 36, "ORG", "Luka nko", fragments=((26, 30), (33, 36))),
                SpanRecord("T4", 56, 63, "GPE", "Vitebsk"),
            ),
            relations=(RelationRecord("T1", "T2", "visited", "R1"),),
            links=(LinkRecord("T1", "Q315514", "Wikidata"), LinkRecord("T4", None, "Wikidata")),
        ),
        DocumentRecord(text="No annotations.", external_id="doc2"),
    ]
    assert records[0].spans[3].where == where("brat.zip:doc1.ann", 4)
    assert [(s.start, s.end, s.fragments) for s in stored(records[0]).spans] == [
        (0, 15, ()), (40, 45, ()), (26, 36, ((26, 30), (33, 36))), (55, 62, ()),
    ]  # fmt: skip


def test_brat_reports_lines_it_cannot_read_by_member_and_line(tmp_path):
    ann = (
        "T1\tPERSON 0 5\tSerge\nE1\tMeeting\nA1\tNegated\nT2\tPERSON zero five\tx\n"
        "R1\tvisited T1 T2\nX1\twhat\n*\tEquiv T1\nA2\tNegated T9\n"
    )
    path = zipped(tmp_path / "b.zip", {"d.txt": "Sergey.", "d.ann": ann, "orphan.ann": "T1\tA 0 1\tx\n"})
    records, problems = read_zip("brat", path)
    # What did parse goes on to the checks (so every problem is named); the import is refused all the same.
    assert [(r.spans, r.relations) for r in records] == [((SpanRecord("T1", 0, 5, "PERSON", "Serge"),), ())]
    assert problems == [
        Problem("b.zip:orphan.ann", None, None, "There is no orphan.txt for these annotations."),
        Problem("b.zip:d.ann", 2, None, "The event E1 needs a trigger and arguments like 'Attack:T1 Target:T2'."),
        Problem("b.zip:d.ann", 3, None, "The attribute A1 needs a name, an annotation and maybe a value."),
        Problem("b.zip:d.ann", 4, None, "The entity T2 needs a type and offsets like 'PERSON 0 16' or 'ORG 0 5;9 12'."),
        Problem("b.zip:d.ann", 5, None, "The relation R1 needs a type and two arguments like 'Arg1:T1 Arg2:T2'."),
        Problem("b.zip:d.ann", 6, None, "This is not a brat annotation line (it starts with 'X')."),
        Problem("b.zip:d.ann", 7, None,
                "An equivalence needs a type and at least two annotations, like 'Equiv T1 T2'."),
        Problem("b.zip:d.ann", 8, None, "The attribute is on T9, which is not an annotation here."),
    ]  # fmt: skip


def test_a_single_brat_file_is_refused_with_a_reason():
    records, problems = read("brat", "doc.ann", b"T1\tA 0 1\tx\n")
    assert (records, problems) == (
        [],
        [
            Problem(
                "doc.ann", None, None, "brat documents are pairs of .txt and .ann files: upload them zipped."
            )
        ],
    )


# CoNLL / IOB


def test_conll_2003_and_iob2_rebuild_the_text_and_the_entities():
    data = (
        "-DOCSTART- -X- -X- O\n\n"
        "Sergey NNP B-NP I-PER\nNaryshkin NNP I-NP I-PER\nvisited VBD B-VP O\nMinsk NNP B-NP I-LOC\n. . O O\n\n"
        "Then RB B-ADVP O\nVitebsk NNP B-NP B-LOC\n\n"
        "-DOCSTART- -X- -X- O\n\n"
        "Лукашенко B-PER\nи O\nНарышкин B-PER\n"
    ).encode()
    records, problems = read("conll", "train.conll", data)
    assert problems == []
    assert records == [
        DocumentRecord(
            text="Sergey Naryshkin visited Minsk .\nThen Vitebsk",
            annotated=True,
            spans=(
                SpanRecord("T1", 0, 16, "PER"),
                SpanRecord("T2", 25, 30, "LOC"),
                SpanRecord("T3", 38, 45, "LOC"),
            ),
        ),
        DocumentRecord(
            text="Лукашенко и Нарышкин",
            annotated=True,
            spans=(SpanRecord("T1", 0, 9, "PER"), SpanRecord("T2", 12, 20, "PER")),
        ),
    ]
    assert records[0].spans[0].where == where("train.conll", 3)


def test_conll_reports_bad_tags_and_drops_only_their_document():
    records, problems = read("conll", "t.iob", b"-DOCSTART- O\n\nA B-X\nB Z-X\n\n-DOCSTART- O\n\nC B-Y\n")
    assert [r.text for r in records] == ["C"]
    assert problems == [
        Problem(
            "t.iob",
            4,
            None,
            "The tag 'Z-X' is not O or PREFIX-TYPE with B, I, E, L, S or U (IOB1, IOB2, IOBES, BILOU) "
            "(the last column holds the tag).",
        )
    ]


# spaCy DocBin


def test_docbin_reads_entities_span_groups_kb_ids_and_user_data():
    from spacy.tokens import Doc, DocBin, Span
    from spacy.vocab import Vocab

    vocab = Vocab()
    doc = Doc(
        vocab, words=["Sergey", "Naryshkin", "visited", "Minsk", "🇧🇾"], spaces=[True, True, True, True, False]
    )
    doc.ents = [Span(doc, 0, 2, label="PERSON", kb_id="Q315514"), Span(doc, 3, 4, label="GPE", kb_id="NIL")]
    doc.spans["sc"] = [Span(doc, 0, 2, label="PERSON"), Span(doc, 1, 2, label="SURNAME")]
    doc.user_data.update({"external_id": "d1", "title": "Visit", "metadata": {"source": "tass"}})
    data = DocBin(store_user_data=True, docs=[doc]).to_bytes()
    records, problems = read("spacy", "corpus.spacy", data)
    assert problems == []
    at = where("corpus.spacy", item="docs[0]")
    assert records == [
        DocumentRecord(
            text="Sergey Naryshkin visited Minsk 🇧🇾",
            external_id="d1",
            title="Visit",
            metadata={"source": "tass"},
            annotated=True,
            spans=(
                SpanRecord("T1", 0, 16, "PERSON"),
                SpanRecord("T2", 7, 16, "SURNAME"),
                SpanRecord("T3", 25, 30, "GPE"),
            ),
            links=(LinkRecord("T1", "Q315514"), LinkRecord("T3", None)),
            where=at,
        )
    ]
    assert records[0].where == at


def test_docbin_that_is_not_one_is_reported():
    records, problems = read("spacy", "x.spacy", b"not msgpack at all")
    assert records == []
    assert problems == [
        Problem(
            "x.spacy", None, None,
            "This is not a spaCy DocBin that can be read: It is not zlib-compressed as a DocBin is (Error -3 "
            "while decompressing data: incorrect header check).",
        )
    ]  # fmt: skip


# doccano


def test_doccano_plain_and_relation_variants():
    plain = {"id": 12, "text": SRC, "label": [[0, 15, "PERSON"], [40, 45, "GPE"]], "Comments": []}
    related = {
        "text": "Lukashenko met Naryshkin.",
        "external_id": "x9",
        "entities": [
            {"id": 1, "label": "PERSON", "start_offset": 0, "end_offset": 10},
            {"id": 2, "label": "PERSON", "start_offset": 15, "end_offset": 24},
        ],
        "relations": [{"id": 3, "from_id": 1, "to_id": 2, "type": "met_with"}],
    }
    data = "\n".join(json.dumps(line, ensure_ascii=False) for line in (plain, related)).encode()
    records, problems = read("doccano", "export.jsonl", data)
    assert problems == []
    assert records == [
        DocumentRecord(
            text=SRC,
            external_id="12",  # doccano's id, when the line has no external_id
            metadata={"Comments": [], "doccano_id": 12},
            annotated=True,
            spans=(SpanRecord("0", 0, 15, "PERSON"), SpanRecord("1", 40, 45, "GPE")),
        ),
        DocumentRecord(
            text="Lukashenko met Naryshkin.",
            external_id="x9",
            annotated=True,
            spans=(SpanRecord("1", 0, 10, "PERSON"), SpanRecord("2", 15, 24, "PERSON")),
            relations=(RelationRecord("1", "2", "met_with", "3"),),
        ),
    ]


def test_doccano_keeps_classification_labels_as_categories_and_reports_bad_triples():
    data = b'{"text": "x", "label": ["positive"]}\n{"text": "y", "label": [[0, 1]]}\n{"text": "z", "entities": 5}\n'
    records, problems = read("doccano", "d.jsonl", data)
    assert records == [DocumentRecord(text="x", metadata={"categories": ["positive"]}, annotated=True)]
    assert problems == [
        Problem("d.jsonl", 2, "label[0]", "Each label must be [start, end, label]."),
        Problem("d.jsonl", 3, "entities", "'entities' must be a list, not a number."),
    ]  # fmt: skip


# Label Studio


def label_studio_task(**changes):
    task = {
        "id": 7,
        "data": {"text": SRC, "external_id": "a1", "title": "Визит", "source": "tass"},
        "meta": {"batch": 2},
        "annotations": [
            {"was_cancelled": True, "result": []},
            {
                "result": [
                    {
                        "id": "r1",
                        "type": "labels",
                        "value": {"start": 0, "end": 15, "text": "Сергей Нарышкин", "labels": ["PERSON"]},
                    },
                    {
                        "id": "r2",
                        "type": "labels",
                        "value": {"start": 40, "end": 45, "text": "Minsk", "labels": ["GPE", "CITY"]},
                    },
                    {
                        "type": "relation",
                        "from_id": "r2",
                        "to_id": "r1",
                        "direction": "left",
                        "labels": ["visited"],
                    },
                    {"type": "choices", "value": {"choices": ["politics"]}},
                ]
            },
        ],
        "predictions": [
            {"result": [{"id": "p1", "type": "labels", "value": {"start": 0, "end": 6, "labels": ["X"]}}]}
        ],
    }
    task.update(changes)
    return task


def test_label_studio_reads_the_first_kept_annotation_regions_labels_and_relations():
    data = json.dumps([label_studio_task(), {"data": {"text": "Unlabelled."}}], ensure_ascii=False).encode()
    records, problems = read("labelstudio", "export.json", data)
    assert problems == []
    assert records == [
        DocumentRecord(
            text=SRC,
            external_id="a1",
            title="Визит",
            metadata={"source": "tass", "batch": 2, "label_studio_id": 7, "choices": ["politics"]},
            annotated=True,
            spans=(
                SpanRecord("r1", 0, 15, "PERSON", "Сергей Нарышкин"),
                SpanRecord("r2", 40, 45, "GPE", "Minsk"),
                SpanRecord("r2#2", 40, 45, "CITY", "Minsk"),
            ),
            relations=(RelationRecord("r1", "r2", "visited"),),
        ),
        DocumentRecord(text="Unlabelled."),
    ]
    assert records[1].where == where("export.json", item="[1]")


def test_label_studio_offsets_counted_in_utf16_are_converted_when_only_they_fit_the_region_text():
    task = label_studio_task()
    task["annotations"][1]["result"][1]["value"].update(start=43, end=48)  # Minsk, in UTF-16 units
    records, _ = read("labelstudio", "old.json", json.dumps([task]).encode())
    assert [(s.start, s.end) for s in records[0].spans] == [(0, 15), (40, 45), (40, 45)]


def test_label_studio_reports_tasks_that_are_not_objects_missing_text_and_cut_json():
    data = b'[{"data": {"text": "ok"}}, 5, {"data": {"body": "x"}}, {"data": {"text": "never ends'
    records, problems = read("labelstudio", "cut.json", data, text_key="text")
    assert [r.text for r in records] == ["ok"]
    assert problems == [
        Problem("cut.json", None, "[1]", "Each task must be a JSON object, not a number."),
        Problem("cut.json", None, "[2].data.text",
                "The task has no data.text (its data holds: body). Only text tasks are imported; name the key "
                "that holds the text with the text_key option."),
        Problem("cut.json", None, "[3]",
                "The JSON cannot be read past this task: the file ends in the middle of the JSON: it looks cut short."),
    ]  # fmt: skip


def test_a_single_label_studio_task_object_is_read_too():
    records, problems = read(
        "labelstudio", "one.json", json.dumps({"data": {"content": "Body."}}).encode(), text_key="content"
    )
    assert (records, problems) == ([DocumentRecord(text="Body.", where=where("one.json", item="[0]"))], [])


# The registry


def test_the_registry_names_every_format_and_refuses_unknown_ones():
    assert [name for name, _ in FORMATS.choices()] == [
        "jsonl", "csv", "text", "brat", "conll", "spacy", "doccano", "labelstudio",
    ]  # fmt: skip
    with pytest.raises(
        FormatError,
        match="Unknown format 'xml'. Known formats: brat, conll, csv, doccano, jsonl, labelstudio, spacy, text.",
    ):
        FORMATS.reader("xml")
    with pytest.raises(ValueError, match="Two formats are named 'jsonl'."):
        build_registry([JsonLines(), JsonLines()])


def test_bytes_source_streams_are_buffered_readers():
    source = BytesSource("a", b"x")
    with next(source.members()).open() as stream:
        assert isinstance(stream, io.BufferedReader)
        assert stream.read() == b"x"
