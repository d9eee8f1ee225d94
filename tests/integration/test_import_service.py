"""The import service: the exact rows an import writes, all or nothing, duplicates, revisions, the schema."""

import json
import zipfile

import pytest
from django.db import connection
from django.db.models import Count
from django.test.utils import CaptureQueriesContext

from annotator.annotations import services as annotations
from annotator.annotations.models import AnnotationSet, EntityLink, Relation, SetKind, SetStatus, Span
from annotator.articles.models import Article, ArticleRevision, content_hash
from annotator.interchange.formats.sources import BytesSource, ZipSource, open_source
from annotator.interchange.models import FlagKind, ReanchorFlag
from annotator.interchange.options import ImportOptions, ImportResult, InvalidImport
from annotator.interchange.services import ImportRejected, import_articles, source_limits
from annotator.projects.models import EntityType, RelationType
from annotator.suggestions.models import Suggestion
from tests.factories import KBEntityFactory, KnowledgeBaseFactory, RelationTypeFactory, SuggestionFactory

pytestmark = pytest.mark.django_db

# 0         1         2         3         4
# 0123456789012345678901234567890123456789012345678
# Sergey Naryshkin 🇧🇾 visited Minsk.\r\nThen Vitebsk.      (the flag is two code points: 17 and 18)
CRLF_TEXT = "Sergey Naryshkin 🇧🇾 visited Minsk.\r\nThen Vitebsk."


def line(**fields):
    return json.dumps(fields, ensure_ascii=False)


def ent(start, end, label, **more):
    return {"start": start, "end": end, "label": label, **more}


UNKNOWN = "Add it to the schema, or let the import create the types it finds."


def jsonl(*lines):
    return ("\n".join(lines) + "\n").encode()


def run(news, data, *, name="news.jsonl", **options):
    options.setdefault("format", "jsonl")
    return import_articles(
        project=news.project,
        source=BytesSource(name, data),
        options=ImportOptions(**options),
        by=news.manager,
    )


def rejected(news, data, *, name="news.jsonl", **options):
    before = row_counts()
    with pytest.raises(ImportRejected) as caught:
        run(news, data, name=name, **options)
    assert row_counts() == before, "a rejected import wrote rows"
    return caught.value


def row_counts():
    return {
        model.__name__: model.objects.count()
        for model in (
            Article,
            AnnotationSet,
            Span,
            EntityLink,
            Relation,
            ArticleRevision,
            ReanchorFlag,
            EntityType,
        )
    } | {"span history": Span.history.count(), "set history": AnnotationSet.history.count()}


def spans_of(annotation_set):
    return [
        (s.start, s.end, s.entity_type.name, s.surface, s.fragments)
        for s in annotation_set.spans.select_related("entity_type").order_by("start", "end")
    ]


ANNOTATED = line(
    external_id="a1",
    title="Naryshkin in Minsk",
    text=CRLF_TEXT,
    metadata={"url": "https://news.example/a1"},
    entities=[
        {
            "id": "T1",
            "start": 0,
            "end": 16,
            "label": "PERSON",
            "text": "Sergey Naryshkin",
            "kb_id": "sergey-naryshkin",
        },
        {"id": "T2", "start": 28, "end": 33, "label": "GPE", "text": "Minsk", "kb_id": None},
        {"id": "T3", "start": 41, "end": 48, "label": "GPE", "text": "Vitebsk"},
    ],
    relations=[{"head": "T1", "tail": "T2", "label": "visited"}],
)


