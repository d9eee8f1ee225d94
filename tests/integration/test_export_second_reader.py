"""A large JSON Lines export on PostgreSQL shares the JSON's making with a second connection in its snapshot
(`span_json.SecondReader`): the same bytes as one connection writes, nothing written meanwhile in what
either reads, opened only past a number of articles, and closed however the download ends."""

import time

import orjson
import pytest
from django.db import connection
from django.urls import reverse

from annotator.annotations.models import AnnotationSet, SetKind
from annotator.interchange import exports
from annotator.interchange.exports import ExportQuery, export_json_lines
from annotator.interchange.span_json import SECOND_READER_NAME, SecondReader
from tests.integration.test_export_plain_json import load, odd_lines, written_by_records

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL: the second reader is a second connection in the export's snapshot "
        "(pg_export_snapshot); SQLite exports read on one connection",
    ),
]


def lines(more=3):
    """The odd, empty and plain sets; a set with a relation (written from rows, though the second
    connection is asked for it too); `more` plain sets with spans of one extent."""
    related = {"external_id": "related", "text": "Naryshkin visited Minsk.", "entities": [
        {"id": "E1", "start": 0, "end": 9, "label": "PERSON"}, {"id": "E2", "start": 18, "end": 23, "label": "GPE"}],
        "relations": [{"head": "E1", "tail": "E2", "label": "visited"}]}  # fmt: skip
    more = [
        {"external_id": f"more-{n}", "text": f"Minsk {n} and Vilnius.", "entities": [
            {"start": 0, "end": 5, "label": "GPE"}, {"start": 0, "end": 5, "label": "ORG"},
            {"start": len(f"Minsk {n} and "), "end": len(f"Minsk {n} and Vilnius"), "label": "GPE"}]}
        for n in range(more)
    ]  # fmt: skip
    return [*odd_lines(), related, *more]


class Recording(SecondReader):
    """The second reader, noting the sets it is asked for."""

    asked: list[list[int]] = []

    def plain_spans(self, project_id, set_ids):
        Recording.asked.append(list(set_ids.ids))
        return super().plain_spans(project_id, set_ids)


@pytest.fixture
def recording(monkeypatch):
    Recording.asked = []
    monkeypatch.setattr(exports, "SecondReader", Recording)
    return Recording


def gold_ids(project):
    return list(
        AnnotationSet.objects.filter(article__project=project, kind=SetKind.GOLD)
        .order_by("article_id")
        .values_list("pk", flat=True)
    )


def observer():
    import psycopg

    db = connection.settings_dict
    return psycopg.connect(
        host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"], autocommit=True
    )


def second_readers(observing):
    """Backends of the second reader open on this database."""
    return observing.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = %s",
        [SECOND_READER_NAME],
    ).fetchone()[0]


def settles_at(count, measure):
    for _ in range(50):  # a backend ends, and a connection is back in the pool, a moment later
        if measure() == count:
            return True
        time.sleep(0.1)
    return False


def test_two_connections_write_the_bytes_one_connection_writes(news, settings, recording):
    load(news.project, lines(), by=news.manager)
    expected = written_by_records(news.project)
    settings.ANNOTATOR_EXPORT_SECOND_READER_AFTER = -1
    one = b"".join(export_json_lines(news.project, ExportQuery(), chunk_size=3))
    assert recording.asked == []
    settings.ANNOTATOR_EXPORT_SECOND_READER_AFTER = 0
    two = b"".join(export_json_lines(news.project, ExportQuery(), chunk_size=3))
    assert one == two == expected
    ids = gold_ids(news.project)
    # The last two of each chunk's three sets (the last chunk's one set is the reader's own).
    assert recording.asked == [[ids[1], ids[2]], [ids[4], ids[5]]]
    related = next(orjson.loads(line) for line in two.splitlines() if b'"external_id":"related"' in line)
    assert [(r["head"], r["tail"], r["label"]) for r in related["relations"]] == [("T1", "T2", "visited")]
    more = orjson.loads(two.splitlines()[-1])
    assert [(e["id"], e["start"], e["label"]) for e in more["entities"]] == [
        ("T1", 0, "GPE"), ("T2", 0, "ORG"), ("T3", 12, "GPE")
    ]  # fmt: skip
    with observer() as observing:
        assert settles_at(0, lambda: second_readers(observing))


