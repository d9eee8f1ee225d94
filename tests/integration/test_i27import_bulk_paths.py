"""The bulk paths of an import with spans: span rows drafted by the reader thread, history rows copied by
the database, ids reserved in runs, spent batches freed by the reader; and what must not change with
them: every row and history row exact, a refused file writing nothing, on both databases."""

import gc
import threading
import weakref

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotator.annotations.models import AnnotationSet, EntityLink, Relation, Span, SpanAttribute
from annotator.interchange.bulk import BulkWriter, Table, id_runs
from annotator.interchange.importer import SPAN_COLUMNS, Importer
from annotator.interchange.readahead import ReadAhead
from annotator.projects.models import AttributeKind, EntityType, EntityTypeAttribute
from tests.integration.test_import_service import ent, jsonl, line, rejected, row_counts, run

pytestmark = pytest.mark.django_db


def postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: the bulk path (binary COPY, ids by sequence)")


# Seven articles in batches of two: the last one (line 7) has a span ending after its text.
TEXTS = [f"Sergey Naryshkin met Olga Volkova in Minsk, report {n}." for n in range(7)]


def records(*, broken_last=False):
    lines = []
    for n, text in enumerate(TEXTS):
        entities = [
            ent(0, 16, "PERSON", id="T1", text="Sergey Naryshkin"),
            ent(21, 33, "PERSON", id="T2", text="Olga Volkova"),
            ent(37, 42, "GPE", id="T3", text="Minsk"),
        ]
        if n == 1:
            entities[0]["kb_id"] = "sergey-naryshkin"
        if n == 2:
            entities[2]["attributes"] = {"Capital": True}
        if n == 3:
            entities.append(ent(0, 25, "GROUP", id="T4", fragments=[[0, 6], [21, 25]], text="Sergey Olga"))
        if broken_last and n == len(TEXTS) - 1:
            entities[-1]["end"] = len(text) + 5
        relations = [{"head": "T1", "tail": "T3", "label": "visited"}] if n == 4 else []
        lines.append(line(external_id=f"r{n}", text=text, entities=entities, relations=relations))
    return jsonl(*lines)


COPIED = {
    Span: ["id", "annotation_set_id", "start", "end", "entity_type_id", "surface", "fragments", "created_by_id",
           "created_at", "updated_at"],
    AnnotationSet: ["id", "article_id", "kind", "annotator_id", "name", "status", "version",
                    "guideline_version_id", "submitted_at", "created_at", "updated_at"],
    EntityLink: ["id", "span_id", "kb_entity_id", "created_by_id", "created_at", "updated_at"],
    Relation: ["id", "annotation_set_id", "head_id", "tail_id", "relation_type_id", "created_by_id",
               "created_at", "updated_at"],
    SpanAttribute: ["id", "span_id", "attribute_id", "value", "created_at", "updated_at"],
}  # fmt: skip


def assert_one_exact_history_row_each(model, manager, before=frozenset()):
    """Every row of `model` but those in `before` has one history row: its own columns, created by the
    manager's import, dated when it was made. Returns the rows by id."""
    rows = {row["id"]: row for row in model.objects.values(*COPIED[model]) if row["id"] not in before}
    history = [
        entry
        for entry in model.history.values(
            *COPIED[model], "history_type", "history_user_id", "history_change_reason", "history_date"
        )
        if entry["id"] not in before
    ]
    assert len(history) == len(rows), model
    for entry in history:
        row = rows[entry["id"]]
        assert {column: entry[column] for column in COPIED[model]} == row, model
        assert (entry["history_type"], entry["history_user_id"], entry["history_change_reason"]) == (
            "+", manager.pk, "Imported",
        ), model  # fmt: skip
        assert entry["history_date"] == row["created_at"], model
    return rows


@pytest.fixture
def schema(news):
    EntityTypeAttribute.objects.create(entity_type=news.gpe, name="Capital", kind=AttributeKind.BOOLEAN)
    return news


def test_every_imported_row_has_one_history_row_copying_it_exactly(schema, settings):
    settings.ANNOTATOR_IMPORT_BATCH_SIZE = 2  # four batches
    before = {model: set(model.objects.values_list("pk", flat=True)) for model in COPIED}
    result = run(schema, records(), create_types=True)  # GROUP is created by the fourth record
    assert (result.created, result.spans, result.links, result.relations, result.attributes) == (
        7,
        22,
        1,
        1,
        1,
    )
    spans = assert_one_exact_history_row_each(Span, schema.manager, before[Span])
    assert len(spans) == 22
    imported = [
        (row["start"], row["end"], row["surface"], row["fragments"]) for _, row in sorted(spans.items())
    ]
    assert imported[:3] == [
        (0, 16, "Sergey Naryshkin", None),
        (21, 33, "Olga Volkova", None),
        (37, 42, "Minsk", None),
    ]
    assert imported[9:13] == [
        (0, 16, "Sergey Naryshkin", None), (21, 33, "Olga Volkova", None), (37, 42, "Minsk", None),
        (0, 25, "Sergey Naryshkin met Olga", [[0, 6], [21, 25]]),
    ]  # fmt: skip
    group = EntityType.objects.get(project=schema.project, name="GROUP")
    assert [row["entity_type_id"] for row in spans.values()].count(group.pk) == 1
    counts = {AnnotationSet: 7, EntityLink: 1, Relation: 1, SpanAttribute: 1}
    for model, count in counts.items():
        assert len(assert_one_exact_history_row_each(model, schema.manager, before[model])) == count, model


