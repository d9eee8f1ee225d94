"""The article list written by PostgreSQL (`api/json_rows.py`): the renderer's JSON, and the general path
wherever that would not hold."""

import json
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from annotator.api import json_rows
from annotator.api.tokens import create_token
from annotator.articles.models import Article, content_hash
from tests.factories import ArticleFactory
from tests.hostile import CLOSERS, CONTROLS, RLO, SCRIPT, ZWJ_FAMILY

pytestmark = pytest.mark.django_db
postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL: the list's JSON written by the database (api/json_rows.py); SQLite has only "
    "the general path",
)

# Every character the JSON writers escape, or might: quotes, backslashes, control characters, the line and
# paragraph separators (DRF escapes them), DEL, right-to-left overrides, astral characters.
ODD = f'q"b\\s/t\tn\nr\rbell\x07\x1f del\x7f {RLO}{SCRIPT}{CLOSERS} \u2028\u2029 {ZWJ_FAMILY} {CONTROLS}'


@pytest.fixture
def get(client, news, settings):
    settings.ANNOTATOR_TOKEN_CACHE_SECONDS = 600  # a slow machine stays inside the token's lifetime
    secret = create_token(user=news.annotator, name="script")[1]

    def get(url, **headers):
        return client.get(url, HTTP_AUTHORIZATION=f"Bearer {secret}", **headers)

    return get


