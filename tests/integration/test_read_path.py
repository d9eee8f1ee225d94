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
    # text: 692 bytes a suggestion for these short words (bench/load.py's page: 175 KiB, 230 of them).
    # A row that grows past this is a page that grows for every reviewer.
    per_suggestion = (len(page.encode()) - empty) / len(words)
    assert 600 < per_suggestion < 800, per_suggestion


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
