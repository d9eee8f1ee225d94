"""The span history keeps the indexes its readers use (by span, by set) and no others: each one more is
one more B-tree insertion per imported span (core/lean_history.py, migration annotations 0006)."""

import pytest
from django.db import connection

from annotator.annotations.models import Span

pytestmark = pytest.mark.django_db


def indexed_columns(table: str) -> set[tuple[str, ...]]:
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, table)
    return {tuple(c["columns"]) for c in found.values() if c["index"] or c["primary_key"]}


def test_the_span_history_is_indexed_by_its_key_by_span_and_by_set_only():
    assert indexed_columns(Span.history.model._meta.db_table) == {
        ("history_id",),
        ("id",),
        ("annotation_set_id",),
    }


def test_other_history_tables_keep_their_date_and_author_indexes():
    from annotator.annotations.models import AnnotationSet

    columns = indexed_columns(AnnotationSet.history.model._meta.db_table)
    assert {("history_date",), ("history_user_id",)} <= columns


def test_imported_spans_have_their_history_and_deleting_their_importer_still_clears_it(news):
    from tests.integration.test_import_service import ent, jsonl, line, run

    text = "Sergey Naryshkin met Lukashenko in Minsk."
    result = run(
        news, jsonl(line(external_id="h1", text=text, entities=[ent(0, 16, "PERSON"), ent(35, 40, "GPE")]))
    )
    assert result.spans == 2
    history = Span.history.model.objects.filter(annotation_set__article__external_id="h1")
    assert sorted(history.values_list("surface", "history_type", "history_user_id")) == [
        ("Minsk", "+", news.manager.pk),
        ("Sergey Naryshkin", "+", news.manager.pk),
    ]
    # The author's column has no index now: a user's deletion still sets it to NULL (Django's SET_NULL),
    # and the rows stay.
    news.manager.delete()
    assert sorted(history.values_list("surface", "history_user_id")) == [
        ("Minsk", None),
        ("Sergey Naryshkin", None),
    ]
