"""The export service: round trips through the real import service for every annotated format, the
filters, provenance, the export job, and a constant number of queries per chunk of articles.

The gold project is imported from a CRLF source with astral emoji, a PDF-style hard line break inside
an entity, nested and crossing spans, relations (one symmetric), links to KB ids and a NIL link.
"""

import json
from datetime import datetime, timedelta

import orjson
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from annotator.annotations import services as annotations
from annotator.annotations.models import AnnotationSet, SetKind, SetStatus
from annotator.interchange.exports import (
    ExportQuery,
    InvalidExport,
    SetChoice,
    export_bytes,
    export_json_lines,
    export_path,
    export_records,
    file_name,
    start_export,
)
from annotator.interchange.formats.base import Limits
from annotator.interchange.formats.sources import BytesSource, ZipSource
from annotator.interchange.formats.writing import one_layer
from annotator.interchange.options import ImportOptions
from annotator.interchange.services import import_articles
from annotator.jobs.models import JobStatus
from annotator.jobs.services import run_job
from annotator.projects.services import update_guidelines
from annotator.suggestions.services import accept_suggestion
from tests.factories import (
    ArticleFactory,
    KBEntityFactory,
    KnowledgeBaseFactory,
    ProjectFactory,
    SuggestionFactory,
)

pytestmark = pytest.mark.django_db

SRC = (
    "👩\u200d👩\u200d👧 Sergey Naryshkin, Director of the SVR, met Alexander Lukashenko in Minsk 🇧🇾.\r\n"
    "The Belarusian State\r\nSecurity Committee (KGB) said nothing about Gennady Ivanov."
)
ENTITIES = [  # (id, phrase, label, kb_id: absent / None for NIL / an id)
    ("S1", "Sergey Naryshkin", "PERSON", "sergey-naryshkin"),
    ("S2", "Naryshkin", "PERSON", ...),  # nested in S1
    ("S3", "SVR", "ORG", ...),
    ("S4", "Alexander Lukashenko", "PERSON", ...),
    ("S5", "Lukashenko in Minsk", "EVENT", ...),  # crosses S4 and S6
    ("S6", "Minsk", "GPE", "minsk"),
    ("S7", "Belarusian State\r\nSecurity Committee", "ORG", ...),
    ("S8", "KGB", "ORG", None),
    ("S9", "Gennady Ivanov", "PERSON", ...),
]
RELATIONS = [("S1", "S6", "visited"), ("S1", "S4", "met_with"), ("S8", "S7", "alias_of")]


def entity(span_id, phrase, label, kb_id, text=SRC):
    start = text.index(phrase)
    found = {"id": span_id, "start": start, "end": start + len(phrase), "label": label}
    return found if kb_id is ... else {**found, "kb_id": kb_id}


SOURCE = b"\n".join(
    orjson.dumps(line)
    for line in [
        {
            "external_id": "a1", "title": "Naryshkin in Minsk", "text": SRC,
            "metadata": {"url": "https://example.org/a1", "page": 3},
            "entities": [entity(*e) for e in ENTITIES],
            "relations": [{"head": h, "tail": t, "label": label} for h, t, label in RELATIONS],
        },
        {
            "external_id": "a2", "title": "<script>alert('x')</script> {{ x }} مرحبا", "text": "🇧🇾 Belarus and مرحبا.",
            "entities": [{"start": 0, "end": 2, "label": "GPE"}, {"start": 3, "end": 10, "label": "GPE"}],
        },
        {"external_id": "a3", "text": "Nothing to see here.", "entities": []},
    ]
)  # fmt: skip


def kb_of(project):
    kb = KnowledgeBaseFactory(project=project, name="News KB")
    KBEntityFactory(knowledge_base=kb, kb_id="sergey-naryshkin", name="Sergey Naryshkin", type="PERSON")
    KBEntityFactory(knowledge_base=kb, kb_id="minsk", name="Minsk", type="GPE")


def load(project, data, fmt, tmp_path=None, by=None):
    if data[:2] == b"PK":
        path = tmp_path / "export.zip"
        path.write_bytes(data)
        source = ZipSource(path, path.name, Limits())
    else:
        source = BytesSource(f"export.{fmt}", data)
    options = ImportOptions(format=fmt, set_kind=SetKind.GOLD, create_types=True)
    return import_articles(project=project, source=source, options=options, by=by)


