"""The span JSON query takes the project's entity types as arrays (`span_json.SpanTypes`): a set with a
span whose type the arrays do not hold is not plain (its line is made from rows), never a line with a
label missing."""

import orjson
import pytest
from django.db import connection

from annotator.annotations.models import AnnotationSet, SetKind
from annotator.interchange.chunk_queries import ChunkIds
from annotator.interchange.formats.sources import BytesSource
from annotator.interchange.options import ImportOptions
from annotator.interchange.services import import_articles
from annotator.interchange.span_json import project_span_types, send_plain_spans, span_types

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL: span JSON written by the database; SQLite exports read rows",
    ),
]


def test_a_set_with_a_type_the_arrays_do_not_hold_is_not_plain(news):
    line = {"external_id": "a", "text": "Minsk and Vilnius.", "entities": [
        {"start": 0, "end": 5, "label": "GPE"}, {"start": 10, "end": 17, "label": "ORG"}]}  # fmt: skip
    options = ImportOptions(format="jsonl", set_kind=SetKind.GOLD)
    import_articles(project=news.project, source=BytesSource("a.jsonl", orjson.dumps(line)), options=options,
                    by=news.manager)  # fmt: skip
    gold = AnnotationSet.objects.get(article__external_id="a", kind=SetKind.GOLD)
    ids = ChunkIds([gold.pk])
    every = project_span_types(news.project.pk)
    made = send_plain_spans(every, ids)()[gold.pk]
    assert made is not None
    assert made.span_count == 2
    assert made.spans.split(b"\x1f")[1] == b'","start":10,"end":17,"label":"ORG","text":"Vilnius"'
    without_org = span_types({news.gpe.pk: "GPE", news.person.pk: "PERSON"})
    assert send_plain_spans(without_org, ids)() == {gold.pk: None}