def test_an_annotated_line_becomes_an_article_and_an_imported_set_with_exact_rows(news):
    result = run(news, jsonl(ANNOTATED, line(external_id="a2", text="Plain text.")), set_name="tass 2024")
    assert result == ImportResult(created=2, spans=3, links=2, relations=1)
    article = Article.objects.get(external_id="a1")
    stored = "Sergey Naryshkin 🇧🇾 visited Minsk.\nThen Vitebsk."
    assert (article.title, article.text, article.metadata, article.revision) == (
        "Naryshkin in Minsk", stored, {"url": "https://news.example/a1"}, 1,
    )  # fmt: skip
    assert article.content_hash == content_hash(stored)
    imported = AnnotationSet.objects.get(article=article)
    assert (imported.kind, imported.name, imported.status, imported.version, imported.annotator) == (
        SetKind.IMPORTED, "tass 2024", SetStatus.IN_PROGRESS, 1, None,
    )  # fmt: skip
    assert spans_of(imported) == [
        (0, 16, "PERSON", "Sergey Naryshkin", None),
        (28, 33, "GPE", "Minsk", None),
        (40, 47, "GPE", "Vitebsk", None),  # after the CRLF: one code point earlier than in the file
    ]
    assert {s.created_by for s in imported.spans.all()} == {news.manager}
    links = {
        (link.span.surface, link.kb_entity.kb_id if link.kb_entity else None)
        for link in EntityLink.objects.all()
    }
    assert links == {("Sergey Naryshkin", "sergey-naryshkin"), ("Minsk", None)}
    relation = Relation.objects.get()
    assert (relation.head.surface, relation.relation_type.name, relation.tail.surface, relation.annotation_set) == (
        "Sergey Naryshkin", "visited", "Minsk", imported,
    )  # fmt: skip
    assert not AnnotationSet.objects.filter(article__external_id="a2").exists()  # no annotations, no set
    # Every row the import made has its "created" history entry, by the manager who imported.
    for model, count in ((AnnotationSet, 1), (Span, 3), (EntityLink, 2), (Relation, 1)):
        entries = model.history.filter(
            history_type="+", history_user=news.manager, history_change_reason="Imported"
        )
        assert entries.count() == count, model


def test_a_large_import_refreshes_the_planner_statistics(news, settings):
    settings.ANNOTATOR_ANALYZE_AFTER_ROWS = 6  # 2 articles + 3 spans + 2 links + 1 relation = 8 rows
    tables = ["articles_article", "annotations_annotationset", "annotations_span", "annotations_entitylink",
              "annotations_relation"]  # fmt: skip

    def estimated_spans():
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", [Span._meta.db_table])
            else:  # the row count leads each index's statistics line
                cursor.execute(
                    "SELECT max(CAST(stat AS INTEGER)) FROM sqlite_stat1 WHERE tbl = %s", ["annotations_span"]
                )
            return cursor.fetchone()[0]

    with CaptureQueriesContext(connection) as queries:
        run(news, jsonl(ANNOTATED, line(external_id="a2", text="Plain text.")))
    analyzed = [query["sql"] for query in queries if query["sql"].startswith("ANALYZE")]
    quoted = [f'"{table}"' for table in tables]
    # On PostgreSQL the articles' text and metadata are not sampled: nothing filters or sorts on them.
    articles = '"articles_article" ("id", "created_at", "updated_at", "project_id", "external_id", "title", ' \
        '"content_hash", "revision")'  # fmt: skip
    if connection.vendor == "postgresql":
        assert analyzed == [f"ANALYZE {', '.join([articles, *quoted[1:]])}"]
    else:
        assert analyzed == [f"ANALYZE {table}" for table in quoted]
    assert estimated_spans() == Span.objects.count() == 3
    # Plain articles: only their table is sampled again, not the annotations' (millions of rows, maybe).
    settings.ANNOTATOR_ANALYZE_AFTER_ROWS = 2
    with CaptureQueriesContext(connection) as queries:
        run(news, jsonl(line(external_id="p1", text="First."), line(external_id="p2", text="Second.")))
    analyzed = [query["sql"] for query in queries if query["sql"].startswith("ANALYZE")]
    assert analyzed == [
        f"ANALYZE {articles}" if connection.vendor == "postgresql" else 'ANALYZE "articles_article"'
    ]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'articles_article'")
            assert cursor.fetchone()[0] == Article.objects.count()
            cursor.execute(
                "SELECT attname FROM pg_stats WHERE tablename = 'articles_article' ORDER BY attname"
            )
            sampled = {row[0] for row in cursor.fetchall()}
        assert {"project_id", "external_id", "content_hash", "title"} <= sampled