def with_gold(news):
    """The news project with three articles imported into gold (the fixture's own article has none)."""
    load(news.project, SOURCE, "jsonl", by=news.manager)
    return news


@pytest.fixture
def gold(news):
    return with_gold(news)


def fresh_project():
    project = ProjectFactory(name="Round trip")
    kb_of(project)
    return project


def snapshot(project):
    """Every gold set of the project, by external id (or text), as plain comparable values."""
    result = {}
    sets = AnnotationSet.objects.filter(article__project=project, kind=SetKind.GOLD).select_related("article")
    for annotation_set in sets.order_by("article_id"):
        spans = {
            span.pk: (span.start, span.end, span.entity_type.name, span.surface, span.fragments)
            for span in annotation_set.spans.select_related("entity_type")
        }
        links = {
            spans[span.pk]: (span.link.kb_entity.kb_id if span.link.kb_entity else None)
            for span in annotation_set.spans.filter(link__isnull=False).select_related("link__kb_entity")
        }
        relations = {
            (spans[relation.head_id], spans[relation.tail_id], relation.relation_type.name)
            for relation in annotation_set.relations.select_related("relation_type")
        }
        article = annotation_set.article
        result[article.external_id or article.text] = {
            "text": article.text, "title": article.title, "metadata": article.metadata,
            "spans": sorted(spans.values()), "links": links, "relations": relations,
        }  # fmt: skip
    return result


def exported(project, fmt, **filters):
    return b"".join(export_bytes(project, ExportQuery(format=fmt, **filters)))


def test_the_gold_project_is_what_the_source_says(gold):
    a1 = snapshot(gold.project)["a1"]
    stored = SRC.replace("\r\n", "\n")
    assert a1["text"] == stored
    state = stored.index("Belarusian")
    assert (state, state + 35, "ORG", "Belarusian State\nSecurity Committee", None) in a1["spans"]
    assert len(a1["spans"]) == 9
    assert len(a1["relations"]) == 3
    assert sorted(a1["links"].values(), key=str) == [None, "minsk", "sergey-naryshkin"]


def test_jsonl_round_trips_everything(gold):
    project = fresh_project()
    result = load(project, exported(gold.project, "jsonl"), "jsonl")
    assert (result.created, result.spans, result.relations, result.links) == (3, 11, 3, 3)
    assert snapshot(project) == snapshot(gold.project)


def test_label_studio_round_trips_spans_relations_titles_and_metadata(gold):
    project = fresh_project()
    load(project, exported(gold.project, "labelstudio"), "labelstudio")
    expected = {key: {**value, "links": {}} for key, value in snapshot(gold.project).items()}
    assert snapshot(project) == expected


def test_docbin_round_trips_spans_links_titles_and_metadata(gold):
    project = fresh_project()
    load(project, exported(gold.project, "spacy"), "spacy")
    expected = {key: {**value, "relations": set()} for key, value in snapshot(gold.project).items()}
    assert snapshot(project) == expected


def test_brat_round_trips_spans_relations_and_links(gold, tmp_path):
    project = fresh_project()
    load(project, exported(gold.project, "brat"), "brat", tmp_path)
    expected = {key: {**value, "title": "", "metadata": {}} for key, value in snapshot(gold.project).items()}
    assert snapshot(project) == expected


def test_doccano_round_trips_spans_and_relations(gold):
    project = fresh_project()
    load(project, exported(gold.project, "doccano"), "doccano")
    expected = {
        key: {**value, "links": {}, "title": "", "metadata": {**value["metadata"], "title": value["title"]}}
        for key, value in snapshot(gold.project).items()
    }
    for value in expected.values():
        if not value["metadata"]["title"]:
            del value["metadata"]["title"]
    assert snapshot(project) == expected


def test_conll_round_trips_the_outermost_entities_token_by_token(gold):
    project = fresh_project()
    load(project, exported(gold.project, "conll"), "conll")
    back = list(snapshot(project).values())
    originals = list(snapshot(gold.project).values())
    assert len(back) == len(originals) == 3

    def layer(value):
        from annotator.interchange.formats.base import SpanRecord

        kept = one_layer(SpanRecord("", start, end, label) for start, end, label, _, _ in value["spans"])
        return [("".join(value["text"][s.start : s.end].split()), s.label) for s in kept]

    # CoNLL carries tokens, not the whitespace between them (spaCy splits a flag into its two letters).
    for mine, theirs in zip(back, originals, strict=True):
        assert [("".join(surface.split()), label) for _, _, label, surface, _ in mine["spans"]] == layer(
            theirs
        )
    assert [label for _, _, label, _, _ in back[0]["spans"]] == [
        "PERSON",
        "ORG",
        "PERSON",
        "GPE",
        "ORG",
        "ORG",
        "PERSON",
    ]


