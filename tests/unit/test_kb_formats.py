"""KB file formats, read without a database: exact records, exact errors, constant memory."""

import bz2
import gzip
import io
import json

import pytest

from annotator.kb.formats import (
    MAX_LINE_BYTES,
    Csv,
    JsonLines,
    LineError,
    ReadOptions,
    WikidataDump,
    detect_format,
    iter_lines,
    open_decompressed,
    reader_for,
)
from annotator.kb.records import EntityRecord, record_problems
from tests.kb_samples import dump, wikidata_entity

NARYSHKIN = wikidata_entity(
    "Q1370509",
    {"en": "Sergey Naryshkin", "ru": "Сергей Евгеньевич Нарышкин", "de": "Sergei Naryschkin"},
    descriptions={"en": "Russian politician", "ru": "российский государственный деятель"},
    aliases={"en": ["Sergei Naryshkin", "Naryshkin"], "ru": ["Нарышкин"], "fr": ["Sergueï Narychkine"]},
    p31=["Q5", ("Q215627", "deprecated")],
    sitelinks=45,
)
SVR = wikidata_entity(
    "Q1052486",
    {"ru": "Служба внешней разведки Российской Федерации"},
    aliases={"ru": ["СВР"]},
    p31=["Q1802801", "Q327333"],
)
PROPERTY = {"type": "property", "id": "P31", "labels": {"en": {"language": "en", "value": "instance of"}}}


def read(reader, data, **options):
    return list(reader.read(io.BytesIO(data), ReadOptions(**options)))


def test_wikidata_lines_keep_labels_aliases_and_descriptions_in_the_chosen_languages():
    items = read(
        WikidataDump(),
        dump(NARYSHKIN, SVR, PROPERTY, wikidata_entity("Q9", {"fr": "Seulement"})),
        languages=("en", "ru"),
    )
    assert items == [
        (
            2,
            EntityRecord(
                kb_id="Q1370509",
                name="Sergey Naryshkin",
                language="en",
                aliases=(
                    ("Sergey Naryshkin", "en"),
                    ("Сергей Евгеньевич Нарышкин", "ru"),
                    ("Sergei Naryshkin", "en"),
                    ("Naryshkin", "en"),
                    ("Нарышкин", "ru"),
                ),
                description="Russian politician",
                type="PERSON",
                prior=0.6709,  # log(1 + 45) / log(1 + 300)
                instance_of=("Q5",),  # the deprecated claim is left out
                metadata={"sitelinks": 45},
            ),
        ),
        (
            3,
            EntityRecord(
                kb_id="Q1052486",
                name="Служба внешней разведки Российской Федерации",
                language="ru",  # no English label: the next chosen language names it
                aliases=(("Служба внешней разведки Российской Федерации", "ru"), ("СВР", "ru")),
                type="ORG",
                prior=0.0,
                instance_of=("Q1802801", "Q327333"),
            ),
        ),
        (4, None),  # a property
        (5, None),  # no label in English or Russian
    ]


def test_wikidata_type_map_and_language_order_are_the_callers():
    [(_, record)] = read(WikidataDump(), dump(NARYSHKIN), languages=("de", "en"), type_map={"Q5": "PER"})
    assert (record.name, record.language, record.type, record.description) == (
        "Sergei Naryschkin",
        "de",
        "PER",
        "Russian politician",
    )


def test_wikidata_reads_the_last_entity_without_a_comma_and_tolerates_crlf():
    data = dump(SVR, NARYSHKIN).replace(b"\n", b"\r\n")
    assert [item.kb_id for _, item in read(WikidataDump(), data, languages=("en", "ru"))] == [
        "Q1052486",
        "Q1370509",
    ]


