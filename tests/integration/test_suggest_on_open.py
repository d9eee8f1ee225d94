"""Opening an article: a long one shows at once while a job computes its suggestions and the page fills in;
the link candidates batch pre-annotation left are looked up when the page (or the API) first needs them."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from annotator.annotations.services import create_span
from annotator.jobs.models import Job, JobKind, JobStatus
from annotator.jobs.services import run_job
from annotator.suggestions.generate import preannotate_articles
from annotator.suggestions.models import Suggestion, SuggestionKind, SuggestionRun
from tests.factories import ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db

LONG = "Sergey Naryshkin visited Minsk. " * 40  # 1,280 characters: "long" under the setting below


@pytest.fixture
def long_article(news, settings):
    settings.ANNOTATOR_SUGGEST_ON_OPEN = True
    settings.ANNOTATOR_SUGGEST_INLINE_MAX_CHARS = 1000
    news.article.text = LONG
    news.article.save()
    return news.article


@pytest.fixture
def alice(client, news):
    client.force_login(news.annotator)
    return client


def poll_url(article, job):
    return f"{reverse('review:suggesting', args=[article.pk])}?job={job.pk}"


def test_a_long_article_opens_at_once_and_says_its_suggestions_are_coming(alice, news, long_article):
    html = alice.get(reverse("review:annotate", args=[long_article.pk])).content.decode()
    job = Job.objects.get(kind=JobKind.PREANNOTATE)
    assert (job.status, job.params, job.created_by) == (
        JobStatus.QUEUED,
        {"article_ids": [long_article.pk], "opened": long_article.pk},
        news.annotator,
    )
    assert not SuggestionRun.objects.exists()  # nothing was computed in the request
    assert (
        f'<p id="suggesting" class="muted" role="status" hx-get="{poll_url(long_article, job)}" '
        'hx-trigger="every 2s" hx-swap="outerHTML">Computing suggestions for this long article: they appear '
        "here by themselves. You can annotate meanwhile.</p>"
    ) in html
    alice.get(reverse("review:annotate", args=[long_article.pk]))
    assert Job.objects.count() == 1  # opened again while it waits: the same job


def test_the_page_polls_until_the_job_ends_then_reloads_with_the_suggestions(alice, news, long_article):
    alice.get(reverse("review:annotate", args=[long_article.pk]))
    job = Job.objects.get(kind=JobKind.PREANNOTATE)
    waiting = alice.get(poll_url(long_article, job), HTTP_HX_REQUEST="true")
    assert waiting.status_code == 200
    assert 'hx-trigger="every 2s"' in waiting.content.decode()
    assert "HX-Trigger" not in waiting
    run_job(job)
    done = alice.get(poll_url(long_article, job), HTTP_HX_REQUEST="true")
    assert done["HX-Trigger"] == "suggestions-ready"
    assert (
        done.content.decode().strip()
        == '<p id="suggesting" class="muted" role="status">Suggestions are ready.</p>'
    )
    html = alice.get(reverse("review:annotate", args=[long_article.pk])).content.decode()
    assert 'id="suggesting"' not in html  # current now: nothing to wait for
    minsk = Suggestion.objects.get(
        article=long_article, kind=SuggestionKind.ENTITY, start=LONG.index("Minsk")
    )
    assert f'data-item="g{minsk.pk}"' in html
    assert Job.objects.count() == 1


def test_a_failed_job_says_so_and_stops_polling(alice, news, long_article):
    alice.get(reverse("review:annotate", args=[long_article.pk]))
    job = Job.objects.get(kind=JobKind.PREANNOTATE)
    Job.objects.filter(pk=job.pk).update(status=JobStatus.FAILED, message="The worker <b>died</b>.")
    answer = alice.get(poll_url(long_article, job)).content.decode()
    assert "Suggestions could not be computed: The worker &lt;b&gt;died&lt;/b&gt;." in answer
    assert "hx-trigger" not in answer


def test_only_members_follow_the_job_and_only_for_its_own_article(client, news, long_article):
    client.force_login(news.annotator)
    client.get(reverse("review:annotate", args=[long_article.pk]))
    job = Job.objects.get(kind=JobKind.PREANNOTATE)
    other = Job.objects.create(kind=JobKind.PREANNOTATE, project=news.project, params={"article_ids": []})
    assert client.get(poll_url(long_article, other)).status_code == 404  # not started by opening it
    stranger = UserFactory(username="stranger")
    ProjectFactory(name="Elsewhere", slug="elsewhere")
    client.force_login(stranger)
    assert client.get(poll_url(long_article, job)).status_code == 404


def test_a_short_article_is_still_suggested_in_the_request(alice, news, settings):
    settings.ANNOTATOR_SUGGEST_ON_OPEN = True
    html = alice.get(reverse("review:annotate", args=[news.article.pk])).content.decode()
    assert not Job.objects.exists()
    assert SuggestionRun.objects.filter(article=news.article).count() == 1
    assert 'id="suggesting"' not in html


@pytest.mark.usefixtures("named_news_kb")
def test_link_candidates_batch_pre_annotation_left_are_looked_up_when_the_page_opens(alice, news, settings):
    """The page, its link panel and the API show the candidates a run with links would have stored."""
    settings.ANNOTATOR_SUGGEST_ON_OPEN = True
    preannotate_articles(project=news.project, defer_links=False)
    eager = link_rows(news.article)
    Suggestion.objects.all().delete()
    SuggestionRun.objects.all().delete()
    preannotate_articles(project=news.project, defer_links=True)
    assert link_rows(news.article) == []

    html = alice.get(reverse("review:annotate", args=[news.article.pk])).content.decode()
    assert (
        link_rows(news.article)
        == eager
        == [
            (0, 16, "sergey-naryshkin", 0, 0.75, "kb-candidates"),
            (25, 30, "minsk", 0, 0.75, "kb-candidates"),
        ]
    )
    link = Suggestion.objects.get(kind=SuggestionKind.LINK, start=0)
    assert f'data-item="g{link.pk}" data-kind="link"' in html  # in the side list, to accept or reject
    span = create_span(
        annotation_set=news.annotation_set, start=0, end=16, entity_type=news.person, by=news.annotator,
        expected_version=1,
    )  # fmt: skip
    with CaptureQueriesContext(connection) as queries:
        panel = alice.get(reverse("review:candidates", args=[news.article.pk]), {"span": span.pk})
    assert f'data-kb="{news.naryshkin.pk}" data-item="s{span.pk}">' in panel.content.decode()
    assert "suggested 0.75" in panel.content.decode()
    # session, user, the set with its article, the span, its suggested links, the search (KB ids, exact
    # aliases, their entities), the KBs to create an entity in: nothing is looked up for the suggestions
    assert len(queries) == 9, [q["sql"] for q in queries]
    listed = alice.get(reverse("api:article-suggestions", args=[news.article.pk]), {"kind": "link"}).json()
    assert [
        (s["start"], s["end"], s["kb_entity"]["kb_id"], s["rank"], s["score"]) for s in listed["results"]
    ] == [row[:5] for row in eager]


@pytest.mark.usefixtures("named_news_kb")
def test_the_api_looks_up_pending_link_candidates_too(alice, news):
    preannotate_articles(project=news.project, defer_links=True)
    listed = alice.get(reverse("api:article-suggestions", args=[news.article.pk]), {"kind": "link"}).json()
    assert [(s["start"], s["kb_entity"]["kb_id"], s["source"]) for s in listed["results"]] == [
        (0, "sergey-naryshkin", "kb-candidates"),
        (25, "minsk", "kb-candidates"),
    ]
    assert SuggestionRun.objects.get().pending_links is None


@pytest.mark.usefixtures("named_news_kb")
def test_a_long_article_opened_gets_its_links_from_its_job(alice, news, long_article):
    alice.get(reverse("review:annotate", args=[long_article.pk]))
    run_job(Job.objects.get(kind=JobKind.PREANNOTATE))
    assert SuggestionRun.objects.get().pending_links is None
    assert Suggestion.objects.filter(kind=SuggestionKind.LINK).count() == 80  # 40 people, 40 cities
    alice.get(reverse("review:annotate", args=[long_article.pk]))
    assert Job.objects.count() == 1  # current: no second job


def link_rows(article):
    return sorted(
        Suggestion.objects.filter(article=article, kind=SuggestionKind.LINK).values_list(
            "start", "end", "kb_entity__kb_id", "rank", "score", "source"
        )
    )