def test_discontinuous_spans_keep_their_fragments_in_jsonl(news):
    text = "Bank of ... Minsk"
    line = {"external_id": "d1", "text": text, "entities": [
        {"start": 0, "end": 17, "label": "ORG", "fragments": [[0, 7], [12, 17]], "text": "Bank of Minsk"}]}  # fmt: skip
    load(news.project, orjson.dumps(line), "jsonl", by=news.manager)
    (entity,) = orjson.loads(exported(news.project, "jsonl"))["entities"]
    assert (entity["fragments"], entity["text"]) == ([[0, 7], [12, 17]], "Bank of Minsk")
    project = fresh_project()
    load(project, exported(news.project, "jsonl"), "jsonl")
    assert snapshot(project) == snapshot(news.project)


def test_jsonl_carries_provenance_of_sets_spans_links_relations_and_suggestions(gold):
    article = gold.article
    gold_set = annotations.get_or_create_gold_set(article=article)
    suggestion = SuggestionFactory(article=article, start=0, end=16, entity_type=gold.person, score=0.75)
    accept_suggestion(suggestion=suggestion, annotation_set=gold_set, by=gold.manager, expected_version=1)
    line = orjson.loads(exported(gold.project, "jsonl", article_ids=(article.pk,)))
    assert line["provenance"] | {"updated_at": None} == {
        "article_id": article.pk, "set": "gold", "annotator": None, "status": "in_progress", "version": 2,
        "guideline_version": None, "updated_at": None,
    }  # fmt: skip
    (span,) = line["entities"]
    version = suggestion.suggester_version
    assert span["provenance"]["created_by"] == "maria"
    made = datetime.fromisoformat(span["provenance"]["created_at"])
    assert abs(made - timezone.now()) < timedelta(minutes=1)  # ISO 8601 with its time zone, on any database
    assert abs(datetime.fromisoformat(line["provenance"]["updated_at"]) - timezone.now()) < timedelta(
        minutes=1
    )
    assert span["provenance"]["suggestion"] == {
        "suggestion": suggestion.pk, "source": "kb-ruler", "suggester": f"{version.name} {version.version}",
        "score": 0.75, "verdict": "accepted",
    }  # fmt: skip
    a1 = [json.loads(x) for x in exported(gold.project, "jsonl").splitlines()][1]
    assert a1["external_id"] == "a1"
    assert a1["relations"][0]["provenance"]["created_by"] == "maria"
    assert a1["entities"][0]["provenance"]["link"]["created_by"] == "maria"


def test_set_filters_pick_gold_one_annotator_or_all_annotators(gold):
    bob = gold.annotator.__class__.objects.create(username="bob")
    second = annotations.get_or_create_own_set(article=gold.article, user=bob)
    annotations.create_span(
        annotation_set=second, start=0, end=6, entity_type=gold.person, by=bob, expected_version=1
    )

    def ids(**filters):
        return [(r.external_id, (r.provenance or {})["annotator"], len(r.spans)) for r in
                export_records(gold.project, ExportQuery(**filters))]  # fmt: skip

    assert ids() == [("a1", None, 9), ("a2", None, 2), ("a3", None, 0)]
    assert ids(sets=SetChoice.ANNOTATOR, annotator="bob") == [("news-1", "bob", 1)]
    assert ids(sets=SetChoice.ALL) == [("news-1", "alice", 0), ("news-1", "bob", 1)]
    assert ids(article_ids=(gold.article.pk,)) == []