def test_bad_wikidata_lines_are_reported_with_their_line_and_field():
    bad_claim = wikidata_entity("Q3", {"en": "Three"})
    bad_claim["claims"]["P31"] = [{"mainsnak": {"snaktype": "value", "datavalue": {"value": "Q5"}}}]
    data = b"\n".join(
        [
            b"[",
            json.dumps(wikidata_entity("Q1", {"en": "One"})).encode() + b",",
            b'{"type": "item", "id": "Q2", "labels": ',
            json.dumps({"type": "item", "id": "42", "labels": {}}).encode() + b",",
            json.dumps(bad_claim).encode() + b",",
            json.dumps({"type": "item", "id": "Q4", "labels": {"en": {"value": 4}}}).encode() + b",",
            b"[1, 2],",
            b"]",
        ]
    )
    items = read(WikidataDump(), data)
    assert items[0][1].kb_id == "Q1"
    assert items[1:] == [
        (
            3,
            LineError(
                3, "", "This line is not valid JSON (unexpected end of data: line 1 column 39 (char 38))."
            ),
        ),
        (4, LineError(4, "id", "An item's id must look like Q42 (got '42').")),
        (5, LineError(5, "claims", "A P31 claim has no item as its value.")),
        (6, LineError(6, "labels", "The en entry of labels has no text value.")),
        (7, LineError(7, "", "Each line must hold a JSON object, not list.")),
    ]


def test_jsonl_records_with_every_field():
    lines = [
        {
            "id": "sergey-naryshkin",
            "name": "Sergey Naryshkin",
            "aliases": ["Naryshkin", {"text": "Нарышкин", "language": "ru"}],
            "description": "Director of the SVR.",
            "type": "PERSON",
            "prior": 0.9,
            "instance_of": ["Q5"],
            "language": "en",
            "metadata": {"source": "demo"},
        },
        {"id": 17, "name": "Minsk"},
    ]
    data = b"\n".join(json.dumps(line, ensure_ascii=False).encode() for line in lines) + b"\n\n"
    assert read(JsonLines(), data) == [
        (
            1,
            EntityRecord(
                kb_id="sergey-naryshkin",
                name="Sergey Naryshkin",
                aliases=(("Naryshkin", ""), ("Нарышкин", "ru")),
                description="Director of the SVR.",
                type="PERSON",
                prior=0.9,
                instance_of=("Q5",),
                metadata={"source": "demo"},
                language="en",
            ),
        ),
        (2, EntityRecord(kb_id="17", name="Minsk")),
    ]


@pytest.mark.parametrize(
    ("line", "field", "message"),
    [
        (b'{"name": "No id"}', "id", "The id is missing."),
        (b'{"id": "x", "name": "   "}', "name", "The name is missing."),
        (b'{"id": "x", "name": ["A"]}', "name", "The name must be text, not list."),
        (
            b'{"id": "x", "name": "A", "prior": 1.5}',
            "prior",
            "The prior must be a number between 0 and 1 (got 1.5).",
        ),
        (
            b'{"id": "x", "name": "A", "prior": "high"}',
            "prior",
            "The prior must be a number between 0 and 1 (got 'high').",
        ),
        (
            b'{"id": "x", "name": "A", "prior": true}',
            "prior",
            "The prior must be a number between 0 and 1, not true or false.",
        ),
        (b'{"id": "x", "name": "A", "aliases": "B"}', "aliases", "The aliases must be a list."),
        (
            b'{"id": "x", "name": "A", "aliases": [3]}',
            "aliases",
            "Each alias must be text or an object with a text.",
        ),
        (b'{"id": "x", "name": "A", "metadata": []}', "metadata", "The metadata must be an object."),
        (
            b'{"id": "x", "name": "A", "instance_of": "Q5"}',
            "instance_of",
            "instance_of must be a list of ids.",
        ),
        (
            b'{"id": "x", "name": "A", "type": "' + b"T" * 101 + b'"}',
            "type",
            f"The type {'T' * 40 + '…'!r} is longer than 100 characters.",
        ),
        (
            b'{"id": "x", "name": "' + b"N" * 501 + b'"}',
            "name",
            f"The name {'N' * 40 + '…'!r} is longer than 500 characters.",
        ),
        (
            b"not json",
            "",
            "This line is not valid JSON (invalid literal, expected 'null': line 1 column 1 (char 0)).",
        ),
        (
            b'{"id": "x", "name": "A\\u0000B"}',
            "name",
            "The name holds a NUL character, which text cannot hold.",
        ),
    ],
)
def test_bad_jsonl_lines_say_which_field_and_why(line, field, message):
    assert read(JsonLines(), b'{"id": "ok", "name": "Fine"}\n' + line)[1] == (2, LineError(2, field, message))


