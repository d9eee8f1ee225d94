"""The database refuses a relation whose head or tail span is in another annotation set.

Django has no composite foreign keys, so this is written per backend: on PostgreSQL, foreign keys
from (head_id, annotation_set_id) and (tail_id, annotation_set_id) to the spans' (id, annotation_set_id),
which `span_id_set_unique` makes a valid target; on SQLite, which cannot add constraints to an
existing table, triggers that abort the same inserts and updates.

A later migration that makes SQLite rebuild annotations_span or annotations_relation must drop these
triggers first and create them again after (see 0004).
"""

from django.db import migrations

POSTGRESQL = [
    (
        "ALTER TABLE annotations_relation ADD CONSTRAINT relation_head_in_set "
        "FOREIGN KEY (head_id, annotation_set_id) REFERENCES annotations_span (id, annotation_set_id)",
        "ALTER TABLE annotations_relation DROP CONSTRAINT relation_head_in_set",
    ),
    (
        "ALTER TABLE annotations_relation ADD CONSTRAINT relation_tail_in_set "
        "FOREIGN KEY (tail_id, annotation_set_id) REFERENCES annotations_span (id, annotation_set_id)",
        "ALTER TABLE annotations_relation DROP CONSTRAINT relation_tail_in_set",
    ),
]

_OUTSIDE_SET = (
    "(SELECT annotation_set_id FROM annotations_span WHERE id = NEW.head_id) IS NOT NEW.annotation_set_id "
    "OR (SELECT annotation_set_id FROM annotations_span WHERE id = NEW.tail_id) IS NOT NEW.annotation_set_id"
)
_ABORT = "BEGIN SELECT RAISE(ABORT, 'relation head and tail must be spans of the relation''s annotation set'); END"
SQLITE = [
    (
        f"CREATE TRIGGER relation_spans_in_set_insert BEFORE INSERT ON annotations_relation "
        f"FOR EACH ROW WHEN {_OUTSIDE_SET} {_ABORT}",
        "DROP TRIGGER relation_spans_in_set_insert",
    ),
    (
        f"CREATE TRIGGER relation_spans_in_set_update BEFORE UPDATE OF head_id, tail_id, annotation_set_id "
        f"ON annotations_relation FOR EACH ROW WHEN {_OUTSIDE_SET} {_ABORT}",
        "DROP TRIGGER relation_spans_in_set_update",
    ),
    (
        "CREATE TRIGGER span_keeps_set_while_related BEFORE UPDATE OF annotation_set_id ON annotations_span "
        "FOR EACH ROW WHEN NEW.annotation_set_id IS NOT OLD.annotation_set_id AND EXISTS ("
        "SELECT 1 FROM annotations_relation WHERE head_id = OLD.id OR tail_id = OLD.id) "
        "BEGIN SELECT RAISE(ABORT, 'a span with relations cannot move to another annotation set'); END",
        "DROP TRIGGER span_keeps_set_while_related",
    ),
]

STATEMENTS = {"postgresql": POSTGRESQL, "sqlite": SQLITE}


def forwards(apps, schema_editor):
    for create, _ in STATEMENTS.get(schema_editor.connection.vendor, []):
        schema_editor.execute(create)


def backwards(apps, schema_editor):
    for _, drop in reversed(STATEMENTS.get(schema_editor.connection.vendor, [])):
        schema_editor.execute(drop)


class Migration(migrations.Migration):
    dependencies = [("annotations", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
