"""Every export format is read back by its own reader into the records it was given, on everything the
format can carry: a text with astral emoji, a PDF-style hard line break inside an entity, nested and
overlapping spans, relations, and links with a KB id and NIL. CSV cells never run as formulas.
"""

import csv
import io
import zipfile
from itertools import pairwise

import orjson
import pytest

from annotator.interchange.formats import FORMATS
from annotator.interchange.formats.base import (
    DocumentRecord,
    FormatError,
    Limits,
    LinkRecord,
    ProblemLog,
    RelationRecord,
    SpanRecord,
)
from annotator.interchange.formats.brat import file_stem
from annotator.interchange.formats.sources import BytesSource, ZipSource
from annotator.interchange.formats.writing import one_layer

TEXT = (
    "👩\u200d👩\u200d👧 Sergey Naryshkin met Alexander Lukashenko in Minsk 🇧🇾.\n"
    "The Belarusian State\nSecurity Committee (KGB) said\tnothing."
)


def at(phrase, label, span_id, occurrence=0):
    start = TEXT.index(phrase)
    for _ in range(occurrence):
        start = TEXT.index(phrase, start + 1)
    return SpanRecord(span_id, start, start + len(phrase), label, text=phrase)


SPANS = (
    at("Sergey Naryshkin", "PERSON", "T1"),
    at("Naryshkin", "SURNAME", "T2"),  # nested in T1
    at("Alexander Lukashenko", "PERSON", "T3"),
    at("Lukashenko in Minsk", "EVENT PLACE", "T4"),  # crosses T3 and T5; a label with a space
    at("Minsk", "GPE", "T5"),
    at("Belarusian State\nSecurity Committee", "ORG", "T6"),  # a hard line break inside
    at("KGB", "ORG", "T7"),
)
RELATIONS = (RelationRecord("T1", "T3", "met", "R1"), RelationRecord("T7", "T6", "alias_of", "R2"))
LINKS = (
    LinkRecord("T1", "Q315514", "Wikidata"),
    LinkRecord("T5", "Q2280", "Wikidata"),
    LinkRecord("T7", None),
)
RECORD = DocumentRecord(
    text=TEXT,
    external_id="news/2021-07-01",
    title="Naryshkin <script>alert(1)</script>",
    metadata={"url": "https://example.org/a", "page": 3},
    annotated=True,
    spans=SPANS,
    relations=RELATIONS,
    links=LINKS,
    provenance={"article_id": 7, "set": "gold", "annotator": None},
)


def export(name, *records):
    return b"".join(FORMATS.writer(name).write(list(records)))


def read_back(name, data, tmp_path=None):
    problems = ProblemLog()
    reader = FORMATS.reader(name)
    if data[:2] == b"PK":
        path = tmp_path / "export.zip"
        path.write_bytes(data)
        source = ZipSource(path, path.name, Limits())
    else:
        source = BytesSource(f"export{FORMATS.writer(name).extension}", data)
    records = list(reader.read(source, problems))
    assert problems.items == []
    return records


def spans_of(record):
    ids = {span.id: (span.start, span.end, span.label) for span in record.spans}
    return ids, sorted(ids.values())


def test_jsonl_round_trips_everything_and_carries_provenance():
    provenance = {"created_by": "ana", "suggestion": {"source": "kb-ruler", "score": 0.9}}
    first = SpanRecord("T1", 0, 8, "X", TEXT[:8], provenance=provenance)
    record = DocumentRecord(**{**RECORD.__dict__, "spans": (first, *SPANS[1:])})
    data = export("jsonl", record)
    line = orjson.loads(data)
    assert line["entities"][0]["provenance"] == provenance
    assert line["provenance"] == {"article_id": 7, "set": "gold", "annotator": None}
    assert line["entities"][6] == {
        "id": "T7", "start": 102, "end": 105, "label": "ORG", "text": "KGB", "kb_id": None,
    }  # fmt: skip
    (back,) = read_back("jsonl", data)
    assert back == record  # spans, relations, links, ids, title, metadata: everything compared
    assert back.text[back.spans[5].start : back.spans[5].end] == "Belarusian State\nSecurity Committee"