def test_a_small_import_or_a_dry_run_leaves_the_statistics_to_autovacuum(news, settings):
    settings.ANNOTATOR_ANALYZE_AFTER_ROWS = 9
    with CaptureQueriesContext(connection) as queries:
        run(news, jsonl(ANNOTATED, line(external_id="a2", text="Plain text.")))
        settings.ANNOTATOR_ANALYZE_AFTER_ROWS = 1
        run(news, jsonl(line(external_id="a3", text="Other text.")), dry_run=True)
    assert not [query for query in queries if query["sql"].startswith("ANALYZE")]


def test_annotations_go_into_gold_when_the_manager_says_so(news):
    run(news, jsonl(ANNOTATED), set_kind=SetKind.GOLD)
    gold = AnnotationSet.objects.get(article__external_id="a1")
    assert (gold.kind, gold.name, len(spans_of(gold))) == (SetKind.GOLD, "", 3)


def test_running_the_same_import_again_writes_nothing_new(news):
    data = jsonl(ANNOTATED, line(text="No id: known by its text."))
    run(news, data)
    before = row_counts()
    versions = list(AnnotationSet.objects.values_list("pk", "version"))
    assert run(news, data) == ImportResult(skipped=2)
    assert run(news, data, on_duplicate="update") == ImportResult(unchanged=2)
    assert row_counts() == before
    assert list(AnnotationSet.objects.values_list("pk", "version")) == versions


def test_duplicates_reported_as_errors_name_the_article_and_write_nothing(news):
    report = rejected(news, jsonl(line(external_id="news-1", text="Other text.")), on_duplicate="error")
    assert report.message == "1 problem in news.jsonl; nothing was imported."
    assert report.problems == [
        {
            "file": "news.jsonl",
            "line": 1,
            "field": "external_id",
            "message": f"The project already has an article with the external id 'news-1' (#{news.article.pk}). "
            "Import with duplicates skipped or updated to go past it.",
        }
    ]


def test_duplicate_ids_in_one_file_are_errors_in_one_batch_and_across_batches(news, settings):
    """(A repeated text without an id follows --on-duplicate: an error here, see the warnings' tests.)"""
    settings.ANNOTATOR_IMPORT_BATCH_SIZE = 2
    data = jsonl(
        line(external_id="x", text="One."),
        line(external_id="x", text="Two."),
        line(external_id="y", text="Three."),
        line(external_id="x", text="Four."),
        line(text="Same text."),
        line(text="Same text."),
    )
    report = rejected(news, data, on_duplicate="error")
    assert [(p["line"], p["field"], p["message"]) for p in report.problems] == [
        (2, "external_id", "The external id 'x' is already used by line 1."),
        (4, "external_id", "The external id 'x' is already used by an earlier record of this file."),
        (6, "text", "The same text is already in line 5 (without an external id, a text is its identity)."),
    ]


def test_once_a_problem_is_found_the_rest_is_checked_but_nothing_more_is_written(news, settings, monkeypatch):
    from annotator.interchange.importer import Importer

    settings.ANNOTATOR_IMPORT_BATCH_SIZE = 2
    written = []
    write = Importer.write
    monkeypatch.setattr(
        Importer,
        "write",
        lambda self, plans: (written.extend(p.record.external_id for p in plans), write(self, plans)),
    )
    data = jsonl(
        line(external_id="a1", text="One."),
        line(external_id="a2", text="Two."),
        line(external_id="a3", text="Three.", entities=[ent(0, 9, "PERSON")]),
        line(external_id="a4", text="Four."),
        line(external_id="a5", text="Five."),
        line(external_id="a6", text="Six."),
        line(external_id="a5", text="Five again."),
        line(external_id="a8", text="Eight.", entities=[ent(0, 5, "NOBODY")]),
    )
    report = rejected(news, data)
    assert [(p["line"], p["field"], p["message"]) for p in report.problems] == [
        (3, "entities[0].start", "The span [0, 9) ends after the text, which has 6 characters."),
        (7, "external_id", "The external id 'a5' is already used by an earlier record of this file."),
        (
            8,
            "entities[0].label",
            f"Unknown entity type 'NOBODY' (the project's entity types: DATE, GPE, ORG, PERSON). {UNKNOWN}",
        ),
    ]
    # The reader runs ahead, so the first batch may or may not be written before the problem is seen;
    # nothing after it is.
    assert set(written) <= {"a1", "a2"}


