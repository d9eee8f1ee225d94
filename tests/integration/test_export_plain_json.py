"""JSON Lines exports whose spans PostgreSQL writes as JSON (`span_json`): the same bytes as the writer
makes from records whatever the text, type names and ties hold; the sets that are not plain go the row
way; a constant number of queries per chunk; and a streamed download holds one pooled connection."""

import time

import orjson
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from annotator.annotations import services as annotations
from annotator.annotations.models import AnnotationSet, SetKind
from annotator.interchange.chunk_queries import ChunkIds
from annotator.interchange.exports import ExportQuery, export_bytes, export_json_lines, export_records
from annotator.interchange.formats.jsonl import JsonLinesWriter
from annotator.interchange.formats.sources import BytesSource
from annotator.interchange.options import ImportOptions
from annotator.interchange.services import import_articles
from annotator.interchange.span_json import plain_spans

pytestmark = pytest.mark.django_db

# Every ASCII character but NUL (PostgreSQL text holds none), quotes, backslashes, the line and paragraph
# separators, a BOM, an astral emoji with a joiner, right-to-left text.
ODD = "".join(map(chr, range(1, 128))) + " \u2028\u2029\ufeff 👩\u200d👩\u200d👧 مرحبا é"


def load(project, lines, by):
    options = ImportOptions(format="jsonl", set_kind=SetKind.GOLD, create_types=True)
    data = b"\n".join(orjson.dumps(line) for line in lines)
    return import_articles(project=project, source=BytesSource("in.jsonl", data), options=options, by=by)


def written_by_records(project, **filters):
    return b"".join(JsonLinesWriter().write(export_records(project, ExportQuery(**filters))))


def gold_set(external_id):
    return AnnotationSet.objects.get(article__external_id=external_id, kind=SetKind.GOLD)


def odd_lines():
    """Spans over every odd character; spans of one extent with types whose names sort differently by
    code point than by id or by a collation ("b" < "Z" in most collations, "Z" < "b" < "É" by code point),
    and one with printf-style "%" in its name."""
    entities = [{"start": at, "end": at + 1, "label": "ODD"} for at in range(0, len(ODD), 3)]
    entities += [
        {"start": 0, "end": 40, "label": label}
        for label in ("b", "Z", "É", 'q"uote\\', "\u2028sep", "%d %s%%")
    ]
    return [
        {"external_id": "odd", "title": "odd", "text": ODD, "entities": entities},
        {"external_id": "empty", "text": "No spans.", "entities": []},
        {"external_id": "plain", "text": "Minsk and Vilnius.", "entities": [
            {"start": 0, "end": 5, "label": "GPE"}, {"start": 10, "end": 17, "label": "GPE"}]},
    ]  # fmt: skip


def test_spans_written_by_the_database_are_the_bytes_the_writer_makes(news):
    load(news.project, odd_lines(), by=news.manager)
    expected = written_by_records(news.project)
    assert b"".join(export_bytes(news.project, ExportQuery(format="jsonl"))) == expected
    assert b"".join(export_json_lines(news.project, ExportQuery(), chunk_size=1)) == expected
    odd = next(orjson.loads(line) for line in expected.splitlines() if b'"external_id":"odd"' in line)
    assert [e["label"] for e in odd["entities"] if (e["start"], e["end"]) == (0, 40)] == [
        "%d %s%%", "Z", "b", "q\"uote\\", "É", "\u2028sep",
    ]  # fmt: skip
    assert [e["text"] for e in odd["entities"] if e["start"] == ODD.index("%")] == ["%"]
    assert odd["entities"][0] == {
        "id": "T1", "start": 0, "end": 1, "label": "ODD", "text": "\x01",
        "provenance": odd["entities"][0]["provenance"],
    }  # fmt: skip
    assert odd["entities"][0]["provenance"]["created_by"] == "maria"
    if connection.vendor == "postgresql":  # the database wrote these sets' spans
        ids = [gold_set(name).pk for name in ("odd", "plain")]
        assert all(plain_spans(news.project.pk, ChunkIds(ids)).values())


