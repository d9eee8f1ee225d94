"""The article browser: full-text search, filters, keyset paging; managers delete and re-queue articles."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from annotator.annotations.models import AnnotationSet, SetKind, SetStatus, Span
from annotator.annotations.services import (
    create_span,
    get_or_create_gold_set,
    get_or_create_own_set,
    submit_set,
)
from annotator.articles.models import Article
from annotator.review import browse
from annotator.review.article_actions import delete_articles, deletion_counts
from annotator.suggestions.models import Decision, Suggestion, Verdict
from tests.conftest import MINSK, NARYSHKIN
from tests.factories import ArticleFactory, MembershipFactory, SuggestionFactory, UserFactory

pytestmark = pytest.mark.django_db


def titles(client, url, **params):
    response = client.get(url, params)
    assert response.status_code == 200
    return [row["article"].title for row in response.context["rows"]]


@pytest.fixture
def corpus(news):
    """Four more articles of the news project, with words in their titles, texts and metadata."""
    ArticleFactory(project=news.project, title="Lukashenko in Moscow", text="The president flew to Moscow.")
    ArticleFactory(project=news.project, title="Weather", text="Rain in Minsk and Brest all week.")
    ArticleFactory(
        project=news.project, title="Sources", text="Nothing here.", metadata={"source": "Belta agency"}
    )
    ArticleFactory(project=news.project, title="Émigrés", text="Café owners in Vilnius.")
    return news


def test_search_finds_words_in_title_text_and_metadata(client, corpus):
    client.force_login(corpus.annotator)
    url = reverse("browse:articles", args=[corpus.project.pk])
    assert titles(client, url, q="Minsk", sort="old") == ["Naryshkin in Minsk", "Weather"]
    assert titles(client, url, q="moscow") == ["Lukashenko in Moscow"]  # any case
    assert titles(client, url, q="belta") == ["Sources"]  # metadata
    assert titles(client, url, q="café") == ["Émigrés"]
    assert titles(client, url, q="rain brest") == ["Weather"]  # every word
    assert titles(client, url, q="rain moscow") == []
    assert titles(client, url, q='" OR -') == []  # punctuation alone is no word: nothing, never an error


def test_the_api_lists_articles_found_by_full_text_search(client, corpus):
    client.force_login(corpus.annotator)
    url = reverse("api:article-list", args=[corpus.project.pk])
    body = client.get(url, {"search": "belta"}).json()
    assert [article["title"] for article in body["results"]] == ["Sources"]
    body = client.get(url, {"search": "minsk"}).json()
    assert sorted(article["title"] for article in body["results"]) == ["Naryshkin in Minsk", "Weather"]


def found(project, query):
    return list(browse.filtered(project, browse.ArticleFilters(query=query)).values_list("title", flat=True))


def test_search_follows_edits_and_deletions(corpus):
    article = Article.objects.get(title="Weather")
    article.text = "Snow in Grodno."
    article.save()
    assert found(corpus.project, "grodno") == ["Weather"]
    assert found(corpus.project, "brest") == []
    article.delete()
    assert found(corpus.project, "grodno") == []


def test_filters_by_status_annotator_type_suggestions_and_imported_set(client, corpus):
    news = corpus
    create_span(annotation_set=news.annotation_set, start=MINSK[0], end=MINSK[1], entity_type=news.gpe,
                by=news.annotator, expected_version=news.annotation_set.version)  # fmt: skip
    news.annotation_set.refresh_from_db()
    submit_set(
        annotation_set=news.annotation_set, by=news.annotator, expected_version=news.annotation_set.version
    )
    weather = Article.objects.get(title="Weather")
    AnnotationSet.objects.create(article=weather, kind=SetKind.IMPORTED, name="ner-v1")
    decided = SuggestionFactory(article=news.article, entity_type=news.person)
    Decision.objects.create(suggestion=decided, annotation_set=news.annotation_set, verdict=Verdict.REJECTED)
    SuggestionFactory(article=weather, entity_type=news.gpe, start=8, end=13)

    client.force_login(news.manager)
    url = reverse("browse:articles", args=[news.project.pk])
    assert titles(client, url, status="annotated") == ["Naryshkin in Minsk"]
    assert len(titles(client, url, status="new")) == 4
    assert titles(client, url, assignee=news.annotator.pk) == ["Naryshkin in Minsk"]
    assert titles(client, url, assignee=news.manager.pk) == []
    assert titles(client, url, type=news.gpe.pk) == ["Naryshkin in Minsk"]
    assert titles(client, url, type=news.person.pk) == []
    assert titles(client, url, undecided="on") == ["Weather"]
    assert titles(client, url, imported="ner-v1") == ["Weather"]
    assert titles(client, url, imported="ner-v2") == []
    assert titles(client, url, q="minsk", status="annotated", type=news.gpe.pk) == ["Naryshkin in Minsk"]
    # Filters that are not understood are left out, never a 500.
    assert len(titles(client, url, type="x", assignee="99999999999999999999", sort="sideways")) == 5


def test_keyset_pages_cover_every_article_once_in_each_sort(client, news, monkeypatch):
    monkeypatch.setattr(browse, "PAGE_SIZE", 3)
    for n in range(7):
        ArticleFactory(project=news.project, title=f"T{n % 3}", text=f"Text {n}.")
    client.force_login(news.annotator)
    url = reverse("browse:articles", args=[news.project.pk])
    expected = {
        "new": list(
            Article.objects.filter(project=news.project).order_by("-pk").values_list("pk", flat=True)
        ),
        "old": list(Article.objects.filter(project=news.project).order_by("pk").values_list("pk", flat=True)),
        "title": list(
            Article.objects.filter(project=news.project).order_by("title", "pk").values_list("pk", flat=True)
        ),
    }
    for sort, ids in expected.items():
        seen, after = [], ""
        while True:
            response = client.get(url, {"sort": sort, "after": after} if after else {"sort": sort})
            seen += [row["article"].pk for row in response.context["rows"]]
            after = response.context["next_cursor"]
            if after is None:
                break
        assert seen == ids, sort
    assert client.get(url, {"after": "not-a-cursor"}).status_code == 200


def test_the_page_costs_the_same_queries_however_many_rows(client, news, django_assert_max_num_queries):
    for n in range(60):
        article = ArticleFactory(project=news.project, title=f"A{n}", text=f"Text {n}.")
        get_or_create_own_set(article=article, user=news.annotator)
    client.force_login(news.manager)
    url = reverse("browse:articles", args=[news.project.pk])
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    probe = 1 if connection.vendor == "postgresql" else 0  # PostgreSQL asks the index for the matches first
    with django_assert_max_num_queries(len(queries) + probe):
        client.get(url, {"q": "text", "status": "in_progress"})
    assert len(queries) <= 12


def test_a_manager_sees_the_counts_then_deletes_articles_with_everything_about_them(client, news):
    own = news.annotation_set
    span = create_span(annotation_set=own, start=NARYSHKIN[0], end=NARYSHKIN[1], entity_type=news.person,
                       by=news.annotator, expected_version=own.version)  # fmt: skip
    SuggestionFactory(article=news.article, entity_type=news.person)
    other = ArticleFactory(project=news.project, title="Stays", text="Untouched.")
    client.force_login(news.manager)
    url = reverse("browse:delete", args=[news.project.pk])
    confirm = client.post(url, {"article": [news.article.pk]})
    page = confirm.content.decode()
    assert confirm.status_code == 200
    assert '<th scope="row">Annotation sets</th><td>1</td>' in page
    assert '<th scope="row">Spans</th><td>1</td>' in page
    assert '<th scope="row">Suggestions</th><td>1</td>' in page
    assert Article.objects.filter(pk=news.article.pk).exists()  # nothing deleted yet
    span_history = Span.history.model.objects
    assert span_history.filter(id=span.pk).exists()
    client.post(url, {"article": [news.article.pk], "confirm": "1"})
    assert list(Article.objects.filter(project=news.project)) == [other]
    assert not AnnotationSet.objects.filter(pk=own.pk).exists()
    assert not Suggestion.objects.exists()
    assert not span_history.filter(id=span.pk).exists()
    assert not AnnotationSet.history.model.objects.filter(id=own.pk).exists()


def test_deleting_ignores_other_projects_articles(news, outsider):
    foreign = ArticleFactory(project=outsider.memberships.get().project, text="Theirs.")
    counts = delete_articles(project=news.project, article_ids=[foreign.pk])
    assert counts.articles == 0
    assert Article.objects.filter(pk=foreign.pk).exists()
    assert deletion_counts([]).rows()[0] == ("articles", 0)


def test_requeue_reopens_submitted_sets_and_uncurates_gold(client, news):
    own = news.annotation_set
    submit_set(annotation_set=own, by=news.annotator, expected_version=own.version)
    gold = get_or_create_gold_set(article=news.article)
    AnnotationSet.objects.filter(pk=gold.pk).update(status=SetStatus.CURATED)
    client.force_login(news.manager)
    response = client.post(
        reverse("browse:requeue", args=[news.project.pk]), {"article": [news.article.pk]}, follow=True
    )
    assert (
        "1 article(s) back in the queue: 1 submitted set(s) and 1 curated gold set(s) are open again."
        in response.content.decode()
    )
    own.refresh_from_db()
    gold.refresh_from_db()
    assert (own.status, gold.status) == (SetStatus.IN_PROGRESS, SetStatus.IN_PROGRESS)
    assert own.history.first().history_user == news.manager


@pytest.mark.parametrize("role", ["annotator", "curator"])
def test_only_managers_delete_or_requeue(client, news, role):
    user = UserFactory(username="someone")
    MembershipFactory(project=news.project, user=user, role=role)
    client.force_login(user)
    for name in ("browse:delete", "browse:requeue"):
        response = client.post(
            reverse(name, args=[news.project.pk]), {"article": [news.article.pk], "confirm": "1"}
        )
        assert response.status_code == 403
    assert Article.objects.filter(pk=news.article.pk).exists()
    page = client.get(reverse("browse:articles", args=[news.project.pk])).content.decode()
    assert 'name="article"' not in page