def test_status_time_and_guideline_filters(gold):
    a2 = AnnotationSet.objects.get(article__external_id="a2", kind=SetKind.GOLD)
    AnnotationSet.objects.filter(pk=a2.pk).update(status=SetStatus.CURATED)
    version = update_guidelines(project=gold.project, text="Tag people.", by=gold.manager)
    a3 = AnnotationSet.objects.get(article__external_id="a3", kind=SetKind.GOLD)
    AnnotationSet.objects.filter(pk=a3.pk).update(guideline_version=version, updated_at=timezone.now())
    since = timezone.now()
    AnnotationSet.objects.filter(pk=a3.pk).update(updated_at=since)

    def ids(**filters):
        return [record.external_id for record in export_records(gold.project, ExportQuery(**filters))]

    assert ids(set_status=("curated",)) == ["a2"]
    assert ids(article_status=("curated",)) == ["a2"]
    assert ids(article_status=("new",)) == ["a1", "a3"]
    assert ids(guideline_version=version.number) == ["a3"]
    assert ids(updated_since=since) == ["a3"]


def test_bad_queries_are_refused_before_anything_is_read():
    with pytest.raises(InvalidExport, match="Unknown export format 'xml'"):
        ExportQuery(format="xml")
    with pytest.raises(InvalidExport, match="Name the annotator"):
        ExportQuery(sets=SetChoice.ANNOTATOR)
    with pytest.raises(InvalidExport, match="Unknown set status 'done'"):
        ExportQuery(set_status=("done",))
    assert ExportQuery.from_params(ExportQuery(set_status=("curated",), article_ids=(3,)).as_params()) == (
        ExportQuery(set_status=("curated",), article_ids=(3,))
    )


def test_the_number_of_queries_is_constant_per_chunk_of_articles(gold):
    for number in range(4, 10):
        article = ArticleFactory(
            project=gold.project, external_id=f"x{number}", text=f"Text {number} of many."
        )
        gold_set = annotations.get_or_create_gold_set(article=article)
        span = annotations.create_span(annotation_set=gold_set, start=0, end=4, entity_type=gold.person,
                                       by=gold.manager, expected_version=1)  # fmt: skip
        annotations.link_span(span=span, kb_entity=gold.minsk, by=gold.manager, expected_version=2)

    def queries(**filters):
        with CaptureQueriesContext(connection) as captured:
            records = list(export_records(gold.project, ExportQuery(**filters), chunk_size=3))
        return len(records), len(captured)

    # First the first chunk's articles and their sets; then for each chunk its spans, links, decisions,
    # attribute values, relations, and the next chunk's articles and sets (none after the last). Once per
    # export: the project's relation types and entity types; once per person who made a span, link or
    # relation, when first met: their username (one manager here).
    assert queries(article_ids=(1,)) == (0, 2)
    three = [article.pk for article in gold.project.articles.order_by("pk")][1:4]
    assert queries(article_ids=tuple(three)) == (3, 2 + 7 + 2 + 1)
    assert queries() == (9, 2 + 3 * 7 + 2 + 1)
    assert queries(article_status=("new",)) == (9, 2 + 3 * 7 + 2 + 1)


def test_an_export_job_writes_the_same_bytes_to_a_file_and_counts_articles(gold, settings, tmp_path, today):
    settings.DATA_DIR = tmp_path
    query = ExportQuery(format="jsonl")
    job = run_job(start_export(project=gold.project, query=query, by=gold.manager, queue=False))
    assert job.status == JobStatus.SUCCEEDED, job.errors
    assert export_path(job).read_bytes() == exported(gold.project, "jsonl")
    assert job.result == {
        "file_name": file_name(gold.project, query), "articles": 3, "bytes": export_path(job).stat().st_size,
    }  # fmt: skip
    assert (job.progress_done, job.progress_total) == (3, 3)
    assert job.result["file_name"] == f"news-gold-{today:%Y-%m-%d}.jsonl"


@pytest.mark.django_db(transaction=True)
def test_on_postgresql_an_export_reads_one_snapshot_while_others_write(news):
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs PostgreSQL: a snapshot read beside writers (SQLite exports read without a transaction)"
        )
    import psycopg

    with_gold(news)
    records = export_records(news.project, ExportQuery(), chunk_size=1)
    assert next(records).external_id == "a1"
    settings = connection.settings_dict
    with psycopg.connect(host=settings["HOST"], port=settings["PORT"], user=settings["USER"],
                         dbname=settings["NAME"], autocommit=True) as other:  # fmt: skip
        other.execute("DELETE FROM annotations_span WHERE surface = 'Belarus'")
        other.execute("UPDATE articles_article SET title = 'changed' WHERE external_id = 'a2'")
    a2 = next(records)
    assert (a2.title, [span.label for span in a2.spans]) == (
        "<script>alert('x')</script> {{ x }} مرحبا",
        ["GPE", "GPE"],
    )
    assert [record.external_id for record in records] == ["a3"]
    assert [(r.title, len(r.spans)) for r in export_records(news.project, ExportQuery())][1] == ("changed", 1)


