"""Suggestion rows go in as they were given, whatever the statement sizes: SQLite writes
`SQLITE_ROWS_PER_INSERT` rows per INSERT, PostgreSQL copies them (the same rows back on both)."""

import pytest
from django.db import transaction

from annotator.suggestions.models import Suggestion
from annotator.suggestions.storing import FULL, SQLITE_ROWS_PER_INSERT, _insert
from tests.factories import SuggesterVersionFactory

pytestmark = pytest.mark.django_db


def stored(version):
    return list(
        Suggestion.objects.filter(suggester_version=version)
        .order_by("pk")
        .values_list(*FULL, "suggester_version_id")
    )


def mixed_rows(news, count):
    """`count` rows cycling through an entity, a relation and a link, each with its own offsets."""
    article, person, gpe = news.article.pk, news.person.pk, news.gpe.pk
    rows = []
    for n in range(count):
        start = 3 * n
        shape = n % 3
        if shape == 0:
            rows.append(
                (
                    article,
                    "entity",
                    start,
                    start + 2,
                    person,
                    None,
                    None,
                    None,
                    None,
                    None,
                    0,
                    0.9,
                    "kb-ruler",
                )
            )
        elif shape == 1:
            rows.append((article, "relation", start, start + 2, person, start + 5, start + 7, gpe, news.visited.pk,
                         None, 0, 0.4567, "rule:visited"))  # fmt: skip
        else:
            rows.append((article, "link", start, start + 2, person, None, None, None, None, news.naryshkin.pk,
                         n % 4, 0.75, "kb-candidates"))  # fmt: skip
    return rows


@pytest.mark.parametrize(
    "count",
    [
        1,
        SQLITE_ROWS_PER_INSERT - 1,
        SQLITE_ROWS_PER_INSERT,
        SQLITE_ROWS_PER_INSERT + 1,
        3 * SQLITE_ROWS_PER_INSERT + 7,
    ],
)
def test_every_row_is_stored_once_in_order_across_statement_boundaries(news, count):
    version = SuggesterVersionFactory(project=news.project)
    rows = mixed_rows(news, count)
    with transaction.atomic():
        _insert(version, rows)
    assert stored(version) == [(*row, version.pk) for row in rows]


def test_no_rows_write_nothing(news):
    version = SuggesterVersionFactory(project=news.project)
    _insert(version, [])
    assert stored(version) == []


def test_the_rows_share_one_creation_time(news):
    version = SuggesterVersionFactory(project=news.project)
    with transaction.atomic():
        _insert(version, mixed_rows(news, 2 * SQLITE_ROWS_PER_INSERT + 1))
    times = set(Suggestion.objects.filter(suggester_version=version).values_list("created_at", flat=True))
    assert len(times) == 1
