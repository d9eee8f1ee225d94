"""The two busiest reads, pinned: the annotate page's size per suggestion, and who reaches an article list."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from annotator.api.tokens import create_token
from annotator.projects.models import Membership, Role
from annotator.suggestions.models import SuggesterKind, SuggesterVersion, Suggestion, SuggestionKind
from tests.factories import ArticleFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db


def _page_bytes(client, news) -> int:
    response = client.get(reverse("review:annotate", args=[news.article.pk]))
    assert response.status_code == 200
    return len(response.content)


def test_each_pending_suggestion_adds_its_row_and_its_mark_and_no_more_to_the_annotate_page(client, news):
    client.force_login(news.annotator)
    words = [match.span() for match in re.finditer(r"\w+", news.article.text)][:40]
    empty = _page_bytes(client, news)
    suggester = SuggesterVersion.objects.create(
        project=news.project, name="rules", kind=SuggesterKind.RULES, version="1", is_active=True
    )
    Suggestion.objects.bulk_create(
        Suggestion(article=news.article, suggester_version=suggester, kind=SuggestionKind.ENTITY, start=start,
                   end=end, entity_type=news.person, score=0.9, source="rules")
        for start, end in words
    )  # fmt: skip
    page = client.get(reverse("review:annotate", args=[news.article.pk])).content.decode()
    assert page.count('class="row suggestion kind-entity"') == len(words)
    assert page.count('<mark class="m et-') >= len(words)
    # The row (type chip, surface, score, accept and reject buttons, filter text) and the mark over the
    # text: 657 bytes a suggestion for these short words (692 while each row's link and buttons repeated
    # the row's item id). A row that grows past this is a page that grows for every reviewer.
    per_suggestion = (len(page.encode()) - empty) / len(words)
    assert 600 < per_suggestion < 680, per_suggestion


@pytest.fixture
def lister(client, news, settings):
    settings.ANNOTATOR_TOKEN_CACHE_SECONDS = 600

    def get(user, project, token_project=None):
        _, secret = create_token(user=user, name="reader", scope="read", project=token_project)
        return client.get(
            reverse("api:article-list", args=[project.pk]), HTTP_AUTHORIZATION=f"Bearer {secret}"
        )

    return get


def test_the_article_list_reaches_a_project_through_membership_and_a_token_s_own_project_only(lister, news):
    other = ProjectFactory(name="Other", slug="other")
    ArticleFactory(project=other, text="Elsewhere.", external_id="o-1")
    stranger = UserFactory(username="stranger")
    Membership.objects.create(project=other, user=stranger, role=Role.ANNOTATOR)
    Membership.objects.create(project=other, user=news.annotator, role=Role.ANNOTATOR)

    assert [a["external_id"] for a in lister(news.annotator, news.project).json()["results"]] == ["news-1"]
    assert [a["external_id"] for a in lister(news.annotator, other).json()["results"]] == ["o-1"]
    assert lister(stranger, news.project).status_code == 404  # not a member
    assert lister(news.annotator, other, token_project=news.project).status_code == 404  # not the token's
    limited = lister(news.annotator, news.project, token_project=news.project)
    assert [a["external_id"] for a in limited.json()["results"]] == ["news-1"]


def test_the_article_list_reads_its_project_in_one_query_built_once_per_process(lister, news, monkeypatch):
    from annotator.api import reachable

    assert lister(news.annotator, news.project).status_code == 200
    monkeypatch.setattr(reachable._member_project_with_backlog, "build", lambda **ids: pytest.fail("built"))
    with CaptureQueriesContext(connection) as queries:
        assert lister(news.annotator, news.project).status_code == 200
    projects = [q["sql"] for q in queries if 'FROM "projects_project"' in q["sql"]]
    assert len(projects) == 1
    assert "articles_searchbacklog" in projects[0]  # with the count search cannot see yet


def _suggest(news, spans):
    from tests.factories import SuggestionFactory

    return [
        SuggestionFactory(article=news.article, start=start, end=end, entity_type=news.gpe)
        for start, end in spans
    ]


def _counts(html):
    return [
        int(re.search(rf'<span class="count" id="count-{name}">(\d+)</span>', html).group(1))
        for name in ("suggestions", "spans", "relations")
    ]


def _with_spans_and_suggestions(news):
    from annotator.annotations.services import create_span

    create_span(annotation_set=news.annotation_set, start=0, end=16, entity_type=news.person,
                by=news.annotator, expected_version=1)  # fmt: skip
    words = [match.span() for match in re.finditer(r"\w+", news.article.text)]
    return _suggest(news, words[2:7])  # visited, Minsk, on, April, 15


def test_a_whole_article_s_pending_suggestions_are_read_once_and_counted_from_their_rows(client, news):
    suggestions = _with_spans_and_suggestions(news)
    client.force_login(news.annotator)
    url = reverse("review:annotate", args=[news.article.pk])
    client.get(url)
    with CaptureQueriesContext(connection) as queries:
        html = client.get(url).content.decode()
    assert _counts(html) == [5, 1, 0]
    assert all(f'data-item="g{suggestion.pk}"' in html for suggestion in suggestions)
    reading_suggestions = [q["sql"] for q in queries if "suggestions_suggestion" in q["sql"]]
    assert len(reading_suggestions) == 1  # the rows; the set's query counts spans and relations only
    assert 'FROM "projects_entitytype"' in next(
        q["sql"] for q in queries if "annotations_relation" in q["sql"]
    )


def test_more_rows_than_a_page_shows_at_once_are_counted_and_loaded_lazily(client, news, monkeypatch):
    from annotator.review import state

    _with_spans_and_suggestions(news)
    monkeypatch.setattr(state, "LAZY_PAST_ROWS", 4)  # 1 span and 5 suggestions: past it
    client.force_login(news.annotator)
    url = reverse("review:annotate", args=[news.article.pk])
    client.get(url)
    with CaptureQueriesContext(connection) as queries:
        html = client.get(url).content.decode()
    assert _counts(html) == [5, 1, 0]
    counted = [q["sql"] for q in queries if 'FROM "projects_entitytype"' in q["sql"]]
    assert "suggestions_suggestion" in counted[-1]  # counted with the types, as for a long article
    assert '<div class="group" id="suggestions-blk-0" data-block="0">' in html  # its first blocks loaded
