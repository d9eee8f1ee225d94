"""The article list's first page without filters in one statement on PostgreSQL (api/article_first_page.py):
the same answer, header and refusals as the general path, which reads the project and the rows itself."""

import pytest
from django.urls import reverse

from annotator.api import json_rows
from annotator.api.tokens import create_token
from annotator.articles.models import SearchBacklog
from annotator.projects.models import Role
from tests.factories import ArticleFactory, MembershipFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def bearer(client, settings):
    settings.ANNOTATOR_TOKEN_CACHE_SECONDS = 600  # a slow machine stays inside the token's lifetime

    def get(url, secret):
        return client.get(url, HTTP_AUTHORIZATION=f"Bearer {secret}")

    return get


def general(monkeypatch, get, url, secret):
    with monkeypatch.context() as patched:
        patched.setattr(json_rows, "applies", lambda *args: False)
        return get(url, secret)


def test_the_page_and_its_backlog_are_the_general_paths(bearer, news, monkeypatch):
    for n in range(3):
        article = ArticleFactory(project=news.project, external_id=f"x{n}", metadata={})
        if n:
            SearchBacklog.objects.create(article=article, project=news.project)
    type(news.article).objects.filter(project=news.project).update(
        metadata={}
    )  # jsonb spacing: see json_rows
    secret = create_token(user=news.annotator, name="s")[1]
    url = reverse("api:article-list", args=[news.project.pk])
    bearer(url, secret)  # the token's first use reads it
    fast = bearer(url, secret)  # (its one statement is pinned in test_i26saves_article_list.py)
    expected = general(monkeypatch, bearer, url, secret)
    assert (fast.status_code, fast["X-Articles-Unindexed"]) == (200, "2")
    assert fast.content == expected.content
    assert fast["X-Articles-Unindexed"] == expected["X-Articles-Unindexed"]


@pytest.mark.parametrize("who", ["outsider", "token of another project", "no such project", "huge id"])
def test_a_project_the_caller_does_not_reach_is_the_general_paths_404(bearer, news, monkeypatch, who):
    project_id = news.project.pk
    if who == "outsider":
        user = UserFactory(username="mallory")
        MembershipFactory(user=user, project=ProjectFactory(slug="own"), role=Role.MANAGER)
        secret = create_token(user=user, name="m")[1]
    elif who == "token of another project":
        other = ProjectFactory(slug="other")
        MembershipFactory(user=news.annotator, project=other, role=Role.ANNOTATOR)
        secret = create_token(user=news.annotator, name="p", project=other)[1]
    else:
        secret = create_token(user=news.annotator, name="a")[1]
        project_id = 2**62 if who == "no such project" else 2**64
    url = reverse("api:article-list", args=[project_id])
    fast = bearer(url, secret)
    expected = general(monkeypatch, bearer, url, secret)
    assert fast.status_code == expected.status_code == 404
    assert fast.content == expected.content