def test_updating_an_article_with_edited_text_keeps_the_old_text_and_reanchors_every_set(news):
    # Alice's set: Naryshkin [0, 16), Minsk [25, 30), April 15 [34, 42), and Naryshkin visited Minsk.
    own = news.annotation_set
    naryshkin = annotations.create_span(
        annotation_set=own, start=0, end=16, entity_type=news.person, by=news.annotator, expected_version=1
    )
    minsk = annotations.create_span(
        annotation_set=own, start=25, end=30, entity_type=news.gpe, by=news.annotator, expected_version=2
    )
    april = annotations.create_span(
        annotation_set=own, start=34, end=42, entity_type=news.date, by=news.annotator, expected_version=3
    )
    on_date = RelationTypeFactory(project=news.project, name="on_date")
    dated = annotations.create_relation(
        annotation_set=own,
        head=naryshkin,
        tail=april,
        relation_type=on_date,
        by=news.annotator,
        expected_version=4,
    )
    visited = annotations.create_relation(
        annotation_set=own,
        head=naryshkin,
        tail=minsk,
        relation_type=news.visited,
        by=news.annotator,
        expected_version=5,
    )
    annotations.link_span(span=naryshkin, kb_entity=news.naryshkin, by=news.annotator, expected_version=6)
    verb = annotations.create_span(
        annotation_set=own, start=17, end=24, entity_type=news.org, by=news.annotator, expected_version=7
    )
    kept_suggestion = SuggestionFactory(article=news.article, start=25, end=30, entity_type=news.gpe)
    stale_suggestion = SuggestionFactory(article=news.article, start=34, end=42, entity_type=news.date)
    edited = "On Monday Sergey Naryshkin went to Minsk."
    result = run(
        news,
        jsonl(line(external_id="news-1", title="Naryshkin in Minsk", text=edited)),
        on_duplicate="update",
    )
    assert result == ImportResult(updated=1, revisions=1, flags=2)
    article = Article.objects.get(pk=news.article.pk)
    assert (article.text, article.revision, article.content_hash) == (edited, 2, content_hash(edited))
    revision = ArticleRevision.objects.get()
    assert (revision.article, revision.number, revision.text, revision.replaced_by) == (
        article, 1, "Sergey Naryshkin visited Minsk on April 15.", news.manager,
    )  # fmt: skip
    assert revision.summary == {
        "spans_moved": 2, "spans_changed": 1, "spans_lost": 1, "suggestions_moved": 1, "suggestions_removed": 1,
    }  # fmt: skip
    own.refresh_from_db()
    assert own.version == 9  # one claim for the whole re-anchoring
    assert spans_of(own) == [
        (10, 26, "PERSON", "Sergey Naryshkin", None),
        (27, 34, "ORG", "went to", None),
        (35, 40, "GPE", "Minsk", None),
    ]
    assert Span.objects.get(pk=naryshkin.pk).link.kb_entity == news.naryshkin  # the same span, link and all
    assert Relation.objects.filter(pk=visited.pk).exists()  # both its spans moved
    assert not Relation.objects.filter(pk=dated.pk).exists()  # its tail is gone
    flags = {flag.kind: flag for flag in ReanchorFlag.objects.all()}
    changed, lost = flags[FlagKind.CHANGED], flags[FlagKind.LOST]
    assert (changed.span_id, changed.label, changed.old_surface, changed.new_surface) == (
        verb.pk, "ORG", "visited", "went to",
    )  # fmt: skip
    assert (changed.old_start, changed.old_end, changed.new_start, changed.new_end) == (17, 24, 27, 34)
    assert (lost.span, lost.label, lost.old_start, lost.old_end, lost.old_surface, lost.revision) == (
        None, "DATE", 34, 42, "April 15", revision,
    )  # fmt: skip
    assert lost.detail == {
        "fragments": None,
        "link": None,
        "relations": [{"type": "on_date", "role": "tail", "other": "Sergey Naryshkin", "other_start": 0}],
    }
    assert list(Suggestion.objects.values_list("pk", "start", "end")) == [(kept_suggestion.pk, 35, 40)]
    assert not Suggestion.objects.filter(pk=stale_suggestion.pk).exists()
    assert Span.history.filter(id=april.pk, history_type="-", history_user=news.manager).exists()


