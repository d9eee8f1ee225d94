"""Opening a long article: the page shows at once, a job computes its suggestions, the page fills in."""

import pytest
from django.urls import reverse

from annotator.jobs.models import Job, JobKind, JobStatus
from annotator.jobs.services import run_job
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
