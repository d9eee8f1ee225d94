"""The bulk writer: every table an import writes goes through binary COPY on PostgreSQL, value for value."""

import pytest
from django.db import connection, transaction
from django.utils import timezone

from annotator.articles.models import Article
from annotator.interchange.bulk import BulkWriter
from annotator.interchange.importer import ARTICLE_COLUMNS, Tables

pytestmark = pytest.mark.django_db

AWKWARD = "tab\there, line\nbreak, CR\r, back\\slash, \\N, emoji 👩‍👩‍👧, RTL \u202e, quote \" '"


def test_every_table_an_import_writes_has_a_binary_copy_form():
    if connection.vendor != "postgresql":
        pytest.skip("binary COPY is PostgreSQL's")
    tables = Tables()
    every = [tables.articles, tables.sets, tables.spans, tables.links, tables.relations, tables.attributes]
    every += list(tables.history.values())
    assert {table.name: table.binary_types(connection) is not None for table in every} == {
        table.name: True for table in every
    }


def test_awkward_text_and_json_come_back_exactly_as_written(news):
    writer = BulkWriter()
    tables = Tables()
    metadata = {"author": AWKWARD, "tags": ["a\tb", None, 1.5, True], "nested": {"x": [1, {"y": "\\"}]}}
    now = timezone.now()
    with transaction.atomic():
        (pk,) = writer.reserve_ids(tables.articles, 1)
        row = (pk, news.project.pk, "awkward-1", AWKWARD, AWKWARD * 3, metadata, "f" * 64, 1, now, now)
        assert len(row) == len(ARTICLE_COLUMNS)
        assert writer.insert(tables.articles, [row]) == 1
    stored = Article.objects.get(pk=pk)
    assert (stored.external_id, stored.title, stored.text, stored.metadata) == (
        "awkward-1",
        AWKWARD,
        AWKWARD * 3,
        metadata,
    )
    assert (stored.revision, stored.created_at) == (1, now)


def test_a_batch_looks_up_its_duplicates_by_id_and_by_text_in_one_query(news):
    from django.test.utils import CaptureQueriesContext

    from tests.integration.test_import_service import jsonl, line, run

    run(news, jsonl(line(external_id="a1", text="First."), line(text="Known by its text.")))
    records = [line(external_id=f"n{i}", text=f"New {i}.") for i in range(50)]
    records += [line(external_id="a1", text="First, again."), line(text="Known by its text.")]
    with CaptureQueriesContext(connection) as queries:
        result = run(news, jsonl(*records))
    assert (result.created, result.skipped) == (50, 2)
    lookups = [q["sql"] for q in queries if "articles_article" in q["sql"] and "content_hash" in q["sql"]]
    lookups = [sql for sql in lookups if sql.lstrip().upper().startswith("SELECT")]
    assert len(lookups) == 1
    if connection.vendor == "postgresql":
        assert "= ANY(" in lookups[0]  # two array parameters, not one placeholder per record