def test_jsonl_keeps_discontinuous_spans_and_unannotated_articles():
    minsk = TEXT.index("Minsk")
    pieces = SpanRecord("T1", 0, minsk + 5, "X", TEXT[:8] + " Minsk", fragments=((0, 8), (minsk, minsk + 5)))
    record = DocumentRecord(text=TEXT, external_id="a", annotated=True, spans=(pieces,))
    plain = DocumentRecord(text="No annotations here.", external_id="b")
    data = export("jsonl", record, plain)
    assert orjson.loads(data.splitlines()[0])["entities"][0]["text"] == TEXT[:8] + " Minsk"
    assert "entities" not in orjson.loads(data.splitlines()[1])
    assert read_back("jsonl", data) == [record, plain]


def test_brat_round_trips_spans_relations_and_links_and_splits_entities_at_line_breaks(tmp_path):
    data = export("brat", RECORD)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.namelist() == ["news/2021-07-01.txt", "news/2021-07-01.ann"]
        ann = archive.read("news/2021-07-01.ann").decode()
    start = TEXT.index("Belarusian")
    assert (
        f"T6\tORG {start} {start + 16};{start + 17} {start + 35}\tBelarusian State Security Committee\n"
        in ann
    )
    assert "T4\tEVENT_PLACE " in ann
    assert "R1\tmet Arg1:T1 Arg2:T3\n" in ann
    assert "N3\tReference T7 KB:NIL\tKGB\n" in ann
    (back,) = read_back("brat", data, tmp_path)
    assert back.external_id == "news/2021-07-01"
    assert back.text == TEXT
    expected = [(s.start, s.end, s.label.replace(" ", "_")) for s in SPANS]
    assert sorted((s.start, s.end, s.label) for s in back.spans) == sorted(expected)
    assert all(not span.fragments for span in back.spans)
    assert back.relations == tuple(
        RelationRecord(r.head, r.tail, r.label, f"R{n}") for n, r in enumerate(RELATIONS, 1)
    )
    assert [(link.span, link.kb_id) for link in back.links] == [
        ("T1", "Q315514"),
        ("T5", "Q2280"),
        ("T7", None),
    ]


def test_brat_member_names_never_leave_the_archive():
    assert file_stem("../../etc/passwd", 5) == "article-5"
    assert file_stem(".hidden", 5) == "article-5"
    assert file_stem("a b", 5) == "article-5"
    assert file_stem(None, 5) == "article-5"
    assert file_stem("news/2021/a-1.x", 5) == "news/2021/a-1.x"


def test_brat_puts_annotators_sets_in_folders_and_never_repeats_a_member():
    records = [
        DocumentRecord(
            text="A.", external_id="x", annotated=True, provenance={"article_id": 1, "annotator": name}
        )
        for name in ("ana", "a@b", "a+b", "../..")
    ]
    with zipfile.ZipFile(io.BytesIO(export("brat", *records))) as archive:
        assert archive.namelist()[::2] == ["ana/x.txt", "a_b/x.txt", "a_b/x~2.txt", "_../x.txt"]


def test_docbin_round_trips_all_spans_with_kb_ids_and_user_data():
    data = export("spacy", RECORD)
    (back,) = read_back("spacy", data)
    assert (back.text, back.external_id, back.title, back.metadata) == (
        TEXT,
        RECORD.external_id,
        RECORD.title,
        RECORD.metadata,
    )
    assert spans_of(back)[1] == spans_of(RECORD)[1]
    by_place = {(s.start, s.end, s.label): s.id for s in back.spans}
    linked = {(s.start, s.end, s.label): link.kb_id for link in LINKS for s in SPANS if s.id == link.span}
    assert {key: kb for key, kb in linked.items()} == {
        key: link.kb_id for link in back.links for key, span_id in by_place.items() if span_id == link.span
    }


def test_conll_names_its_tokenizer_and_round_trips_the_outermost_entities():
    data = export("conll", RECORD)
    lines = data.decode().split("\n")
    assert lines[0].startswith("# tokenizer: spacy 3.")
    assert lines[0].endswith(" blank:en")
    assert lines[1] == "-DOCSTART- -X- -X- O"
    assert "Belarusian B-ORG\nState I-ORG\nSecurity I-ORG\nCommittee I-ORG\n" in data.decode()
    (back,) = read_back("conll", data)
    kept = one_layer(SPANS)
    assert [s.id for s in kept] == ["T1", "T3", "T5", "T6", "T7"]
    assert [(back.text[s.start : s.end], s.label) for s in back.spans] == [
        (" ".join(TEXT[s.start : s.end].split()), s.label) for s in kept
    ]


