"""Fuzzing every import reader: random bytes and mutated valid files.

Whatever the input, a reader either yields records and logs problems, or stops with one of the errors
an import reports (SourceError for a file it cannot open, TooManyProblems when the report is full):
nothing else escapes to become a 500 or a failed job with a traceback. Every span that `prepare()`
accepts points at exactly the surface it declares, in the stored text.

Bounded so that the whole module runs in CI in well under a minute. atheris drives the same check in
bench/fuzz_imports.py for long runs (coverage-guided).
"""

import hashlib
import io
import json
import os
import zipfile

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from annotator.interchange.checks import prepare
from annotator.interchange.formats import FORMATS
from annotator.interchange.formats.base import Limits, Problem, ProblemLog, TooManyProblems
from annotator.interchange.formats.sources import BytesSource, SourceError, ZipSource
from tests.unit.test_import_formats import BRAT_ANN, JSONL_LINE, SRC, label_studio_task

FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "40")),
    deadline=None,
    derandomize="FUZZ_EXAMPLES" not in os.environ,
    suppress_health_check=[HealthCheck.too_slow],
)


def docbin_sample():
    from spacy.tokens import Doc, DocBin, Span
    from spacy.vocab import Vocab

    doc = Doc(Vocab(), words=["Sergey", "Naryshkin", "visited", "Minsk", "🇧🇾"], spaces=[True] * 4 + [False])
    doc.ents = [Span(doc, 0, 2, label="PERSON", kb_id="Q315514"), Span(doc, 3, 4, label="GPE")]
    doc.spans["sc"] = [Span(doc, 1, 2, label="SURNAME")]
    doc.user_data.update({"external_id": "d1", "title": "Visit"})
    return DocBin(store_user_data=True, docs=[doc]).to_bytes()


# One valid file per format (a single upload; brat is a .txt and .ann pair, zipped by `as_source`).
SAMPLES = {
    "jsonl": ("a.jsonl", (json.dumps(JSONL_LINE, ensure_ascii=False) + "\n").encode() * 2),
    "csv": (
        "a.csv",
        'external_id,title,text\r\nn1,Визит,"' + SRC.replace('"', '""') + '"\r\nn2,T,Short 🇧🇾\r\n',
    ),
    "text": ("a.txt", SRC.encode()),
    "brat": ("doc1.ann", BRAT_ANN.encode()),
    "conll": (
        "a.conll",
        "-DOCSTART- -X- -X- O\n\nSergey NNP B-NP I-PER\nNaryshkin NNP I-NP I-PER\nvisited VBD B-VP O\n"
        "Minsk NNP B-NP B-LOC\n\nЛукашенко B-PER\nи O\n".encode(),
    ),
    "spacy": ("a.spacy", None),  # built once spaCy is imported: see sample()
    "doccano": (
        "a.jsonl",
        json.dumps(
            {
                "text": "Lukashenko met Naryshkin.",
                "entities": [
                    {"id": 1, "label": "PERSON", "start_offset": 0, "end_offset": 10},
                    {"id": 2, "label": "PERSON", "start_offset": 15, "end_offset": 24},
                ],
                "relations": [{"id": 3, "from_id": 1, "to_id": 2, "type": "met_with"}],
            }
        ).encode()
        + b"\n"
        + json.dumps({"text": SRC, "label": [[0, 15, "PERSON"], [40, 45, "GPE"]]}).encode(),
    ),
    "labelstudio": ("a.json", json.dumps([label_studio_task()], ensure_ascii=False).encode()),
}
SAMPLES["csv"] = ("a.csv", SAMPLES["csv"][1].encode())


def sample(fmt):
    name, data = SAMPLES[fmt]
    return name, docbin_sample() if data is None else data


def as_source(fmt, name, data, tmp_path):
    """A brat document is a zipped pair; every other format is read from the one file."""
    if fmt != "brat":
        return BytesSource(name, data, Limits(max_record_bytes=2**16))
    path = tmp_path / "brat.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("doc1.txt", SRC.encode())
        archive.writestr(name, data)
    return ZipSource(path, "brat.zip", Limits())


def assert_reads_or_reports(fmt, source):
    """The invariant: only reported problems, and every accepted span matches its surface exactly."""
    problems = ProblemLog(limit=50)
    try:
        records = list(FORMATS.reader(fmt).read(source, problems, {}))
    except (SourceError, TooManyProblems):
        return
    assert all(isinstance(problem, Problem) and problem.message for problem in problems.items)
    for record in records:
        prepared = prepare(record, max_chars=10**6, problems=ProblemLog(limit=10**6))
        if prepared is None:
            continue
        text = prepared.record.text
        assert "\r" not in text
        assert "\x00" not in text
        for span in prepared.record.spans:
            pieces = span.fragments or ((span.start, span.end),)
            assert all(0 <= start < end <= len(text) for start, end in pieces), span
            if span.text is not None:
                assert " ".join(text[start:end] for start, end in pieces) == span.text.replace("\r\n", "\n")


INTERESTING = [
    b"\x00", b"\r", b"\r\n", b"\n", b'"', b"\\", b"\\u0000", b"\\ud800", b"\xed\xa0\x80", b"\xff", b"\t",
    b"-1", b"0", b"1e309", b"NaN", b"99999999999999999999", b"null", b"[]", b"{}", b"{", b"]", b";",
    "👩\u200d👩\u200d👧".encode(), "\u202e".encode(), b"\xef\xbb\xbf", b"PK\x03\x04", b" ",
]  # fmt: skip
mutation = st.tuples(
    st.sampled_from(["insert", "delete", "replace", "number"]),
    st.floats(min_value=0, max_value=1),
    st.one_of(st.sampled_from(INTERESTING), st.binary(min_size=1, max_size=8)),
    st.integers(min_value=-3, max_value=200),
)


