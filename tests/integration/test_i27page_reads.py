"""The annotate page's reads in fewer statements: the spans and the pending suggestions in one UNION, the
active suggester's state as joins of the set's query; the same rows, the same page."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from annotator.review import state
from annotator.suggestions.models import Suggestion, SuggestionKind, SuggestionRun
from tests.factories import SuggesterVersionFactory
from tests.integration.test_annotate_page_render import rich as rich  # a fixture
from tests.integration.test_request_path import tables

pytestmark = pytest.mark.django_db


def _ids(news):
    return {"set_id": news.annotation_set.pk, "article_id": news.article.pk, "project_id": news.project.pk}


def test_one_statement_reads_what_the_span_and_pending_suggestion_reads_read(rich):
    ids = _ids(rich)
    spans, pending = state._split_union(state._spans_and_first_pending(**ids))
    assert spans == [tuple(row) for row in state._all_span_values(set_id=ids["set_id"])]
    assert pending == [tuple(row) for row in state._all_pending_values(**ids)]
    # What the fixture made: linked, NIL-linked and attributed spans in relations; every kind of suggestion.
    assert len(spans) == 8
    assert {(row[6] is not None, row[7] is not None, row[10], row[11]) for row in spans} == {
        (True, True, True, True),  # "Sergey Naryshkin": linked to the KB, in a relation, with attributes
        (True, False, True, False),  # "Minsk": NIL, in a relation
    }
    assert sorted({row[1] for row in pending}) == ["entity", "link", "relation"]
    assert len(pending) == 20 * 6 - 2


def _counts(html):
    return [
        int(re.search(rf'<span class="count" id="count-{name}">(\d+)</span>', html).group(1))
        for name in ("suggestions", "spans", "relations")
    ]


@pytest.mark.parametrize("over", [False, True])
def test_a_page_shows_every_row_up_to_what_it_shows_at_once_and_counts_past_it(client, news, settings, over):
    from annotator.annotations.services import create_span

    settings.ANNOTATOR_SUGGEST_ON_OPEN = False  # the suggestions are these alone
    for number, (start, end) in enumerate([(0, 6), (7, 16)], start=1):
        create_span(annotation_set=news.annotation_set, start=start, end=end, entity_type=news.person,
                    by=news.annotator, expected_version=number)  # fmt: skip
    # Two spans and as many pending suggestions as a page shows with them, or one more.
    pending = state.LAZY_PAST_ROWS - 2 + over
    solid = [at for at, char in enumerate(news.article.text) if not char.isspace()]
    suggester = SuggesterVersionFactory(project=news.project, name="bulk")
    Suggestion.objects.bulk_create(
        Suggestion(article=news.article, suggester_version=suggester, kind=SuggestionKind.ENTITY,
                   start=solid[number % len(solid)],
                   end=solid[number % len(solid)] + 1, entity_type=news.org, score=0.5, source="bulk")
        for number in range(pending)
    )  # fmt: skip
    client.force_login(news.annotator)
    url = reverse("review:annotate", args=[news.article.pk])
    client.get(url)  # the first open makes her set
    with CaptureQueriesContext(connection) as queries:
        html = client.get(url).content.decode()
    assert _counts(html) == [pending, 2, 0]
    assert html.count('class="row suggestion kind-entity"') == pending  # one block: all of it shown
    whole = ["annotations_span UNION suggestions_suggestion"]  # the types and counts come with the set
    # One more row than a page shows at once: it is counted, and read as a long article's first blocks are.
    past = ["projects_entitytype", "annotations_span", "suggestions_suggestion", "suggestions_suggestion"]
    assert tables(queries)[3:] == (whole + past if over else whole)


def test_the_page_reads_the_active_suggester_s_state_through_joins_not_a_subquery_per_column(
    client, news, settings
):
    settings.ANNOTATOR_SUGGEST_ON_OPEN = True
    settings.ANNOTATOR_SUGGESTION_FRESHNESS_SECONDS = 600  # a slow machine stays inside one window
    SuggesterVersionFactory(project=news.project, name="kb-ruler", is_active=True)
    client.force_login(news.annotator)
    url = reverse("review:annotate", args=[news.article.pk])
    client.get(url)  # the first open computes the suggestions
    client.get(url)  # the next reads the KB's and gold's state, once per freshness window
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    (first,) = [q["sql"] for q in queries if tables([q]) == ["annotations_annotationset"]]
    assert first.count('"suggestions_suggesterversion"') == 1
    assert first.count('"suggestions_suggestionrun"') == 1
    assert 'LEFT OUTER JOIN "suggestions_suggesterversion"' in first
    assert SuggestionRun.objects.get().suggester_version.name == "kb-ruler"


def test_each_article_s_page_names_its_own_urls_from_the_attributes_written_once(client, news):
    from tests.factories import ArticleFactory

    other = ArticleFactory(project=news.project, text="Another text.")
    client.force_login(news.annotator)
    for article in (news.article, other, news.article):
        html = client.get(reverse("review:annotate", args=[article.pk])).content.decode()
        assert f'data-act-url="/articles/{article.pk}/annotate/do/ACTION/" ' in html
        assert f'data-attributes-url="/articles/{article.pk}/annotate/attributes/"' in html
        assert "987654321987" not in html