def test_updating_the_import_s_own_set_keeps_matching_spans_and_claims_one_version(news):
    def annotated(*entities):
        return jsonl(line(external_id="a1", text="Sergey Naryshkin visited Minsk.", entities=list(entities)))

    person = {"start": 0, "end": 16, "label": "PERSON", "kb_id": "sergey-naryshkin"}
    place = {"start": 25, "end": 30, "label": "GPE"}
    run(news, annotated(person, place))
    imported = AnnotationSet.objects.get(article__external_id="a1")
    kept = Span.objects.get(annotation_set=imported, start=0)
    result = run(
        news,
        annotated({**person, "kb_id": "minsk"}, {"start": 17, "end": 24, "label": "ORG"}),
        on_duplicate="update",
    )
    assert result == ImportResult(updated=1, spans=1)
    imported.refresh_from_db()
    assert imported.version == 2
    assert spans_of(imported) == [
        (0, 16, "PERSON", "Sergey Naryshkin", None),
        (17, 24, "ORG", "visited", None),
    ]
    assert Span.objects.get(annotation_set=imported, start=0).pk == kept.pk
    assert EntityLink.objects.get(span=kept).kb_entity == news.minsk


def test_an_import_into_a_curated_gold_set_is_refused(news):
    run(
        news,
        jsonl(line(external_id="a1", text="Minsk.", entities=[{"start": 0, "end": 5, "label": "GPE"}])),
        set_kind="gold",
    )
    gold = AnnotationSet.objects.get(article__external_id="a1")
    annotations.submit_set(annotation_set=gold, by=news.manager, expected_version=1)
    report = rejected(
        news,
        jsonl(line(external_id="a1", text="Minsk.", entities=[])),
        set_kind="gold",
        on_duplicate="update",
    )
    assert report.problems[0]["message"] == (
        f"The gold set of article #{gold.article_id} is curated: reopen it before importing into it."
    )


def test_unknown_labels_are_reported_once_where_they_first_appear(news):
    data = jsonl(
        line(text="Minsk one.", entities=[{"start": 0, "end": 5, "label": "CITY"}]),
        line(text="Minsk two.", entities=[{"start": 0, "end": 5, "label": "CITY"}], relations=[]),
        line(text="A to B.", entities=[ent(0, 1, "PERSON"), ent(5, 6, "GPE")],
             relations=[{"head": 0, "tail": 1, "label": "flew_to"}]),
    )  # fmt: skip
    report = rejected(news, data)
    assert report.problems == [
        {"file": "news.jsonl", "line": 1, "field": "entities[0].label",
         "message": f"Unknown entity type 'CITY' (the project's entity types: DATE, GPE, ORG, PERSON). {UNKNOWN}"},
        {"file": "news.jsonl", "line": 3, "field": "relations[0].label",
         "message": f"Unknown relation type 'flew_to' (the project's relation types: met_with, visited). {UNKNOWN}"},
    ]  # fmt: skip


def test_the_manager_can_let_the_import_create_the_types_it_finds(news):
    data = jsonl(line(text="A to B.", entities=[ent(0, 1, "CITY"), ent(5, 6, "CITY")],
                      relations=[{"head": 0, "tail": 1, "label": "flew_to"}]))  # fmt: skip
    result = run(news, data, create_types=True)
    assert (result.entity_types_created, result.relation_types_created, result.relations) == (
        ["CITY"],
        ["flew_to"],
        1,
    )
    assert EntityType.objects.get(project=news.project, name="CITY").position == 1
    assert RelationType.objects.get(project=news.project, name="flew_to").directed is True


def test_relations_the_schema_does_not_allow_and_overlaps_the_project_forbids_are_reported(news):
    news.project.allow_overlapping_spans = False
    news.project.save()
    data = jsonl(
        line(text="Minsk visited Sergey.", entities=[ent(0, 5, "GPE"), ent(14, 20, "PERSON")],
             relations=[{"head": 0, "tail": 1, "label": "visited"}]),
        line(text="Sergey Naryshkin", entities=[ent(0, 16, "PERSON"), ent(7, 16, "PERSON")]),
    )  # fmt: skip
    assert [(p["line"], p["field"], p["message"]) for p in rejected(news, data).problems] == [
        (1, "relations[0].label", "The schema does not allow visited from a GPE to a PERSON."),
        (2, "entities[1].start",
         "This project does not allow overlapping spans, and [7, 16) overlaps the span at [0, 16)."),
    ]  # fmt: skip