def test_a_file_refused_on_its_last_line_writes_nothing_and_says_exactly_why(schema, settings):
    settings.ANNOTATOR_IMPORT_BATCH_SIZE = 2  # the first three batches are written before line 7 is read
    before = row_counts()
    report = rejected(schema, records(broken_last=True), create_types=True)
    assert str(report) == "1 problem in news.jsonl; nothing was imported."
    assert report.problems == [
        {
            "file": "news.jsonl",
            "line": 7,
            "field": "entities[T3].start",
            "message": "The span [37, 58) ends after the text, which has 53 characters.",
        }
    ]
    assert row_counts() == before
    assert not EntityType.objects.filter(name="GROUP").exists()


def test_history_rows_are_copied_by_the_database_from_the_rows_just_written(schema, settings):
    postgres_only()
    settings.ANNOTATOR_IMPORT_BATCH_SIZE = 4  # two batches with spans
    with CaptureQueriesContext(connection) as queries:
        run(schema, records(), create_types=True)
    copies = [
        q["sql"] for q in queries.captured_queries
        if q["sql"].startswith('INSERT INTO "annotations_historicalspan"') and 'FROM "annotations_span" s' in q["sql"]
    ]  # fmt: skip
    assert len(copies) == 2
    assert_one_exact_history_row_each(Span, schema.manager)


def test_ids_taken_from_a_sequence_that_skips_still_get_their_exact_history(schema):
    """Another session taking values meanwhile scatters the reserved ids: they come back one by one, and
    the history is copied from every run of them."""
    postgres_only()
    with connection.cursor() as cursor:
        cursor.execute('ALTER TABLE "annotations_span" ALTER COLUMN "id" SET INCREMENT BY 3')
    writer = BulkWriter()
    table = Table(Span, SPAN_COLUMNS)
    first = writer.reserve_ids(table, 4)
    assert first == [first[0] + 3 * n for n in range(4)]
    spans_before = Span.objects.count()
    run(schema, records(), create_types=True)
    assert_one_exact_history_row_each(Span, schema.manager)
    assert Span.objects.count() == spans_before + 22


def test_ids_reserved_at_once_are_one_run_else_runs_in_order():
    assert id_runs([]) == []
    assert id_runs([7, 8, 9, 10]) == [(7, 10)]
    assert id_runs([10, 8, 9, 7]) == [(7, 10)]
    assert id_runs([1, 4, 7, 8, 20]) == [(1, 1), (4, 4), (7, 8), (20, 20)]
    assert id_runs([20, 8, 1, 7, 4]) == [(1, 1), (4, 4), (7, 8), (20, 20)]


def test_span_rows_of_known_types_are_drafted_by_the_reader_thread_and_not_planned_again(
    schema, settings, monkeypatch
):
    settings.ANNOTATOR_IMPORT_BATCH_SIZE = 2
    drafted, planned = [], []
    draft, plan_spans = Importer.draft, Importer._plan_spans

    def spy_draft(self, prepared):
        result = draft(self, prepared)
        drafted.append((threading.current_thread().name, result.record.external_id, result.spans is not None))
        return result

    def spy_plan_spans(self, record, plan):
        planned.append(record.external_id)
        return plan_spans(self, record, plan)

    monkeypatch.setattr(Importer, "draft", spy_draft)
    monkeypatch.setattr(Importer, "_plan_spans", spy_plan_spans)
    run(schema, records(), create_types=True)
    assert {name for name, _, _ in drafted} == {"import-read-ahead"}
    # r2 has an attribute, r3 a type the import creates: those two are planned by the writer, the rest not.
    assert [(external_id, done) for _, external_id, done in drafted] == [
        ("r0", True), ("r1", True), ("r2", False), ("r3", False), ("r4", True), ("r5", True), ("r6", True),
    ]  # fmt: skip
    assert planned == ["r2", "r3"]


def test_what_the_consumer_discards_is_freed_by_the_reader_thread():
    class Thing:
        pass

    freed_in = []
    gc.collect()

    def produce():
        for _ in range(4):
            things = [Thing() for _ in range(3)]
            for thing in things:
                weakref.finalize(thing, lambda: freed_in.append(threading.current_thread().name))
            yield things

    with ReadAhead(produce()) as ahead:
        for things in ahead:
            ahead.discard(things)
            assert things == []
    assert freed_in == ["import-read-ahead"] * 12
