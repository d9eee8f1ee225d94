"""The bulk writer: every table an import writes goes through binary COPY on PostgreSQL, value for value."""

import hashlib

import pytest
from django.db import connection, transaction
from django.utils import timezone
from psycopg import DataError

from annotator.articles.models import Article
from annotator.interchange.bulk import BulkWriter
from annotator.interchange.importer import ARTICLE_COLUMNS, Tables

pytestmark = pytest.mark.django_db

AWKWARD = "tab\there, line\nbreak, CR\r, back\\slash, \\N, emoji 👩‍👩‍👧, RTL \u202e, quote \" '"


def test_every_table_an_import_writes_has_a_binary_copy_form():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: binary COPY")
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


def test_the_articles_metadata_goes_as_the_checks_dumped_it_and_comes_back_exactly(news):
    import orjson
    from django.core.exceptions import ImproperlyConfigured

    writer = BulkWriter()
    tables = Tables()
    metadata = {"author": AWKWARD, "tags": ["a\tb", None, 1.5, True], "nested": {"x": [1, {"y": "\\"}]}}
    now = timezone.now()
    if connection.vendor != "postgresql":  # raw values need binary COPY: refused, loudly, elsewhere
        assert not writer.takes_raw(tables.raw_articles)
        with pytest.raises(ImproperlyConfigured, match="raw values need binary COPY"):
            writer.insert(tables.raw_articles, [])
        return
    assert writer.takes_raw(tables.raw_articles)
    with transaction.atomic():
        (pk,) = writer.reserve_ids(tables.articles, 1)
        text = AWKWARD * 3
        row = (pk, news.project.pk, "raw-1", AWKWARD, text, b"\x01" + orjson.dumps(metadata), "f" * 64,
               1, now, now)  # fmt: skip
        assert writer.insert(tables.raw_articles, [row]) == 1
    stored = Article.objects.get(pk=pk)
    assert (stored.text, stored.metadata, stored.title) == (text, metadata, AWKWARD)
    # The server still checks what it is sent: bytes that are not JSON fail, and nothing is kept.
    with transaction.atomic():
        (pk,) = writer.reserve_ids(tables.articles, 1)
        bad = (pk, news.project.pk, "raw-2", "t", "text", b"\x01{not json", "e" * 64, 1, now, now)
        with pytest.raises(DataError, match="invalid input syntax for type json"):
            writer.insert(tables.raw_articles, [bad])
        transaction.set_rollback(True)
    assert not Article.objects.filter(external_id="raw-2").exists()


def test_an_import_writes_each_article_s_text_and_metadata_exactly(news):
    from tests.integration.test_import_service import jsonl, line, run

    texts = ["Minsk\r\n“joint work”\t2024–2025 🇧🇾 \\N", "plain ascii"]
    result = run(
        news,
        jsonl(*[line(external_id=f"e{i}", text=t, metadata={"n": i, "s": t}) for i, t in enumerate(texts)]),
    )
    assert result.created == 2
    stored = {
        a.external_id: (a.text, a.metadata, a.content_hash)
        for a in Article.objects.filter(external_id__startswith="e")
    }
    first = "Minsk\n“joint work”\t2024–2025 🇧🇾 \\N"
    assert stored == {
        "e0": (first, {"n": 0, "s": texts[0]}, hashlib.sha256(first.encode()).hexdigest()),
        "e1": ("plain ascii", {"n": 1, "s": "plain ascii"}, hashlib.sha256(b"plain ascii").hexdigest()),
    }


def test_a_batch_looks_up_its_duplicates_by_id_and_by_text_in_one_query_each(news):
    from django.test.utils import CaptureQueriesContext

    from tests.integration.test_import_service import jsonl, line, run

    run(news, jsonl(line(external_id="a1", text="First."), line(text="Known by its text.")))
    records = [line(external_id=f"n{i}", text=f"New {i}.") for i in range(50)]
    records += [line(external_id="a1", text="First, again."), line(text="Known by its text.")]
    with CaptureQueriesContext(connection) as queries:
        result = run(news, jsonl(*records))
    assert (result.created, result.skipped) == (50, 2)
    lookups = [
        q["sql"]
        for q in queries
        if "articles_article" in q["sql"]
        and ("content_hash" in q["sql"] or "external_id" in q["sql"])
        and q["sql"].lstrip().upper().startswith("SELECT")
        and "ANALYZE" not in q["sql"]
    ]
    if connection.vendor == "postgresql":
        # One index probe per key, the keys one array parameter, not one placeholder per record: by id,
        # then by text.
        assert len(lookups) == 2
        assert all("FROM unnest(" in sql and "LATERAL" in sql for sql in lookups)
        assert "AND external_id = k.v" in lookups[0]
        assert "AND content_hash = k.v ORDER BY id LIMIT 1" in lookups[1]
    else:
        assert len(lookups) == 1