def test_symmetric_relations_are_stored_one_way_round_and_a_pair_given_both_ways_is_one_relation(news):
    entities = [{"start": 0, "end": 6, "label": "PERSON"}, {"start": 11, "end": 17, "label": "PERSON"}]
    run(
        news,
        jsonl(
            line(
                text="Sergey and Viktor",
                entities=entities,
                relations=[{"head": 1, "tail": 0, "label": "met_with"}],
            )
        ),
    )
    relation = Relation.objects.get()
    assert (relation.head.surface, relation.tail.surface) == ("Sergey", "Viktor")
    both = [{"head": 0, "tail": 1, "label": "met_with"}, {"head": 1, "tail": 0, "label": "met_with"}]
    pair = [ent(0, 4, "PERSON"), ent(9, 14, "PERSON")]
    report = rejected(news, jsonl(line(text="Ivan and Pavel!", entities=pair, relations=both)))
    assert (
        report.problems[0]["message"]
        == "The relation 1 -met_with-> 0 is there twice (met_with is symmetric: the two directions are one relation)."
    )


def test_links_to_unknown_merged_or_ambiguous_kb_ids_are_reported(news):
    other = KnowledgeBaseFactory(project=news.project, name="Other KB")
    KBEntityFactory(knowledge_base=other, kb_id="minsk", name="Minsk")
    old = KBEntityFactory(knowledge_base=news.kb, kb_id="Q-old", name="Old", merged_into=news.naryshkin)
    assert old.merged_into_id
    entity = {"start": 0, "end": 5, "label": "GPE"}
    data = jsonl(
        line(text="Minsk", entities=[{**entity, "kb_id": "Q404"}]),
        line(text="Minsk.", entities=[{**entity, "kb_id": "Q-old"}]),
        line(text="Minsk!", entities=[{**entity, "kb_id": "minsk"}]),
        line(text="Minsk?", entities=[{**entity, "kb_id": "minsk", "kb": "Other KB"}]),
    )
    assert [(p["line"], p["message"]) for p in rejected(news, data).problems] == [
        (1, "The KB id 'Q404' is in none of this project's knowledge bases."),
        (2, "Q-old was merged into sergey-naryshkin; link to that entity."),
        (3, "The KB id 'minsk' is in several knowledge bases (News KB, Other KB): name one."),
    ]


def test_a_dry_run_checks_and_counts_everything_and_keeps_nothing(news):
    before = row_counts()
    result = run(news, jsonl(ANNOTATED), dry_run=True)
    assert result == ImportResult(dry_run=True, created=1, spans=3, links=2, relations=1)
    assert (
        result.summary()
        == "Would import 1 new article; 3 spans, 1 relation, 2 links; nothing was kept (dry run)."
    )
    assert row_counts() == before


def test_one_bad_record_anywhere_means_nothing_is_written(news, settings):
    settings.ANNOTATOR_IMPORT_BATCH_SIZE = 2
    good = [line(external_id=f"g{i}", text=f"Good {i}.") for i in range(5)]
    report = rejected(
        news,
        jsonl(*good, line(external_id="bad", text="Bad.", entities=[{"start": 0, "end": 9, "label": "GPE"}])),
    )
    assert report.problems == [
        {"file": "news.jsonl", "line": 6, "field": "entities[0].start",
         "message": "The span [0, 9) ends after the text, which has 4 characters."}
    ]  # fmt: skip


def test_the_report_is_capped_and_says_reading_stopped(news, settings):
    settings.ANNOTATOR_IMPORT_MAX_ERRORS = 3
    report = rejected(news, jsonl(*["[1]"] * 10))
    assert (
        report.message
        == "Reading news.jsonl stopped at 3 problems (the report's limit); nothing was imported."
    )
    assert [p["line"] for p in report.problems] == [1, 2, 3]