def mutate(data, mutations):
    """Apply edits at relative positions: insert or overwrite bytes, cut a piece, or change a number
    (shifting offsets is how a file's spans stop matching its text)."""
    data = bytearray(data)
    for kind, where, payload, number in mutations:
        at = int(where * len(data))
        if kind == "insert":
            data[at:at] = payload
        elif kind == "delete":
            del data[at : at + len(payload) * 3]
        elif kind == "replace":
            data[at : at + len(payload)] = payload
        else:
            digits = [i for i in range(len(data)) if 48 <= data[i] <= 57]
            if digits:
                first = digits[int(where * (len(digits) - 1))]
                last = first
                while last + 1 < len(data) and 48 <= data[last + 1] <= 57:
                    last += 1
                data[first : last + 1] = str(number).encode()
    return bytes(data)


@pytest.mark.parametrize("fmt", sorted(FORMATS.readers))
def test_every_sample_is_read_cleanly(fmt, tmp_path):
    """The mutations start from valid files: each reads without a single problem."""
    name, data = sample(fmt)
    problems = ProblemLog()
    records = list(FORMATS.reader(fmt).read(as_source(fmt, name, data, tmp_path), problems, {}))
    assert problems.items == []
    assert records
    assert all(prepare(r, max_chars=10**6, problems=problems) for r in records), problems.items


@pytest.mark.parametrize("fmt", sorted(FORMATS.readers))
@FUZZ
@given(mutations=st.lists(mutation, min_size=1, max_size=6))
def test_mutated_valid_files_are_read_or_reported(fmt, mutations, tmp_path_factory):
    name, data = sample(fmt)
    assert_reads_or_reports(fmt, as_source(fmt, name, mutate(data, mutations), tmp_path_factory.mktemp("m")))


@pytest.mark.parametrize("fmt", sorted(FORMATS.readers))
@FUZZ
@given(data=st.binary(max_size=400))
@example(data=b"")
@example(data=b"\xef\xbb\xbf")
@example(data=b"\x00" * 10)
def test_random_bytes_are_read_or_reported(fmt, data, tmp_path_factory):
    name, _ = SAMPLES[fmt]
    assert_reads_or_reports(fmt, as_source(fmt, name, data, tmp_path_factory.mktemp("r")))


@pytest.mark.parametrize("fmt", sorted(FORMATS.readers))
@FUZZ
@given(text=st.text(max_size=200))
def test_random_text_is_read_or_reported(fmt, text, tmp_path_factory):
    """Random Unicode (astral characters, surrogates, control characters) in the format's own file."""
    name, _ = SAMPLES[fmt]
    data = text.encode("utf-8", "surrogatepass")
    assert_reads_or_reports(fmt, as_source(fmt, name, data, tmp_path_factory.mktemp("t")))


@FUZZ
@given(
    members=st.dictionaries(
        st.text(st.characters(exclude_characters="\x00"), min_size=1, max_size=12),
        st.binary(max_size=100),
        max_size=4,
    )
)
def test_random_archives_are_read_or_reported(members, tmp_path_factory):
    """A zip of random member names (path traversal, hidden files, odd suffixes) and random contents."""
    path = tmp_path_factory.mktemp("z") / "upload.zip"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members.items():
            archive.writestr(name.encode("utf-8", "surrogatepass").decode("utf-8", "replace"), content)
    path.write_bytes(buffer.getvalue())
    for fmt in ("text", "brat", "jsonl", "conll"):
        try:
            source = ZipSource(path, "upload.zip", Limits())
        except SourceError:
            return
        assert_reads_or_reports(fmt, source)


# What the fuzzing found, pinned.


def test_a_lone_carriage_return_is_stored_as_a_newline_like_crlf():
    record = FORMATS.reader("text").read(BytesSource("a.txt", b"Minsk\rVitebsk"), ProblemLog(), {})
    prepared = prepare(next(record), max_chars=100, problems=ProblemLog())
    assert prepared.record.text == "Minsk\nVitebsk"
    assert prepared.content_hash == hashlib.sha256(b"Minsk\nVitebsk").hexdigest()


def test_label_studio_json_with_bad_utf8_inside_a_string_is_reported():
    problems = ProblemLog()
    data = b'[{"data": {"text": "ok"}}, {"data": {"text": "\xed\xa0\x80"}}, \xff]'
    records = list(FORMATS.reader("labelstudio").read(BytesSource("a.json", data), problems, {}))
    assert [r.text for r in records] == ["ok"]
    assert [(p.field, p.message) for p in problems.items] == [
        ("[1]", "The JSON cannot be read past this task: the text is not UTF-8; save the file as UTF-8.")
    ]
    problems = ProblemLog()
    assert list(FORMATS.reader("labelstudio").read(BytesSource("a.json", b"[1, \xff]"), problems, {})) == []
    assert [(p.field, p.message) for p in problems.items] == [
        ("[0]", "Each task must be a JSON object, not a number."),
        ("[1]", "The JSON cannot be read past this task: lexical error: invalid char in json text."),
    ]