# Foreign keys checked once per COPY (PostgreSQL, when the role may set session_replication_role).

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL: foreign keys checked per COPY (session_replication_role)",
)


def span_row(pk, set_id, type_id, by, now, start=0):
    return (pk, set_id, start, start + 6, type_id, "Sergey", None, by, now, now)


def replication_role():
    with connection.cursor() as cursor:
        cursor.execute("SHOW session_replication_role")
        return cursor.fetchone()[0]


def pending_key_checks(cursor):
    """Whether the transaction holds deferred checks: SET CONSTRAINTS ALL IMMEDIATE runs them now."""
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    cursor.execute("SET CONSTRAINTS ALL DEFERRED")


@postgres_only
def test_spans_are_checked_against_their_set_type_and_author_once_per_copy(news):
    writer, tables, now = BulkWriter(), Tables(), timezone.now()
    set_id = news.annotation_set.pk
    with transaction.atomic():
        ids = writer.reserve_ids(tables.spans, 3)
        rows = [
            span_row(pk, set_id, news.person.pk, news.manager.pk, now, start)
            for pk, start in zip(ids, (0, 10, 20), strict=True)
        ]
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            assert writer.insert(tables.spans, rows) == 3
        checks = [q["sql"] for q in queries if "FOR KEY SHARE" in q["sql"]]
        assert sorted(check.split('"')[3] for check in checks) == [
            "annotations_annotationset", "auth_user", "projects_entitytype",
        ]  # fmt: skip
        assert replication_role() == "origin"
    assert sorted(news.annotation_set.spans.values_list("start", flat=True)) == [0, 10, 20]


@postgres_only
@pytest.mark.parametrize("missing", ["entity_type", "annotation_set", "created_by"])
def test_a_span_naming_a_missing_row_fails_as_the_servers_check_would_and_nothing_is_kept(news, missing):
    from django.db import IntegrityError

    writer, tables, now = BulkWriter(), Tables(), timezone.now()
    values = {
        "annotation_set": news.annotation_set.pk,
        "entity_type": news.person.pk,
        "created_by": news.manager.pk,
    }
    values[missing] = 987654321
    target = {"annotation_set": "annotations_annotationset", "entity_type": "projects_entitytype",
              "created_by": "auth_user"}[missing]  # fmt: skip
    ids = writer.reserve_ids(tables.spans, 2)
    good = span_row(ids[0], news.annotation_set.pk, news.person.pk, news.manager.pk, now)
    bad = span_row(ids[1], values["annotation_set"], values["entity_type"], values["created_by"], now, 10)
    with pytest.raises(IntegrityError) as raised, transaction.atomic():
        writer.insert(tables.spans, [good, bad])
    assert f'Key ({missing}_id)=(987654321) is not present in table "{target}".' in str(raised.value)
    assert str(raised.value).startswith('insert or update on table "annotations_span" violates foreign key')
    assert not news.annotation_set.spans.exists()
    assert replication_role() == "origin"


@postgres_only
def test_a_relation_whose_head_is_in_another_set_fails_its_composite_key(news):
    from django.db import IntegrityError

    from annotator.annotations.services import get_or_create_own_set

    writer, tables, now = BulkWriter(), Tables(), timezone.now()
    other = get_or_create_own_set(article=news.article, user=news.manager)
    with transaction.atomic():
        head, tail = writer.reserve_ids(tables.spans, 2)
        writer.insert(tables.spans, [span_row(head, other.pk, news.person.pk, None, now),
                                     span_row(tail, news.annotation_set.pk, news.gpe.pk, None, now, 25)])  # fmt: skip
        (pk,) = writer.reserve_ids(tables.relations, 1)
        with pytest.raises(IntegrityError) as raised, transaction.atomic():
            writer.insert(
                tables.relations, [(pk, news.annotation_set.pk, head, tail, news.visited.pk, None, now, now)]
            )
        assert "relation_head_in_set" in str(raised.value)
        assert f"Key (head_id, annotation_set_id)=({head}, {news.annotation_set.pk})" in str(raised.value)
        with connection.cursor() as cursor:
            pending_key_checks(cursor)  # nothing deferred was left behind by the spans either
        transaction.set_rollback(True)