def test_doccano_round_trips_spans_and_relations():
    data = export("doccano", RECORD)
    line = orjson.loads(data)
    assert line["relations"][1] == {"id": 2, "from_id": 7, "to_id": 6, "type": "alias_of"}
    (back,) = read_back("doccano", data)
    assert back.text == TEXT
    assert back.external_id == RECORD.external_id
    assert back.metadata == {**RECORD.metadata, "title": RECORD.title}
    assert [(s.start, s.end, s.label) for s in back.spans] == [(s.start, s.end, s.label) for s in SPANS]
    ids = {s.id: n for n, s in enumerate(SPANS, start=1)}
    assert [(r.head, r.tail, r.label) for r in back.relations] == [
        (str(ids[r.head]), str(ids[r.tail]), r.label) for r in RELATIONS
    ]


def test_label_studio_round_trips_spans_relations_title_and_metadata():
    data = export("labelstudio", RECORD, RECORD)
    assert orjson.loads(data)[1]["data"]["external_id"] == RECORD.external_id
    back = read_back("labelstudio", data)
    assert len(back) == 2
    assert (back[0].text, back[0].title, back[0].metadata) == (TEXT, RECORD.title, RECORD.metadata)
    assert back[0].spans == SPANS
    assert back[0].relations == tuple(RelationRecord(r.head, r.tail, r.label) for r in RELATIONS)
    assert export("labelstudio") == b"[]\n"


def test_csv_writes_a_row_per_span_and_neutralises_formulas():
    hostile = DocumentRecord(
        text='=HYPERLINK("http://evil") +1 -2 @SUM(A1) \tx',
        external_id="=cmd|' /C calc'!A0",
        title="@title",
        annotated=True,
        spans=(
            SpanRecord("T1", 0, 25, "=LABEL"),
            SpanRecord("T2", 26, 28, "+X"),
            SpanRecord("T3", 29, 31, "-Y"),
        ),
        links=(LinkRecord("T1", "-Q1", "@kb"),),
        provenance={"article_id": 3, "set": "gold"},
    )
    rows = list(csv.reader(io.StringIO(export("csv", hostile).decode())))
    assert rows[0] == ["article_id", "external_id", "title", "set", "annotator", "span_id", "start", "end",
                       "label", "text", "kb", "kb_id"]  # fmt: skip
    assert rows[1] == ["3", "'=cmd|' /C calc'!A0", "'@title", "gold", "", "T1", "0", "25", "'=LABEL",
                       "'=HYPERLINK(\"http://evil\")", "'@kb", "'-Q1"]  # fmt: skip
    assert rows[2][8:10] == ["'+X", "'+1"]
    assert rows[3][8:12] == ["'-Y", "'-2", "", ""]
    assert len(rows) == 4
    tab = DocumentRecord(
        text="\tx\ry", annotated=True, spans=(SpanRecord("T1", 0, 2, "A"), SpanRecord("T2", 2, 4, "B"))
    )
    assert [row[9] for row in csv.reader(io.StringIO(export("csv", tab).decode()))][1:] == ["'\tx", "'\ry"]


def test_an_unknown_export_format_is_refused_with_the_known_ones():
    with pytest.raises(FormatError, match="Unknown export format 'xml'. Export formats: brat, conll, csv"):
        FORMATS.writer("xml")


def test_only_docbin_is_not_streamable():
    assert [name for name, _ in FORMATS.export_choices() if not FORMATS.writer(name).streamable] == ["spacy"]


# Sentences, punctuation runs, a span inside a word, one across a sentence end, no-break and em spaces,
# a tab, a blank line, an astral flag split by the tokenizer, CJK punctuation: what the CoNLL and DocBin
# writers, which read spaCy's tokens as arrays, must cut exactly as the token-by-token writers did.
TRICKY = (
    'Mr. Smith went home!! Yes?) (No.) "Quoted." Next\u00a0word\tand\u2003more\n\nU.S. v. Jones… 🇧🇾 done。次'
)


def in_tricky(phrase, label, span_id):
    start = TRICKY.index(phrase)
    return SpanRecord(span_id, start, start + len(phrase), label, text=phrase)