@pytest.fixture
def odd_articles(news):
    made = [
        ArticleFactory(project=news.project, title=ODD, external_id=None, metadata={}),
        ArticleFactory(project=news.project, title="", external_id=ODD[::-1], metadata={}),
        ArticleFactory(project=news.project, title="Ära", external_id="x", metadata={}),
    ]
    # Whole seconds (Python writes no fraction), a few microseconds (six digits), the year's last moment.
    Article.objects.filter(pk=made[0].pk).update(created_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    Article.objects.filter(pk=made[1].pk).update(updated_at=datetime(2026, 1, 2, 3, 4, 5, 7, tzinfo=UTC))
    Article.objects.filter(pk=made[2].pk).update(
        created_at=datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    )
    Article.objects.filter(project=news.project).update(metadata={})
    return [news.article, *made]


def general(monkeypatch, get, url, **headers):
    """The answer of the general path (rows read as values, written by the renderer)."""
    with monkeypatch.context() as patched:
        patched.setattr(json_rows, "applies", lambda *args: False)
        return get(url, **headers)


@postgres_only
@pytest.mark.parametrize(
    "query", ["", "?page_size=2", "?page_size=1&q=x", "?status=new", "?ids={ids}", "?external_id=x"]
)
def test_every_page_and_link_is_the_general_path_s_byte_for_byte(get, news, odd_articles, monkeypatch, query):
    first = reverse("api:article-list", args=[news.project.pk]) + query.format(
        ids=",".join(str(article.pk) for article in odd_articles[1:])
    )
    waiting, seen, listed = [first], [], set()
    while waiting:  # every page, through its next and its previous link
        url = waiting.pop()
        if url in seen:
            continue
        seen.append(url)
        with CaptureQueriesContext(connection) as queries:
            fast = get(url)
        assert "to_char" in queries[-1]["sql"]  # the database wrote the rows
        expected = general(monkeypatch, get, url)
        assert (fast.status_code, fast["Content-Type"]) == (200, "application/json")
        assert fast.content == expected.content
        assert fast["X-Articles-Unindexed"] == expected["X-Articles-Unindexed"]
        body = fast.json()
        listed |= {article["id"] for article in body["results"]}
        waiting += [link for link in (body["next"], body["previous"]) if link]
    whole = general(monkeypatch, get, first.replace("page_size=", "page_size=1000&size=")).json()
    assert listed == {article["id"] for article in whole["results"]}
    assert len(seen) >= (3 if "page_size" in query else 1)


@postgres_only
def test_the_odd_strings_and_moments_come_out_as_python_writes_them(get, news, odd_articles):
    body = get(reverse("api:article-list", args=[news.project.pk])).content.decode()
    assert "\u2028" not in body
    assert "\\u2028\\u2029" in body
    listed = json.loads(body)["results"]
    assert [(a["title"], a["external_id"]) for a in listed[1:]] == [
        (ODD, None),
        ("", ODD[::-1]),
        ("Ära", "x"),
    ]
    assert listed[1]["created_at"] == "2026-01-02T03:04:05Z"
    assert listed[2]["updated_at"] == "2026-01-02T03:04:05.000007Z"
    assert listed[3]["created_at"] == "2026-12-31T23:59:59.999999Z"


@postgres_only
def test_metadata_is_the_same_document_as_postgresql_keeps_it(get, news):
    metadata = {"source": "tass", "authors": ["Ан", None], "n": 1.5, "big": 2**70, "tiny": 1e-07,
                "nested": {"ok": True, "quote": '"\n'}, "": [], "line": "\u2028"}  # fmt: skip
    article = ArticleFactory(project=news.project, metadata=metadata)
    body = get(reverse("api:article-list", args=[news.project.pk])).content.decode()
    listed = json.loads(body)["results"]
    assert [a["metadata"] for a in listed if a["id"] == article.pk] == [metadata]
    assert '"metadata":{"": [], "n": 1.5, "big": 1180591620717411303424, "line": "\\u2028"' in body


@postgres_only
@pytest.mark.parametrize(
    ("headers", "zone"),
    [({"HTTP_ACCEPT": "application/json; indent=2"}, "UTC"), ({}, "Asia/Kathmandu")],
)
def test_an_indented_answer_or_another_time_zone_takes_the_general_path(
    get, news, odd_articles, settings, monkeypatch, headers, zone
):
    settings.TIME_ZONE = zone
    url = reverse("api:article-list", args=[news.project.pk])
    with CaptureQueriesContext(connection) as queries:
        answer = get(url, **headers)
    assert "to_char" not in queries[-1]["sql"]
    assert answer.content == general(monkeypatch, get, url, **headers).content
    assert (b'\n  "next"' in answer.content) == bool(headers)


def test_sqlite_or_postgresql_the_list_costs_one_or_two_queries_and_never_reads_the_texts(
    get, news, odd_articles
):
    url = reverse("api:article-list", args=[news.project.pk])
    assert get(url).status_code == 200  # the token is read, then remembered
    with CaptureQueriesContext(connection) as queries:
        assert len(get(url).json()["results"]) == 4
    # PostgreSQL: the project, its backlog and the page in one statement (api/article_first_page.py).
    assert len(queries) == (1 if connection.vendor == "postgresql" else 2)
    assert '"articles_article"."text"' not in queries[-1]["sql"]


@postgres_only
@pytest.mark.parametrize("articles", [0, 99, 100, 101, 205])
def test_the_first_page_without_filters_is_one_statement_and_the_general_paths_answer(
    get, news, monkeypatch, articles
):
    from annotator.api.annotations import _FIRST_PAGE_ROWS, ArticleSerializer
    from annotator.api.article_first_page import _statements

    Article.objects.filter(project=news.project).delete()
    texts = [f"Text {n}." for n in range(articles)]
    # Metadata {} as above: PostgreSQL writes a document's JSON with spaces (the general path without).
    Article.objects.bulk_create(
        Article(
            project=news.project, text=text, content_hash=content_hash(text), external_id=text, metadata={}
        )
        for text in texts
    )
    url = reverse("api:article-list", args=[news.project.pk])
    assert get(url).status_code == 200  # the token is read, then remembered
    with CaptureQueriesContext(connection) as queries:
        fast = get(url)
    # The project if the caller reaches it, with its search backlog, and the page: one statement, built once.
    assert len(queries) == 1
    assert queries[0]["sql"] == _statements[(ArticleSerializer, "default", _FIRST_PAGE_ROWS)]
    assert "LIMIT 101" in queries[0]["sql"]
    expected = general(monkeypatch, get, url)
    assert fast.content == expected.content
    assert fast["X-Articles-Unindexed"] == expected["X-Articles-Unindexed"]
    body = fast.json()
    assert len(body["results"]) == min(articles, 100)
    assert (body["next"] is not None, body["previous"]) == (articles > 100, None)


def test_the_first_page_of_a_project_you_do_not_reach_is_a_404_as_before(get, news, client):
    from annotator.projects.models import Project

    other = Project.objects.create(name="Other", slug="other")
    ArticleFactory(project=other)
    answer = get(reverse("api:article-list", args=[other.pk]))
    assert answer.status_code == 404
    assert answer.json() == {"error": {"code": "not_found", "message": "Not found.", "fields": {}}}
