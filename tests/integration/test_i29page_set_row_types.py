"""The annotate page's set query carries the project's entity types (as JSON text) and the set's counts of
spans and relations: the same values, in the same order, as the types' own query read them."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from annotator.annotations.services import create_relation, create_span, get_or_create_gold_set
from annotator.review import state, views
from annotator.review.set_row_types import TypeWithCounts, carried_types
from tests import hostile
from tests.factories import EntityTypeFactory, ProjectFactory

pytestmark = pytest.mark.django_db

# Names that JSON escapes or that a careless reader would mangle: quotes, backslashes, what looks like
# a JSON escape, control characters, emoji sequences, bidi overrides, a letter whose lower case is two.
HOSTILE_NAMES = [
    hostile.PERSON,
    hostile.GPE,
    hostile.ORG,
    '\\u0041 "quoted" \\ back\\slash',
    hostile.CONTROLS + hostile.ZWJ_FAMILY,
    "İstanbul " + hostile.RLO + hostile.ARABIC,
    "[1, 2]",
]


def _set_for_page(news, *, gold=False, opening=False):
    query = views._SET_QUERIES[gold, opening, True]
    (annotation_set,) = query(
        article_id=news.article.pk, user_id=(news.manager if gold else news.annotator).pk
    )
    return annotation_set


@pytest.mark.parametrize("opening", [False, True])
def test_the_set_s_row_carries_the_types_and_counts_the_types_own_query_reads(news, opening):
    # Positions that tie (then by name), all after the fixture's types (position 0).
    for position, (name, key) in enumerate(zip(HOSTILE_NAMES, "abcefhi", strict=True)):
        EntityTypeFactory(project=news.project, name=name, key=key, position=1 + position % 3)
    EntityTypeFactory(project=ProjectFactory(slug="other"), name="OTHER PROJECT")  # never carried
    head = create_span(annotation_set=news.annotation_set, start=0, end=16, entity_type=news.person,
                       by=news.annotator, expected_version=1)  # fmt: skip
    tail = create_span(annotation_set=news.annotation_set, start=25, end=30, entity_type=news.gpe,
                       by=news.annotator, expected_version=2)  # fmt: skip
    create_relation(annotation_set=news.annotation_set, head=head, tail=tail, relation_type=news.visited,
                    by=news.annotator, expected_version=3)  # fmt: skip

    carried = carried_types(_set_for_page(news, opening=opening))

    expected = state._types_with_set_counts(set_id=news.annotation_set.pk, project_id=news.project.pk)
    assert carried.types == expected
    assert (carried.n_spans, carried.n_relations) == (2, 1)
    assert len(carried.types) == 4 + len(HOSTILE_NAMES)
    assert {kind.name for kind in carried.types} == {"PERSON", "ORG", "GPE", "DATE", *HOSTILE_NAMES}
    assert carried.types[0] == TypeWithCounts(news.date.pk, "DATE", "d", 2, 1)  # position 0, by name


def test_a_gold_set_carries_its_own_counts(news):
    gold = get_or_create_gold_set(article=news.article)
    create_span(annotation_set=news.annotation_set, start=0, end=16, entity_type=news.person,
                by=news.annotator, expected_version=1)  # fmt: skip

    carried = carried_types(_set_for_page(news, gold=True))

    assert gold.pk != news.annotation_set.pk
    assert (carried.n_spans, carried.n_relations) == (0, 0)  # the annotator's span is not gold's
    assert [kind.name for kind in carried.types] == ["DATE", "GPE", "ORG", "PERSON"]


def test_a_project_without_types_carries_none_and_its_page_counts_its_set(client, news):
    news.project.entity_types.all().delete()
    client.force_login(news.annotator)
    url = reverse("review:annotate", args=[news.article.pk])

    carried = carried_types(_set_for_page(news))
    client.get(url)  # the first open (suggestions on open, if on)
    client.get(url)  # the next reads the KB's and gold's state, once per freshness window
    with CaptureQueriesContext(connection) as queries:
        html = client.get(url).content.decode()

    assert carried == ([], 0, 0)
    assert '<span class="count" id="count-spans">0</span>' in html
    assert len(queries) == 4  # session, user, the set (with types and counts), spans and suggestions


def test_a_set_read_without_the_page_s_columns_carries_nothing(news):
    (annotation_set,) = views._own_set_with_article(article_id=news.article.pk, user_id=news.annotator.pk)
    assert carried_types(annotation_set) is None