def test_the_json_lines_made_from_rows_are_the_bytes_the_writer_makes_from_records(gold):
    """`export_bytes` writes JSON Lines straight from the rows; every kind of span, link, attribute,
    relation and provenance comes out as `JsonLinesWriter` writes it from `export_records`."""
    from annotator.interchange.formats.jsonl import JsonLinesWriter
    from annotator.suggestions.models import SuggestionKind

    note = 'a "quoted"\nnote'
    extra = {"external_id": "a4", "title": "Fragments, attributes, a named KB", "text": "Bank of ... Minsk\tand KGB",
             "metadata": {}, "entities": [
                 {"id": "F", "start": 0, "end": 17, "label": "ORG", "fragments": [[0, 7], [12, 17]],
                  "text": "Bank of Minsk", "attributes": {"negated": True, "note": note}},
                 {"id": "M", "start": 12, "end": 17, "label": "GPE", "kb_id": "minsk", "kb": "News KB"},
                 {"id": "K", "start": 22, "end": 25, "label": "ORG", "kb_id": None}],
             "relations": [{"head": "K", "tail": "M", "label": "based_in"}]}  # fmt: skip
    load(gold.project, orjson.dumps(extra), "jsonl", by=gold.manager)
    own = gold.annotation_set
    entity = SuggestionFactory(article=gold.article, start=0, end=16, entity_type=gold.person, score=0.5)
    accept_suggestion(suggestion=entity, annotation_set=own, by=gold.annotator, expected_version=1)
    relation = SuggestionFactory(
        article=gold.article, kind=SuggestionKind.RELATION, start=0, end=16, entity_type=gold.person,
        tail_start=25, tail_end=30, tail_entity_type=gold.gpe, relation_type=gold.visited, score=0.25,
    )  # fmt: skip
    accept_suggestion(suggestion=relation, annotation_set=own, by=gold.annotator, expected_version=2)
    imported = ImportOptions(
        format="jsonl", set_kind=SetKind.IMPORTED, set_name="spacy run", on_duplicate="update"
    )
    import_articles(
        project=gold.project, source=BytesSource("again.jsonl", SOURCE), options=imported, by=None
    )
    for filters in (
        {},
        {"sets": SetChoice.ALL},
        {"sets": SetChoice.IMPORTED},
        {"article_ids": (gold.article.pk,)},
    ):
        query = ExportQuery(format="jsonl", **filters)
        expected = b"".join(JsonLinesWriter().write(export_records(gold.project, query)))
        assert b"".join(export_bytes(gold.project, query)) == expected
        # One article a chunk: chunks without suggestions, attributes or links take the short way.
        assert b"".join(export_json_lines(gold.project, query, chunk_size=1)) == expected
        assert expected.count(b"\n") == len(list(export_records(gold.project, query)))
    lines = [orjson.loads(line) for line in exported(gold.project, "jsonl").splitlines()]
    a4 = next(line for line in lines if line["external_id"] == "a4")
    found = [
        (e["text"], e.get("fragments"), e.get("attributes"), e.get("kb_id", "-"), e.get("kb"))
        for e in a4["entities"]
    ]
    assert found == [
        ("Bank of Minsk", [[0, 7], [12, 17]], {"negated": True, "note": note}, "-", None),
        ("Minsk", None, None, "minsk", "News KB"),
        ("KGB", None, None, None, None),
    ]  # fmt: skip
    (mine,) = [
        orjson.loads(line) for line in exported(gold.project, "jsonl", sets=SetChoice.ALL).splitlines()
    ]
    assert [r["provenance"]["suggestion"]["score"] for r in mine["relations"]] == [0.25]
    assert [e["provenance"]["suggestion"]["score"] for e in mine["entities"]] == [0.5, 0.25]


