"""Archive safety, the record checks before anything reaches the database, re-anchoring offsets, read-ahead."""

import gzip
import hashlib
import threading
import zipfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annotator.interchange.checks import prepare
from annotator.interchange.formats import FORMATS
from annotator.interchange.formats.base import (
    DocumentRecord,
    Limits,
    LinkRecord,
    Problem,
    ProblemLog,
    RelationRecord,
    SpanRecord,
    Where,
)
from annotator.interchange.formats.sources import FileSource, SourceError, ZipSource, open_source
from annotator.interchange.readahead import ReadAhead
from annotator.interchange.reanchor import Fit, OffsetMap

# Archives


def make_zip(path, files, compression=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return path


def refused(path, limits=None):
    with pytest.raises(SourceError) as caught:
        open_source(path, limits=limits or Limits())
    return caught.value.problems


def read_all(source, fmt="text"):
    problems = ProblemLog()
    return list(FORMATS.reader(fmt).read(source, problems)), problems.items


def test_archives_with_too_many_files_are_refused_before_reading(tmp_path):
    path = make_zip(tmp_path / "many.zip", {f"{i}.txt": "x" for i in range(4)})
    assert refused(path, Limits(max_members=3)) == [
        Problem("many.zip", None, None, "It holds 4 files; the limit is 3.")
    ]


def test_member_names_that_climb_out_are_absolute_or_hostile_are_refused(tmp_path):
    path = make_zip(
        tmp_path / "evil.zip",
        {
            "../../etc/passwd.txt": "x",
            "/abs.txt": "x",
            "a\\b.txt": "x",
            "C:/win.txt": "x",
            "ok\x1b[31m.txt": "x",
        },
    )
    assert [(p.field, p.message) for p in refused(path)] == [
        ("../../etc/passwd.txt", "This archive member is refused: its name climbs out of the archive (..)."),
        ("/abs.txt", "This archive member is refused: its name is an absolute path."),
        ("a\\b.txt", "This archive member is refused: its name contains a backslash."),
        ("C:/win.txt", "This archive member is refused: its name is an absolute path."),
        ("ok\x1b[31m.txt", "This archive member is refused: its name contains control characters."),
    ]


def test_nested_archives_are_refused_by_name_and_by_content(tmp_path):
    inner = make_zip(tmp_path / "inner.zip", {"a.txt": "x"}).read_bytes()
    assert refused(make_zip(tmp_path / "a.zip", {"inner.zip": inner})) == [
        Problem("a.zip", None, "inner.zip", "Archives inside the archive are not read: unpack it first.")
    ]
    disguised = ZipSource(make_zip(tmp_path / "b.zip", {"looks.txt": inner}), "b.zip", Limits())
    with pytest.raises(SourceError) as caught:
        read_all(disguised)
    assert caught.value.problems == [
        Problem("b.zip", None, "looks.txt", "It is an archive inside the archive: unpack it first.")
    ]


def test_a_decompression_bomb_is_stopped_while_inflating_whatever_its_header_says(tmp_path):
    path = make_zip(tmp_path / "bomb.zip", {"bomb.txt": b"a" * (8 * 2**20)})
    source = ZipSource(path, "bomb.zip", Limits(max_ratio=50))
    with pytest.raises(SourceError) as caught:
        read_all(source)
    assert caught.value.problems == [
        Problem(
            "bomb.zip",
            None,
            "bomb.txt",
            "It inflates more than 50 times its compressed size, which only a decompression bomb does.",
        )
    ]


def test_the_total_inflated_size_is_capped_up_front_and_while_inflating(tmp_path):
    path = make_zip(tmp_path / "big.zip", {"a.txt": "x" * 3000, "b.txt": "y" * 3000})
    assert refused(path, Limits(max_total_bytes=5000)) == [
        Problem("big.zip", None, None, "Its files add up to 6,000 bytes; the limit is 5,000.")
    ]
    # A gzip file declares nothing trustworthy: its bytes are counted as they come out.
    packed = tmp_path / "big.jsonl.gz"
    packed.write_bytes(gzip.compress(b'{"text": "' + b"x" * 6000 + b'"}\n'))
    with pytest.raises(SourceError) as caught:
        read_all(FileSource(packed, "big.jsonl.gz", Limits(max_total_bytes=5000)), "jsonl")
    assert caught.value.problems == [
        Problem(
            "big.jsonl.gz", None, None, "It inflates to more than 5,000 bytes (the limit for one import)."
        )
    ]


def test_gzip_files_are_read_as_they_inflate_and_other_compressors_are_refused(tmp_path):
    path = tmp_path / "news.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"text": "Minsk"}\n'))
    source = open_source(path)
    assert isinstance(source, FileSource)
    records, problems = read_all(source, "jsonl")
    assert ([r.text for r in records], problems, records[0].where.file) == (["Minsk"], [], "news.jsonl.gz")
    assert source.bytes_read == source.bytes_total == path.stat().st_size
    xz = tmp_path / "a.xz"
    xz.write_bytes(b"\xfd7zXZ\x00rest")
    assert refused(xz) == [Problem("a.xz", None, None, "xz archives are not read: use zip or gzip.")]


def test_a_folder_is_read_like_an_archive_for_the_command_line(tmp_path):
    (tmp_path / "docs" / "sub").mkdir(parents=True)
    (tmp_path / "docs" / "sub" / "b.txt").write_text("B.")
    (tmp_path / "docs" / "a.txt").write_text("A.")
    records, _ = read_all(open_source(tmp_path / "docs"))
    assert [(r.external_id, r.where.file) for r in records] == [
        ("a", "docs:a.txt"),
        ("sub/b", "docs:sub/b.txt"),
    ]


# Checks before the database


def check(record, max_chars=1000):
    problems = ProblemLog()
    prepared = prepare(record, max_chars=max_chars, problems=problems)
    return prepared, problems.items


AT = Where("f.jsonl", 3)


def test_prepare_hashes_the_stored_text_like_the_articles_do():
    from annotator.articles.models import content_hash

    prepared, _ = check(DocumentRecord(text="Minsk\r\n🇧🇾", where=AT))
    assert prepared.record.text == "Minsk\n🇧🇾"
    assert (
        prepared.content_hash == content_hash("Minsk\n🇧🇾") == hashlib.sha256("Minsk\n🇧🇾".encode()).hexdigest()
    )


def test_prepare_hands_on_the_stored_text_and_the_metadata_as_the_database_gets_it():
    import orjson

    metadata = {"source": "Минск", "score": 0.5, "tags": ["a\tb", None]}
    for text, stored in (("Minsk “joint work” 2024–2025 🇧🇾", None), ("Minsk\r\n–\rB", "Minsk\n–\nB")):
        prepared, problems = check(DocumentRecord(text=text, metadata=metadata, where=AT))
        assert problems == []
        assert prepared.record.text == (stored or text)
        assert prepared.content_hash == hashlib.sha256((stored or text).encode("utf-8")).hexdigest()
        assert prepared.metadata_json == orjson.dumps(metadata)
    assert check(DocumentRecord(text="No metadata.", where=AT))[0].metadata_json == b"{}"


def test_a_nul_is_found_in_a_text_of_wide_characters_with_its_offset():
    # The check looks for NUL in the UTF-8 bytes: any text, narrow or wide, NUL anywhere.
    for text, offset, line in (("“a”\x00", 3, 1), ("\x00 🇧🇾", 0, 1), ("🇧🇾\n–\x00", 4, 2)):
        assert check(DocumentRecord(text=text, where=AT))[1] == [
            Problem(
                "f.jsonl", 3, "text", f"The text contains a NUL character at offset {offset} (line {line})."
            )
        ]


def test_metadata_json_cannot_store_is_refused_with_its_reason():
    prepared, problems = check(DocumentRecord(text="ok", metadata={"n": 2**64}, where=AT))
    assert prepared is None
    assert problems == [
        Problem(
            "f.jsonl",
            3,
            "metadata",
            "The metadata is not JSON the database can store: Integer exceeds 64-bit range.",
        )
    ]


def test_prepare_refuses_texts_the_contract_does_not_store():
    assert check(DocumentRecord(text="", where=AT))[1] == [
        Problem("f.jsonl", 3, "text", "The text is empty.")
    ]
    assert check(DocumentRecord(text="a\x00b", where=AT))[1] == [
        Problem("f.jsonl", 3, "text", "The text contains a NUL character at offset 1 (line 1).")
    ]
    assert check(DocumentRecord(text="a\n\ud800", where=AT))[1] == [
        Problem("f.jsonl", 3, "text", "The text contains a lone surrogate (U+D800) at offset 2 (line 2).")
    ]
    assert check(DocumentRecord(text="x" * 11, where=AT), max_chars=10)[1] == [
        Problem("f.jsonl", 3, "text", "The text has 11 characters; the limit is 10.")
    ]
    fields = check(
        DocumentRecord(
            text="ok", external_id=" ", title="t\x00", metadata={"a": ["x\x00"], "b": float("nan")}, where=AT
        )
    )[1]
    assert fields == [
        Problem("f.jsonl", 3, "external_id", "The external id is blank."),
        Problem("f.jsonl", 3, "title", "The title contains a NUL character."),
        Problem(
            "f.jsonl", 3, "metadata.a[0]", "The metadata value 'metadata.a[0]' contains a NUL character."
        ),
        Problem("f.jsonl", 3, "metadata.b", "The metadata value 'metadata.b' is not a finite number."),
    ]


def test_prepare_checks_offsets_surfaces_fragments_and_references():
    text = "Sergey Naryshkin visited Minsk.\r\nThen Vitebsk."
    record = DocumentRecord(
        text=text,
        annotated=True,
        spans=(
            SpanRecord("a", 0, 16, "PERSON", "Sergey Naryshkin"),
            SpanRecord("b", 25, 31, "GPE", "Minsk"),  # one character too long
            SpanRecord("c", 40, 99, "GPE"),
            SpanRecord("d", 31, 32, "X"),  # only the \r of the line break
            SpanRecord("e", 0, 16, "ORG", fragments=((7, 16), (0, 6))),
            SpanRecord("a", 0, 16, "PERSON"),
            SpanRecord("f", 38, 45, ""),
        ),
        relations=(RelationRecord("a", "zz", "visited"), RelationRecord("a", "a", "self")),
        links=(LinkRecord("nope", "Q1"), LinkRecord("f", "Q2"), LinkRecord("f", None), LinkRecord("e", " ")),
        where=AT,
    )
    prepared, problems = check(record)
    assert prepared is None
    assert [(p.field, p.message) for p in problems] == [
        ("entities[b].text", "The text at [25, 31) is 'Minsk.', not 'Minsk': the offsets do not match the text."),
        ("entities[c].start", "The span [40, 99) ends after the text, which has 46 characters."),
        ("entities[d].start", "The span [31, 32) holds only the \\r of a \\r\\n line break, which is not kept."),
        ("entities[e].fragments",
         "The fragments must be in text order, must not overlap, and must run from start to end."),
        ("entities[f].label", "The label is empty."),
        ("entities[a].id", "Two entities have the id 'a'."),
        ("entities[a]", "The same PERSON entity at [0, 16) is there twice."),
        ("relations[0].tail", "The tail 'zz' is not an entity of this document."),
        ("relations[1].tail", "A relation needs two different entities."),
        ("entities[nope].kb_id", "The link is for 'nope', which is not an entity of this document."),
        ("entities[f].kb_id", "The entity 'f' is linked twice."),
        ("entities[e].kb_id", "The KB id is blank (use null, or NIL, for 'not in the KB')."),
    ]  # fmt: skip


def test_prepare_returns_the_very_same_record_when_nothing_changes():
    record = DocumentRecord(text="Minsk", annotated=True, spans=(SpanRecord("0", 0, 5, "GPE", "Minsk"),))
    prepared, problems = check(record)
    assert (prepared.record is record, problems) == (True, [])


# Re-anchoring


def test_offsets_move_with_unchanged_text_and_cover_what_replaced_changed_text():
    old = "Sergey Naryshkin visited Minsk.\nLukashenko said so.\n"
    new = "On Monday Sergey Naryshkin went to Minsk.\nHe said so.\n"
    mapping = OffsetMap(old, new)
    assert mapping.span(0, 16) == mapping.span(0, 16)
    naryshkin, visited, minsk, lukashenko = (
        mapping.span(0, 16), mapping.span(17, 24), mapping.span(25, 30), mapping.span(32, 42),
    )  # fmt: skip
    assert (naryshkin.start, naryshkin.end, naryshkin.fit) == (10, 26, Fit.EXACT)
    assert (new[visited.start : visited.end], visited.fit) == ("went to", Fit.CHANGED)
    assert (new[minsk.start : minsk.end], minsk.fit) == ("Minsk", Fit.EXACT)
    assert (new[lukashenko.start : lukashenko.end], lukashenko.fit) == ("He", Fit.CHANGED)
    gone = OffsetMap("Keep this. Drop that.", "Keep this.").span(11, 20)
    assert gone.fit == Fit.LOST


def test_text_inserted_at_a_span_edge_stays_outside_it_and_fragments_move_one_by_one():
    mapping = OffsetMap("ab Minsk cd", "ab XMinskY cd")
    moved = mapping.span(3, 8)
    assert (moved.start, moved.end, moved.fit) == (4, 9, Fit.EXACT)
    pieces = OffsetMap("Bank of Minsk", "The Bank of Minsk").span(0, 13, ((0, 4), (8, 13)))
    assert (pieces.start, pieces.end, pieces.fragments, pieces.fit) == (4, 17, ((4, 8), (12, 17)), Fit.EXACT)


@pytest.mark.parametrize("line_break", ["\n", "\x1e", "\u2028"])
def test_a_line_split_before_a_span_keeps_the_span(line_break):
    # The line diff sees "0Minsk" deleted and "0", "Minsk" inserted around a matching blank line.
    old = f"0Minsk{line_break}{line_break}"
    new = f"0{line_break}{line_break}Minsk{line_break}{line_break}"
    moved = OffsetMap(old, new).span(1, 6)
    assert (moved.start, moved.end, moved.fit) == (3, 8, Fit.EXACT)


def test_an_insertion_repeating_a_span_s_first_letter_leaves_the_span_exact():
    # A character diff alone pairs "0000M" with "0000M" and turns the span into "MMinsk".
    moved = OffsetMap("0000Minsk", "0000MMinsk").span(4, 9)
    assert (moved.start, moved.end, moved.fit) == (5, 10, Fit.EXACT)


@settings(max_examples=500)
@given(st.text(min_size=1, max_size=40), st.text(max_size=10), st.text(max_size=40))
def test_a_span_in_untouched_text_always_moves_exactly(before, middle, after):
    old = before + "Minsk" + after
    new = before + middle + "Minsk" + after
    start = len(before)
    moved = OffsetMap(old, new).span(start, start + 5)
    assert new[moved.start : moved.end] == "Minsk"


# Read-ahead


def test_read_ahead_hands_over_items_and_the_reader_s_exception_in_order():
    def items():
        yield 1
        yield 2
        raise ValueError("broken at 3")

    seen = []

    def consume():
        with ReadAhead(items()) as ahead:
            seen.extend(ahead)

    with pytest.raises(ValueError, match="broken at 3"):
        consume()
    assert seen == [1, 2]


def test_leaving_early_stops_the_reader_and_closes_its_generator():
    closed = threading.Event()

    def endless():
        try:
            n = 0
            while True:
                n += 1
                yield n
        finally:
            closed.set()

    with ReadAhead(endless(), depth=1) as ahead:
        for item in ahead:
            if item == 3:
                break
    assert closed.is_set()
    assert not any(t.name == "import-read-ahead" and t.is_alive() for t in threading.enumerate())