@postgres_only
def test_a_table_with_a_trigger_of_its_own_is_written_with_the_servers_checks(news):
    """Replica mode would skip any trigger: a table with one is never written in it."""
    import psycopg

    writer, tables, now = BulkWriter(), Tables(), timezone.now()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'the table''s own trigger ran'; END $$"
            )
            cursor.execute(
                "CREATE TRIGGER test_refuse BEFORE INSERT ON annotations_entitylink "
                "FOR EACH ROW EXECUTE FUNCTION test_refuse()"
            )
        (span,) = writer.reserve_ids(tables.spans, 1)
        writer.insert(tables.spans, [span_row(span, news.annotation_set.pk, news.person.pk, None, now)])
        (pk,) = writer.reserve_ids(tables.links, 1)
        with pytest.raises(psycopg.Error, match="the table's own trigger ran"), transaction.atomic():
            writer.insert(tables.links, [(pk, span, news.naryshkin.pk, None, now, now)])
        transaction.set_rollback(True)


@postgres_only
def test_a_role_that_may_not_skip_the_checks_leaves_them_to_the_server(news):
    from django.db import IntegrityError

    writer, tables, now = BulkWriter(), Tables(), timezone.now()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("CREATE ROLE annotator_test_plain NOSUPERUSER")
            cursor.execute("GRANT ALL ON ALL TABLES IN SCHEMA public TO annotator_test_plain")
            cursor.execute("GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO annotator_test_plain")
            cursor.execute("SET LOCAL ROLE annotator_test_plain")
        ids = writer.reserve_ids(tables.spans, 1)
        writer.insert(tables.spans, [span_row(ids[0], news.annotation_set.pk, 987654321, None, now)])
        assert replication_role() == "origin"
        assert news.annotation_set.spans.count() == 1  # written: the server checks it, at commit
        with pytest.raises(IntegrityError, match="projects_entitytype"), connection.cursor() as cursor:
            pending_key_checks(cursor)  # the server's own deferred check: it fails here
        transaction.set_rollback(True)


def test_the_garbage_collector_is_off_while_batches_are_written_and_back_on_after_a_refusal(
    news, monkeypatch
):
    import gc

    from annotator.interchange.importer import Importer
    from annotator.interchange.services import ImportRejected
    from tests.integration.test_import_service import jsonl, line, run

    seen = []
    add_batch = Importer.add_batch

    def spy(self, batch):
        seen.append(gc.isenabled())
        return add_batch(self, batch)

    monkeypatch.setattr(Importer, "add_batch", spy)
    assert gc.isenabled()
    assert run(news, jsonl(line(external_id="g1", text="Collected later."))).created == 1
    assert (seen, gc.isenabled()) == ([False], True)
    with pytest.raises(ImportRejected):
        run(news, jsonl(line(external_id="g2", text="")))
    assert (seen, gc.isenabled()) == ([False, False], True)


@postgres_only
def test_duplicate_lookups_probe_the_key_index_even_when_statistics_predate_the_project(news):
    """A new project's import next to an analysed one: the planner's statistics know no article of the new
    project, and a look-up that let it see the project id walked all of them for every key."""
    from annotator.interchange.importer import BY_CONTENT_HASH, BY_EXTERNAL_ID
    from tests.factories import ProjectFactory

    fresh = ProjectFactory(name="Fresh", slug="fresh")
    insert = (
        "INSERT INTO articles_article (project_id, external_id, title, text, metadata, content_hash, revision, "
        "created_at, updated_at) SELECT %s, 'n-' || g, 't', 'text ' || g, '{}', md5(g::text) || md5(g::text), "
        "1, now(), now() FROM generate_series(%s, %s) g"
    )
    with connection.cursor() as cursor:
        cursor.execute(insert, [news.project.pk, 1, 5000])
        cursor.execute("ANALYZE articles_article")
        cursor.execute(insert, [fresh.pk, 5001, 7000])  # written after the statistics, as by an import
        plans = {}
        for name, sql, keys in (
            ("id", BY_EXTERNAL_ID, ["n-6000", "n-9999"]),
            ("text", BY_CONTENT_HASH, ["f" * 64]),
        ):
            cursor.execute(f"EXPLAIN (COSTS OFF) {sql}", [keys, fresh.pk])
            plans[name] = "\n".join(row[0] for row in cursor.fetchall())
    assert "Index Cond: ((project_id = $0) AND ((external_id)::text = k.v))" in plans["id"]
    assert "article_external_id_unique" in plans["id"]
    assert "Index Cond: ((project_id = $0) AND ((content_hash)::text = k.v))" in plans["text"]
    assert "article_content_hash_idx" in plans["text"]
    assert "article_project_id_idx" not in plans["id"] + plans["text"]