def test_span_times_read_as_text_are_written_as_iso_8601_like_the_other_times():
    """Span rows carry their time as the database's text (cheaper than to_json on PostgreSQL); `iso_text`
    makes it what IsoTime gives for the same value: fractions trimmed alike, the offset with minutes."""
    from datetime import UTC

    from django.db.models import DateTimeField, Value

    from annotator.interchange.exports import IsoTime, TimeText, iso_text
    from annotator.projects.models import Project

    project = ProjectFactory()
    stamps = [
        datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        datetime(2026, 1, 2, 3, 4, 5, 500000, tzinfo=UTC),
        datetime(2026, 12, 31, 23, 59, 59, 123456, tzinfo=UTC),
        datetime(1999, 7, 8, 9, 10, 11, 10, tzinfo=UTC),
    ]
    found = []
    for stamp in stamps:
        value = Value(stamp, output_field=DateTimeField())
        text, iso = (
            Project.objects.filter(pk=project.pk)
            .annotate(text=TimeText(value), iso=IsoTime(value))
            .values_list("text", "iso")
            .get()
        )
        assert iso_text(text) == iso
        found.append(iso)
    if connection.vendor == "postgresql":
        assert found == [
            "2026-01-02T03:04:05+00:00", "2026-01-02T03:04:05.5+00:00", "2026-12-31T23:59:59.123456+00:00",
            "1999-07-08T09:10:11.00001+00:00",
        ]  # fmt: skip
    assert iso_text(None) is None
    assert iso_text("2026-01-02 03:04:05.5+00") == "2026-01-02T03:04:05.5+00:00"
    assert iso_text("2026-01-02 03:04:05+05:30") == "2026-01-02T03:04:05+05:30"
    assert iso_text("2026-01-02T03:04:05.500+00:00") == "2026-01-02T03:04:05.500+00:00"


@pytest.mark.django_db(transaction=True)
def test_on_postgresql_the_reading_thread_gives_its_connection_back_also_when_the_export_stops_early(news):
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs PostgreSQL: a reading thread with a connection of its own (SQLite reads in the writer's)"
        )
    import time

    with_gold(news)

    def in_use():
        """Connections taken and not given back: from the pool when there is one, else open backends."""
        connection.ensure_connection()
        if connection.pool is not None:
            stats = connection.pool.get_stats()
            return stats["pool_size"] - stats["pool_available"]
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
            return cursor.fetchone()[0]

    before = in_use()
    records = export_records(news.project, ExportQuery(), chunk_size=1)
    assert [record.external_id for record in records] == ["a1", "a2", "a3"]
    lines = export_bytes(news.project, ExportQuery(format="jsonl"))
    records = export_records(news.project, ExportQuery(), chunk_size=1)
    assert next(records).external_id == "a1"
    assert next(lines).count(b"\n") == 3
    assert in_use() > before  # the readers hold theirs while they read
    records.close()  # a client that went away mid-download
    lines.close()
    for _ in range(50):  # a backend ends a moment after its client closes it
        if in_use() == before:
            break
        time.sleep(0.1)
    assert in_use() == before


def test_a_type_made_while_an_export_reads_is_named_in_the_chunks_after(gold):
    """SQLite exports read without a snapshot: a span of a type made after the first chunk still gets
    its type's name (the types are read again when a span names one not read yet)."""
    from annotator.projects.models import EntityType

    records = export_records(gold.project, ExportQuery(), chunk_size=1)
    assert next(records).external_id == "a1"
    a2 = AnnotationSet.objects.get(article__external_id="a2", kind=SetKind.GOLD)
    weapon = EntityType.objects.create(project=gold.project, name="WEAPON")
    annotations.create_span(annotation_set=a2, start=3, end=10, entity_type=weapon, by=gold.manager,
                            expected_version=a2.version)  # fmt: skip
    assert [span.label for span in next(records).spans] == ["GPE", "GPE", "WEAPON"]


def test_a_set_with_more_spans_than_the_ready_made_ids_gets_every_id(news):
    from annotator.interchange.formats.jsonl import JsonLinesWriter

    text = "ab " * 1100
    line = {"external_id": "many", "text": text,
            "entities": [{"start": 3 * n, "end": 3 * n + 2, "label": "GPE"} for n in range(1100)]}  # fmt: skip
    load(news.project, orjson.dumps(line), "jsonl", by=news.manager)
    written = b"".join(export_bytes(news.project, ExportQuery(format="jsonl")))
    assert written == b"".join(JsonLinesWriter().write(export_records(news.project, ExportQuery())))
    entities = orjson.loads(written)["entities"]
    assert [e["id"] for e in entities] == [f"T{n}" for n in range(1, 1101)]