def test_csv_with_pipe_separated_aliases_a_bom_quoted_newlines_and_crlf():
    data = (
        "\ufeffid,name,aliases,description,type,prior\r\n"
        'belarus,Belarus,Republic of Belarus|Byelorussia| ,"Country in Eastern Europe,\r\ncapital Minsk",GPE,0.95\r\n'
        ",,,,,\r\n"
        "minsk,Minsk,,,GPE,\r\n"
    ).encode()
    assert read(Csv(), data) == [
        (
            2,
            EntityRecord(
                kb_id="belarus",
                name="Belarus",
                aliases=(("Republic of Belarus", ""), ("Byelorussia", "")),
                description="Country in Eastern Europe,\r\ncapital Minsk",
                type="GPE",
                prior=0.95,
            ),
        ),
        (5, EntityRecord(kb_id="minsk", name="Minsk", type="GPE")),  # line 4 is blank: skipped
    ]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            b"name,aliases\nA,B\n",
            [(1, LineError(1, "id", "The header row has no 'id' column (it needs id and name)."))],
        ),
        (
            b"id,name,colour\n",
            [
                (
                    1,
                    LineError(
                        1,
                        "colour",
                        "The header row has an unknown column 'colour'; the columns are "
                        "id, name, aliases, description, type, prior, instance_of, language.",
                    ),
                )
            ],
        ),
        (
            b"id,name\nx,A,extra\ny,B\n",
            [
                (2, LineError(2, "", "This row has 3 cells; the header has 2.")),
                (3, EntityRecord(kb_id="y", name="B")),
            ],
        ),
        (
            b"id,name,prior\nx,A,-1\n",
            [(2, LineError(2, "prior", "The prior must be a number between 0 and 1 (got -1.0)."))],
        ),
        (
            b"id,name\nx,A\ny,\xff\xfe\nz,C\n",
            [(2, EntityRecord(kb_id="x", name="A")), (3, LineError(3, "", "This line is not UTF-8 text."))],
        ),
        (
            b'id,name,description\nx,A,"two\nlines"\ny,"B\x00",\n',
            [
                (2, EntityRecord(kb_id="x", name="A", description="two\nlines")),
                (4, LineError(4, "name", "The name holds a NUL character, which text cannot hold.")),
            ],
        ),
        (
            b'id,name\nx,"unclosed\n',
            [(2, LineError(2, "", "This is not valid CSV (unexpected end of data)."))],
        ),
    ],
)
def test_bad_csv_is_reported_by_line(data, expected):
    assert read(Csv(), data) == expected


def test_overlong_lines_are_reported_and_skipped_without_holding_them(monkeypatch):
    monkeypatch.setattr("annotator.kb.formats.MAX_LINE_BYTES", 64)
    data = b'{"id": "a", "name": "A"}\n' + b"x" * 200 + b"\n" + b'{"id": "b", "name": "B"}\n'
    items = read(JsonLines(), data)
    assert [line for line, _ in items] == [1, 2, 3]
    assert items[1] == (2, LineError(2, "", "The line is longer than 0 MB."))
    assert items[2][1].kb_id == "b"


def test_iter_lines_numbers_lines_and_strips_only_line_breaks():
    stream = io.BytesIO(b"a \r\n\nb")
    assert list(iter_lines(stream)) == [(1, b"a "), (2, b""), (3, b"b")]
    assert MAX_LINE_BYTES == 32 * 1024 * 1024


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress, lambda data: data])
def test_compressed_files_are_read_as_streams(compress):
    raw = io.BufferedReader(io.BytesIO(compress(dump(NARYSHKIN))))  # as open(path, "rb") gives it
    stream = open_decompressed(raw)
    assert detect_format(stream) == "wikidata"
    assert [item.kb_id for _, item in WikidataDump().read(stream, ReadOptions())] == ["Q1370509"]


@pytest.mark.parametrize(
    ("start", "expected"),
    [(b"[\n{", "wikidata"), (b'\xef\xbb\xbf\n{"id"', "jsonl"), (b"id,name\n", "csv"), (b"", "csv")],
)
def test_format_detection_from_the_first_bytes(start, expected):
    assert detect_format(io.BufferedReader(io.BytesIO(start))) == expected


def test_unknown_formats_are_refused():
    with pytest.raises(ValueError, match="Unknown KB format 'xml'; use one of jsonl, csv, wikidata."):
        reader_for("xml")


def test_record_problems_list_every_problem():
    record = EntityRecord(kb_id="", name="", aliases=(("x" * 501, "e" * 17),), prior=float("nan"))
    assert [field for field, _ in record_problems(record)] == ["id", "name", "aliases", "aliases", "prior"]