def test_the_second_connection_opens_only_past_the_threshold(news, settings, recording):
    load(news.project, lines(), by=news.manager)
    ids = gold_ids(news.project)
    settings.ANNOTATOR_EXPORT_SECOND_READER_AFTER = 3  # from the second chunk of three articles
    assert b"".join(export_json_lines(news.project, ExportQuery(), chunk_size=3)) == written_by_records(
        news.project
    )
    assert recording.asked == [[ids[4], ids[5]]]
    recording.asked = []
    settings.ANNOTATOR_EXPORT_SECOND_READER_AFTER = 7  # as many as the export holds: never
    b"".join(export_json_lines(news.project, ExportQuery(), chunk_size=3))
    assert recording.asked == []


def test_a_write_during_the_export_is_in_neither_connections_reads(news, settings, recording):
    load(news.project, lines(more=14), by=news.manager)  # six chunks of three
    ids = gold_ids(news.project)
    expected = written_by_records(news.project)
    settings.ANNOTATOR_EXPORT_SECOND_READER_AFTER = 0
    exported = export_json_lines(news.project, ExportQuery(), chunk_size=3)
    first = next(exported)
    # The reader has exported its snapshot, and is at most three chunks ahead (one waiting to be taken,
    # one waiting to be handed on, the second connection asked for its share of the next).
    assert len(recording.asked) <= 4
    with observer() as other:
        # The last chunk's last set is the second connection's to read; its first set is the reader's.
        other.execute("DELETE FROM annotations_span WHERE annotation_set_id IN (%s, %s) AND start = 0",
                      [ids[15], ids[17]])  # fmt: skip
        other.execute("UPDATE articles_article SET title = 'changed' WHERE external_id = 'more-13'")
    assert first + b"".join(exported) == expected
    assert recording.asked[-1] == [ids[16], ids[17]]
    after = [orjson.loads(line) for line in written_by_records(news.project).splitlines()]
    assert [len(line["entities"]) for line in after[-3:]] == [1, 3, 1]
    assert after[-1]["title"] == "changed"


def test_a_client_that_goes_away_mid_download_leaves_no_connection_open(client, news, settings, recording):
    load(news.project, lines(), by=news.manager)
    settings.ANNOTATOR_EXPORT_CHUNK_SIZE = 3
    settings.ANNOTATOR_EXPORT_SECOND_READER_AFTER = 0
    client.force_login(news.manager)
    url = reverse("api:project-export", args=[news.project.pk])
    with observer() as observing:

        def pooled():
            """Connections taken from the pool and not given back (or open backends without a pool)."""
            if connection.pool is not None:
                stats = connection.pool.get_stats()
                return stats["pool_size"] - stats["pool_available"]
            return observing.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND backend_type = 'client backend' AND application_name <> %s",
                [SECOND_READER_NAME],
            ).fetchone()[0]

        response = client.get(url)
        assert response.status_code == 200
        before = pooled()  # the request's own, given back as the stream starts; the reader's taken
        chunks = iter(response.streaming_content)
        try:
            first = next(chunks)
            assert second_readers(observing) == 1  # not taken from the pool
            assert settles_at(before, pooled)
            rest = b"".join(chunks)
        finally:
            response.close()
        assert first + rest == written_by_records(news.project)
        assert settles_at(0, lambda: second_readers(observing))
        assert settles_at(before - 1, pooled)

        connection.ensure_connection()
        response = client.get(url)
        next(iter(response.streaming_content))
        assert second_readers(observing) == 1
        response.close()  # a client that went away mid-download
        assert settles_at(0, lambda: second_readers(observing))
        assert settles_at(before - 1, pooled)
        assert recording.asked  # the second connection was asked for sets before the client went away


def test_a_failing_second_connection_fails_the_export_and_closes_both(news, settings, monkeypatch):
    load(news.project, lines(), by=news.manager)
    settings.ANNOTATOR_EXPORT_SECOND_READER_AFTER = 0

    def broken(self, project_id, set_ids):
        raise RuntimeError("the second connection broke")

    monkeypatch.setattr(SecondReader, "_read", broken)
    with observer() as observing:

        def readers():
            return observing.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND backend_type = 'client backend' AND pid <> pg_backend_pid() AND state <> 'idle'"
            ).fetchone()[0]

        with pytest.raises(RuntimeError, match="the second connection broke"):
            b"".join(export_json_lines(news.project, ExportQuery(), chunk_size=3))
        assert settles_at(0, lambda: second_readers(observing))
        assert settles_at(0, readers)  # no transaction left open (the reader's snapshot ended too)