def test_sets_with_spans_by_several_people_or_times_or_with_fragments_go_the_row_way(news):
    load(news.project, odd_lines(), by=news.manager)
    fragmented = {"external_id": "fragments", "text": "Bank of ... Minsk", "entities": [
        {"start": 0, "end": 17, "label": "ORG", "fragments": [[0, 7], [12, 17]]}]}  # fmt: skip
    load(news.project, [fragmented], by=news.manager)
    plain = gold_set("plain")
    annotations.create_span(annotation_set=plain, start=11, end=17, entity_type=news.gpe, by=news.annotator,
                            expected_version=plain.version)  # fmt: skip
    expected = written_by_records(news.project)
    assert b"".join(export_bytes(news.project, ExportQuery(format="jsonl"))) == expected
    lines = {orjson.loads(line)["external_id"]: orjson.loads(line) for line in expected.splitlines()}
    assert [e["provenance"]["created_by"] for e in lines["plain"]["entities"]] == ["maria", "maria", "alice"]
    assert lines["fragments"]["entities"][0]["text"] == "Bank of Minsk"
    if connection.vendor == "postgresql":
        found = plain_spans(
            news.project.pk, ChunkIds([plain.pk, gold_set("fragments").pk, gold_set("odd").pk])
        )
        assert (found[plain.pk], found[gold_set("fragments").pk]) == (None, None)
        assert found[gold_set("odd").pk] is not None


def test_a_json_lines_export_makes_the_same_queries_for_every_chunk(news):
    load(news.project, odd_lines(), by=news.manager)

    def queries(**filters):
        with CaptureQueriesContext(connection) as captured:
            written = b"".join(export_json_lines(news.project, ExportQuery(**filters), chunk_size=1))
        return written.count(b"\n"), len(captured)

    # First the first chunk's articles and their sets; then for each chunk its links, relations,
    # decisions, attribute values, its spans (as JSON on PostgreSQL: these sets are plain; as rows on
    # SQLite) and the next chunk's articles and sets (none after the last): on PostgreSQL one round trip
    # per chunk. Once per export: the project's relation types; the author's username; the entity types
    # (on PostgreSQL the span JSON query takes them as arrays, not by a join each chunk).
    once = 3
    assert queries() == (3, 2 + 3 * 7 + once)
    assert queries(article_ids=(gold_set("plain").article_id,)) == (1, 2 + 7 + once)


@pytest.mark.django_db(transaction=True)
def test_a_streamed_download_holds_one_pooled_connection_while_it_reads(client, news, settings):
    """The request's own connection goes back to the pool when the export starts streaming: the thread
    that reads ahead holds the only one, and gives it back when the download ends or stops early."""
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs PostgreSQL: a pooled connection for the reading thread (SQLite reads in the writer's)"
        )
    import psycopg

    load(news.project, odd_lines(), by=news.manager)
    settings.ANNOTATOR_EXPORT_CHUNK_SIZE = 1  # three chunks: the reader waits with the next one in hand
    db = connection.settings_dict
    with psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"],
                         autocommit=True) as observer:  # fmt: skip

        def held():
            """Connections this process holds: taken from the pool and not given back, or open backends
            when there is no pool (the observer's own not counted)."""
            if connection.pool is not None:
                stats = connection.pool.get_stats()
                return stats["pool_size"] - stats["pool_available"]
            return observer.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
            ).fetchone()[0]

        def settles_at(count):
            for _ in range(50):  # a backend ends, and a connection is back in the pool, a moment later
                if held() == count:
                    return True
                time.sleep(0.1)
            return False

        client.force_login(news.manager)
        response = client.get(reverse("api:project-export", args=[news.project.pk]))
        assert response.status_code == 200
        assert connection.connection is not None  # the request's own, taken by its queries
        # Counted from here: earlier tests' threads may still hold pooled connections of their own.
        before = held()
        chunks = iter(response.streaming_content)
        try:
            first = next(chunks)
            assert connection.connection is None  # given back as the stream started
            assert settles_at(before)  # the reader's took its place: one connection, not two
            rest = b"".join(chunks)
        finally:  # a failed assertion leaves no reader holding a snapshot (the test's flush would wait on it)
            response.close()
        assert first + rest == written_by_records(news.project)
        assert settles_at(before - 1)  # the reader's is given back too

        connection.ensure_connection()
        response = client.get(reverse("api:project-export", args=[news.project.pk]))
        next(iter(response.streaming_content))
        response.close()  # a client that went away mid-download
        assert settles_at(before - 1)


def test_an_export_of_sets_made_by_hand_stops_asking_for_json_after_a_chunk_without_plain_sets(news):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: JSON made by the database (SQLite exports read rows only)")
    load(news.project, odd_lines(), by=news.manager)
    first = gold_set("odd")  # the first chunk's set, now with spans made at two moments
    annotations.create_span(annotation_set=first, start=1, end=2, entity_type=news.gpe, by=news.manager,
                            expected_version=first.version)  # fmt: skip
    expected = written_by_records(news.project)
    with CaptureQueriesContext(connection) as captured:
        written = b"".join(export_json_lines(news.project, ExportQuery(), chunk_size=1))
    assert written == expected
    assert sum("string_agg" in query["sql"] for query in captured) == 1  # the first chunk only
