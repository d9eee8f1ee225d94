"""The hot writes' statements are prepared once per connection on PostgreSQL (core.prepared): the same
answers and rows, the same statements counted, and a write after a rollback prepares them again."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from annotator.annotations.editing import edit_set
from annotator.annotations.models import AnnotationSet, Span
from annotator.api.tokens import create_token
from annotator.core.errors import InvalidAnnotation
from annotator.core.prepared import prepared_cursor

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL: prepared statements"),
]


@pytest.fixture
def token(news, settings):
    settings.ANNOTATOR_TOKEN_CACHE_SECONDS = 600
    return create_token(user=news.annotator, name="script", scope="write")[1]


def create(client, news, token, start, end, version):
    return client.post(
        reverse("api:set-spans", args=[news.annotation_set.pk]),
        {"start": start, "end": end, "type": "PERSON"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
        HTTP_IF_MATCH=f'"{version}"',
    )


def prepared():
    """The statements this connection has prepared, each cut to its first words."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements ORDER BY prepare_time, name")
        return [statement[:30] for (statement,) in cursor.fetchall()]


def test_a_span_write_prepares_its_statement_once_and_then_reuses_it(client, news, token):
    assert create(client, news, token, 0, 16, 1).status_code == 201
    first = prepared()
    # The set with the caller's right to edit it, its facts and the type by name; the claim, the span and
    # its history: one statement (api/set_writes_at_once.py).
    assert first == ['WITH "target" AS MATERIALIZED ']
    with CaptureQueriesContext(connection) as queries:
        response = create(client, news, token, 7, 16, 2)
    assert (response.status_code, response["ETag"]) == (201, '"3"')
    assert prepared() == first  # run by name: nothing prepared again
    # Counted and logged as before, with the SQL as sent (its placeholders, not the values).
    assert [q["sql"][:30] for q in queries] == first
    assert "%(set)s" in queries[0]["sql"]
    assert list(Span.objects.filter(annotation_set=news.annotation_set).values_list("start", "end")) == [
        (0, 16),
        (7, 16),
    ]


def test_after_a_rollback_the_next_write_prepares_its_statements_again(client, news, token):
    assert create(client, news, token, 0, 16, 1).status_code == 201
    annotation_set = AnnotationSet.objects.get(pk=news.annotation_set.pk)
    with (
        pytest.raises(InvalidAnnotation),
        edit_set(annotation_set, expected_version=2, by=news.annotator) as e,
    ):
        e.add_span(start=0, end=16, entity_type=news.person)  # a duplicate: its transaction rolls back
    response = create(client, news, token, 25, 30, 2)
    assert response.status_code == 201, response.json()
    assert prepared() == ['WITH "target" AS MATERIALIZED ']
    assert Span.objects.filter(annotation_set=news.annotation_set).count() == 2


def test_with_prepared_statements_off_nothing_is_prepared_and_the_write_is_the_same(
    client, news, token, settings
):
    settings.ANNOTATOR_DB_PREPARED = False
    response = create(client, news, token, 0, 16, 1)
    assert (response.status_code, response.json()["text"]) == (201, "Sergey Naryshkin")
    assert prepared() == []


def test_a_prepared_cursor_reads_timestamps_as_the_plain_one_does(news):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT created_at FROM annotations_annotationset WHERE id = %s", [news.annotation_set.pk]
        )
        plain = cursor.fetchone()[0]
    with prepared_cursor(connection) as cursor:
        cursor.execute(
            "SELECT created_at FROM annotations_annotationset WHERE id = %s", [news.annotation_set.pk]
        )
        found = cursor.fetchone()[0]
    assert found == plain == news.annotation_set.created_at
    assert found.tzinfo is not None