def test_article_length_is_limited_by_a_setting(news, settings):
    settings.ANNOTATOR_IMPORT_MAX_ARTICLE_CHARS = 10
    report = rejected(news, jsonl(line(text="Twelve chars")))
    assert report.problems[0]["message"] == "The text has 12 characters; the limit is 10."


@pytest.mark.parametrize(
    ("name", "fmt", "data", "problem"),
    [
        ("latin1.jsonl", "jsonl", b'{"text": "caf\xe9"}\n',
         (1, None, "The text is not UTF-8: byte 0xe9 at column 14 cannot be read. Save the file as UTF-8.")),
        ("nul.jsonl", "jsonl", b'{"text": "a\\u0000b"}\n',
         (1, "text", "The text contains a NUL character at offset 1 (line 1).")),
        ("cut.jsonl", "jsonl", b'{"text": "a"}\n{"text": "cut',
         (2, None, "The line ends in the middle of its JSON: the file looks cut short.")),
        ("array.jsonl", "jsonl", b"[]\n", (1, None, "Each line must be a JSON object, not a list.")),
        ("quote.csv", "csv", b'text\n"never closed\n',
         (2, None, "A quoted field that starts on line 2 is never closed (the file ends inside it).")),
        ("empty.jsonl", "jsonl", b"\n\n",
         (None, None, "There are no documents in the JSON Lines (native) format here.")),
    ],
)  # fmt: skip
def test_each_kind_of_bad_input_gets_its_report_and_no_rows(news, name, fmt, data, problem):
    report = rejected(news, data, name=name, format=fmt)
    assert [(p["line"], p["field"], p["message"]) for p in report.problems] == [problem]
    assert {p["file"] for p in report.problems} == {name}


def test_brat_discontinuous_entities_keep_their_fragments(news, tmp_path):
    path = tmp_path / "brat.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("d1.txt", "Bank of Minsk and its\r\nchief")
        archive.writestr(
            "d1.ann",
            "T1\tORG 0 4;8 13\tBank Minsk\nT2\tPERSON 23 28\tchief\nN1\tReference T2 News_KB:NIL\tx\n",
        )
    import_articles(
        project=news.project, source=ZipSource(path, "brat.zip", source_limits()),
        options=ImportOptions(format="brat", create_types=True), by=news.manager,
    )  # fmt: skip
    imported = AnnotationSet.objects.get(article__external_id="d1")
    assert spans_of(imported) == [
        (0, 13, "ORG", "Bank of Minsk", [[0, 4], [8, 13]]),
        (22, 27, "PERSON", "chief", None),
    ]
    assert EntityLink.objects.get().kb_entity is None


def test_a_csv_with_a_mapping_through_open_source(news, tmp_path):
    path = tmp_path / "wire.csv"
    path.write_bytes('guid,body,headline\nw1,"Line one,\r\nline two 🇧🇾",Визит\n'.encode())
    import_articles(
        project=news.project, source=open_source(path, limits=source_limits()),
        options=ImportOptions(
            format="csv", format_options={"text": "body", "external_id": "guid", "title": "headline"}
        ),
        by=None,
    )  # fmt: skip
    article = Article.objects.get(external_id="w1")
    assert (article.text, article.title, article.metadata) == ("Line one,\nline two 🇧🇾", "Визит", {})


def test_options_are_refused_before_anything_is_read():
    with pytest.raises(InvalidImport, match="Unknown format 'xml'"):
        ImportOptions(format="xml")
    with pytest.raises(InvalidImport, match="has no option 'text'"):
        ImportOptions(format="jsonl", format_options={"text": "body"})
    with pytest.raises(InvalidImport, match=r"Name the imported set \(up to 100 characters\)."):
        ImportOptions(format="jsonl", set_name=" ")


def test_imports_leave_other_projects_alone(news, outsider):
    other = outsider.memberships.get().project
    import_articles(project=other, source=BytesSource("a.jsonl", jsonl(line(external_id="news-1", text="Theirs."))),
                    options=ImportOptions(format="jsonl"), by=outsider)  # fmt: skip
    assert dict(Article.objects.values("project").annotate(n=Count("pk")).values_list("project", "n")) == {
        news.project.pk: 1, other.pk: 1,
    }  # fmt: skip
