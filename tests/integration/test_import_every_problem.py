"""Every line with a problem is named in one report (up to ANNOTATOR_IMPORT_MAX_ERRORS), and empty input is
called empty."""

import zipfile

import pytest

from annotator.interchange.formats.base import Limits
from annotator.interchange.formats.sources import BytesSource, ZipSource
from annotator.interchange.options import ImportOptions
from annotator.interchange.services import ImportRejected, import_articles

pytestmark = pytest.mark.django_db


def refused(news, source, fmt, **options):
    with pytest.raises(ImportRejected) as rejected:
        import_articles(
            project=news.project, source=source, options=ImportOptions(format=fmt, **options), by=None
        )
    return [(problem["line"], problem["message"]) for problem in rejected.value.problems]


def test_a_brat_file_with_several_bad_lines_names_each(news, tmp_path):
    path = tmp_path / "b.zip"
    with zipfile.ZipFile(path, "w") as out:
        out.writestr("d.txt", "Minsk and Vitebsk.")
        out.writestr(
            "d.ann",
            "T1\tGPE 0 5\tMinsk\nT2\tGPE 10 99\tVitebsk\nT3\tGPE -1 5\tMinsk\nR1\tvisited Arg1:T3 Arg2:T1\n",
        )
    assert refused(news, ZipSource(path, "b.zip", Limits()), "brat") == [
        (2, "The span [10, 99) ends after the text, which has 18 characters."),
        (3, "The entity T3 needs a type and offsets like 'PERSON 0 16' or 'ORG 0 5;9 12'."),
    ]


def test_every_nested_and_crossing_span_is_named_when_overlaps_are_off(news, settings):
    news.project.allow_overlapping_spans = False
    news.project.save()
    data = (
        b'{"text": "Sergey Naryshkin visited Minsk.", "entities": ['
        b'{"start": 0, "end": 16, "label": "PERSON"}, {"start": 7, "end": 16, "label": "PERSON"},'
        b'{"start": 10, "end": 24, "label": "PERSON"}, {"start": 25, "end": 30, "label": "GPE"}]}\n'
    )
    assert refused(news, BytesSource("o.jsonl", data), "jsonl") == [
        (1, "This project does not allow overlapping spans, and [7, 16) overlaps the span at [0, 16)."),
        (1, "This project does not allow overlapping spans, and [10, 24) overlaps the span at [0, 16)."),
    ]


def test_a_conll_file_with_several_bad_tags_names_each_up_to_the_limit(news, settings):
    data = b"Minsk B-LOC\nis X-1\nbig Q-2\nand O\nold Z-3\n"
    messages = refused(news, BytesSource("t.conll", data), "conll")
    assert [line for line, _ in messages] == [2, 3, 5]
    settings.ANNOTATOR_IMPORT_MAX_ERRORS = 2
    assert [line for line, _ in refused(news, BytesSource("t.conll", data), "conll")] == [2, 3]


@pytest.mark.parametrize(
    ("fmt", "name", "data", "expected"),
    [
        ("text", "blank.txt", b" \n\t \r\n", [(None, "The text is empty: it holds only whitespace.")]),
        ("conll", "none.conll", b"# just a comment\n\n\n", [(None, "The file has no tokens: it is empty.")]),
        ("conll", "docs.conll", b"-DOCSTART- -X- O O\n\n", [(None, "The file has no tokens: it is empty.")]),
    ],
)
def test_empty_input_is_refused_as_empty(news, fmt, name, data, expected):
    assert refused(news, BytesSource(name, data), fmt) == expected