TRICKY_RECORD = DocumentRecord(
    text=TRICKY,
    spans=(
        in_tricky("Smith", "PERSON", "T1"),
        in_tricky("Smi", "X", "T2"),  # nested in T1: left out of one layer
        in_tricky("home!! Yes", "ACROSS A SENTENCE", "T3"),
        in_tricky("Next\u00a0word", "NB\tSPACE", "T4"),
        in_tricky("U.S.", "GPE", "T5"),
        in_tricky("Jon", "PART", "T6"),  # inside a word
        in_tricky("🇧🇾 done", "FLAG", "T7"),
    ),
    links=(LinkRecord("T5", "Q30", "Wikidata"), LinkRecord("T6", None)),
    metadata={"cats": {"news": 1.0}, "source": "test"},
)


def test_conll_writes_the_bytes_of_the_token_by_token_writer():
    # The bytes the writer made token by token (Token objects, the sentencizer run as a pipe), before it
    # worked over arrays: a sentence starts after a run of sentence-ending punctuation, or at a line break,
    # never inside an entity; empty and blank documents have no tokens.
    data = export("conll", TRICKY_RECORD, DocumentRecord(text=""), DocumentRecord(text=" \n "))
    assert data.decode().split("\n", 1)[1] == (
        "-DOCSTART- -X- -X- O\n\nMr. O\nSmith B-PERSON\nwent O\nhome B-ACROSS_A_SENTENCE\n"
        "! I-ACROSS_A_SENTENCE\n! I-ACROSS_A_SENTENCE\nYes I-ACROSS_A_SENTENCE\n? O\n) O\n( O\n\nNo O\n. O\n"
        ') O\n" O\n\nQuoted O\n. O\n" O\n\nNext B-NB_SPACE\nword I-NB_SPACE\nand O\nmore O\n\nU.S. B-GPE\n'
        "v. O\nJon B-PART\nes O\n… O\n🇧 B-FLAG\n🇾 I-FLAG\ndone I-FLAG\n。次 O\n\n"
        "-DOCSTART- -X- -X- O\n\n\n-DOCSTART- -X- -X- O\n\n\n"
    )


def test_sentence_starts_read_from_token_arrays_are_the_sentencizers():
    from annotator.interchange.formats.tokens import pieces, pipeline

    texts = [TRICKY, TEXT, "", " ", "...", "Hi.", "a.b. c", "End?!\n\nStart… more。次", "  lead. trail.  ",
             "One. . . two!? (Three.) \"Four.\" five", "U.S. v. Jones (1999). Then:  A) item; B) item."]  # fmt: skip
    for text in texts:
        doc = pipeline()(text)
        edges = {0, len(text)} | {t.idx for t in doc} | {t.idx + len(t.text) for t in doc}
        expected = list(pairwise(sorted(edges))), {t.idx for t in doc if t.is_sent_start}
        assert pieces(text, [], sentences=True) == expected, text


def test_docbin_writes_the_bytes_of_spacys_own_docbin():
    from spacy.tokens import DocBin

    from annotator.interchange.formats.docbin import DocBinWriter
    from annotator.interchange.formats.tokens import pipeline

    grouped = DocumentRecord(
        text=TEXT, spans=SPANS, links=LINKS,
        metadata={"span_groups": {"people": [[s.start, s.end, s.label] for s in SPANS[:2]]}},
    )  # fmt: skip
    for records in ([RECORD, TRICKY_RECORD, DocumentRecord(text=""), grouped], []):
        docs = DocBin(store_user_data=True)
        for record in records:
            docs.add(DocBinWriter.doc(record, pipeline().vocab))
        assert export("spacy", *records) == docs.to_bytes()


def test_docbin_keeps_the_token_arrays_out_of_memory_while_it_writes():
    # spaCy's DocBin holds 13 eight-byte numbers per token, then stacks and packs copies of them; the writer
    # keeps them in a temporary file. 400 documents of 1,200 tokens: 50 MB of arrays held by DocBin.
    import tracemalloc

    text = " ".join(["Sergey Naryshkin met Alexander Lukashenko in Minsk."] * 150)
    records = [DocumentRecord(text=text, spans=SPANS[:1], external_id=str(n)) for n in range(400)]
    writer = FORMATS.writer("spacy")
    b"".join(writer.write(records[:1]))  # spaCy loaded, its vocabulary filled
    tracemalloc.start()
    try:
        size = sum(len(piece) for piece in writer.write(records))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert size > 0
    assert peak < 12_000_000
