"""The suggesters page: what members and managers see, the jobs partial, the manager's actions."""

import pytest
from django.urls import reverse

from annotator.jobs.models import Job, JobKind, JobStatus
from annotator.suggestions.models import SuggesterVersion, Suggestion
from tests.factories import SuggesterVersionFactory
from tests.integration.test_pages import HOSTILE, assert_shown_literally

pytestmark = pytest.mark.django_db


def page(client, news):
    return client.get(reverse("suggestions:suggesters", args=[news.project.pk]))


def test_members_see_versions_and_quality_but_no_actions(client, news):
    SuggesterVersionFactory(project=news.project, name="rules", version="1", is_active=True)
    client.force_login(news.annotator)
    response = page(client, news)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Active: <strong>rules 1</strong>" in html
    assert "Pre-annotate" not in html
    assert "Train a new version" not in html
    assert (
        reverse("suggestions:suggesters", args=[news.project.pk])
        in client.get(reverse("projects:detail", args=[news.project.pk])).content.decode()
    )


def test_managers_see_the_actions_and_can_activate_another_version(client, news):
    SuggesterVersionFactory(project=news.project, name="rules", version="1", is_active=True)
    trained = SuggesterVersionFactory(
        project=news.project,
        name="ner",
        version="2",
        kind="trained",
        trained_on={
            "articles": 40,
            "gold_articles": 30,
            "annotator_articles": 10,
            "entities": 900,
            "relations": 12,
        },
        metrics={
            "folds": 5,
            "entities": {"ALL": {"precision": 0.9, "recall": 0.8, "f1": 0.847}},
            "baseline": {
                "name": "rules 1",
                "entities": {"ALL": {"precision": 0.95, "recall": 0.6, "f1": 0.7355}},
            },
            "compared": {"articles": 12, "f1": 0.81, "baseline_f1": 0.7355},
        },
        config={
            "rules": True,
            "recipe": "spaCy NER starting from the pretrained pipeline en_core_web_sm; dropout 0.2",
            "epochs": 30,
            "epochs_run": 21,
            "best_epoch": 11,
            "held_out_f1": 0.8124,
        },
    )
    client.force_login(news.manager)
    html = page(client, news).content.decode()
    assert "Pre-annotate" in html
    assert "Train a new version" in html
    assert (
        "Trained on 40 annotated articles (30 curated gold, 10 submitted sets; 900 entities, 12 relations). "
        "Compared with rules 1 on the 12 articles that one did not learn from: F1 0.810 against 0.736."
    ) in " ".join(html.split())
    assert "Cross-validated (5 folds)" in html
    assert '<td class="num">0.847</td>' in html
    assert (
        '<details class="recipe"><summary>Recipe</summary><p class="muted">spaCy NER starting from the '
        "pretrained pipeline en_core_web_sm; dropout 0.2; ran 21 of at most 30 epochs, kept epoch 11 "
        "(held-out F1 0.812).</p></details>"
    ) in html
    # The learning curve: one point, the version's cross-validated F1 by the articles it learnt from.
    assert "<polyline" in html
    assert '<td class="num"><strong>0.847</strong></td>' in html
    assert '<td class="num">0.736</td>' in html
    response = client.post(reverse("suggestions:activate", args=[news.project.pk, trained.pk]), follow=True)
    assert "ner 2 is now the active suggester." in response.content.decode()
    assert SuggesterVersion.objects.get(is_active=True) == trained


def test_a_manager_starts_pre_annotation_and_training_from_the_page(
    client, news, django_capture_on_commit_callbacks
):
    client.force_login(news.manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("suggestions:preannotate", args=[news.project.pk]), {"status": "in_progress"}
        )
    assert response.status_code == 302
    job = Job.objects.get()
    assert (job.kind, job.params, job.status, job.created_by) == (
        JobKind.PREANNOTATE,
        {"status": "in_progress"},
        JobStatus.SUCCEEDED,
        news.manager,
    )
    assert Suggestion.objects.filter(article=news.article).exists()
    html = client.get(response["Location"]).content.decode()
    assert f"Pre-annotation started (job {job.pk})." in html
    assert "Pre-annotated 1 articles" in html
    response = client.post(
        reverse("suggestions:preannotate", args=[news.project.pk]), {"status": "bogus"}, follow=True
    )
    assert "Choose an article status from the list, or all articles." in response.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("suggestions:train", args=[news.project.pk]))
    failed = Job.objects.get(kind=JobKind.TRAIN_SUGGESTER)
    assert failed.status == JobStatus.FAILED
    assert "Training needs at least 5 annotated articles" in page(client, news).content.decode()


def test_the_jobs_region_polls_only_while_a_job_runs(client, news):
    client.force_login(news.annotator)
    job = Job.objects.create(
        project=news.project,
        kind=JobKind.PREANNOTATE,
        status=JobStatus.RUNNING,
        progress_done=3,
        progress_total=10,
    )
    response = client.get(reverse("suggestions:jobs", args=[news.project.pk]), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="job-list"')
    assert 'hx-trigger="every 2s"' in html
    assert '<progress value="3" max="10"' in html
    assert "<html" not in html
    Job.objects.filter(pk=job.pk).update(status=JobStatus.SUCCEEDED)
    html = client.get(
        reverse("suggestions:jobs", args=[news.project.pk]), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "hx-trigger" not in html


def test_managers_only_actions_answer_403_to_other_members(client, news):
    version = SuggesterVersionFactory(project=news.project)
    client.force_login(news.annotator)
    for url in (
        reverse("suggestions:train", args=[news.project.pk]),
        reverse("suggestions:preannotate", args=[news.project.pk]),
        reverse("suggestions:activate", args=[news.project.pk, version.pk]),
    ):
        assert client.post(url).status_code == 403
    assert Job.objects.count() == 0


def test_the_page_shows_hostile_names_and_messages_literally(client, news):
    news.project.name = f"Project {HOSTILE}"
    news.project.save()
    SuggesterVersionFactory(
        project=news.project, name=HOSTILE[:100], version="1", description=HOSTILE, is_active=True
    )
    Job.objects.create(project=news.project, kind=JobKind.PREANNOTATE, status=JobStatus.FAILED, message=HOSTILE[:500],
                       errors=[{"message": HOSTILE}])  # fmt: skip
    client.force_login(news.manager)
    assert_shown_literally(page(client, news))


def test_a_manager_cancels_a_running_pre_annotation_from_the_jobs_list(client, news, settings):
    """The suggesters page offers what exports and KB imports offer: a cancel button on a running
    pre-annotation. Its queued parts never run; the part already done keeps its suggestions."""
    from annotator.jobs.chunks import run_chunk
    from annotator.jobs.services import create_job
    from tests.integration.test_chunked_jobs import add_articles, start

    settings.ANNOTATOR_JOB_CHUNK_ARTICLES = 4
    add_articles(news, 7)  # 8 articles in all: two parts
    job = create_job(kind=JobKind.PREANNOTATE, project=news.project, params={}, by=news.manager)
    chunks, handler = start(job)
    run_chunk(chunks[0].pk, handler)
    done_articles = set(Suggestion.objects.values_list("article_id", flat=True))
    cancel = reverse("suggestions:cancel_job", args=[news.project.pk, job.pk])

    client.force_login(news.annotator)
    assert f'action="{cancel}"' not in page(client, news).content.decode()
    assert client.post(cancel).status_code == 403
    client.force_login(news.manager)
    jobs = client.get(reverse("suggestions:jobs", args=[news.project.pk]), HTTP_HX_REQUEST="true")
    html = jobs.content.decode()
    assert f'<form method="post" action="{cancel}" class="job-cancel">' in html
    assert 'name="csrfmiddlewaretoken"' in html
    # An id, so that htmx keeps the keyboard's focus on the button when the polled list is swapped.
    assert f'id="cancel-job-{job.pk}" aria-label="Cancel job {job.pk}">Cancel</button>' in html

    response = client.post(cancel, follow=True)
    html = response.content.decode()
    assert response.redirect_chain == [(reverse("suggestions:suggesters", args=[news.project.pk]), 302)]
    assert (
        "Pre-annotation cancelled. Articles it already did keep their new suggestions; "
        "pre-annotate again for the rest." in html
    )
    assert "Cancelled with 1 of 2 parts done." in html
    assert f'action="{cancel}"' not in html
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    assert set(job.chunks.values_list("status", flat=True)) == {JobStatus.SUCCEEDED, JobStatus.CANCELLED}
    assert set(Suggestion.objects.values_list("article_id", flat=True)) == done_articles
    assert len(done_articles) == 4
    response = client.post(cancel, follow=True)
    assert "The pre-annotation had already ended (cancelled)." in response.content.decode()


def test_a_queued_training_can_be_cancelled_but_a_running_one_ends_on_its_own(client, news):
    queued = Job.objects.create(project=news.project, kind=JobKind.TRAIN_SUGGESTER, status=JobStatus.QUEUED)
    running = Job.objects.create(project=news.project, kind=JobKind.TRAIN_SUGGESTER, status=JobStatus.RUNNING)
    client.force_login(news.manager)
    html = page(client, news).content.decode()
    assert reverse("suggestions:cancel_job", args=[news.project.pk, queued.pk]) in html
    assert reverse("suggestions:cancel_job", args=[news.project.pk, running.pk]) not in html

    response = client.post(reverse("suggestions:cancel_job", args=[news.project.pk, running.pk]), follow=True)
    assert "A training cannot be stopped once it runs; it ends on its own." in response.content.decode()
    assert Job.objects.get(pk=running.pk).status == JobStatus.RUNNING
    response = client.post(reverse("suggestions:cancel_job", args=[news.project.pk, queued.pk]), follow=True)
    assert "Training cancelled before it started." in response.content.decode()
    assert Job.objects.get(pk=queued.pk).status == JobStatus.CANCELLED
    other = Job.objects.create(kind=JobKind.TRAIN_SUGGESTER, status=JobStatus.QUEUED)  # no project
    assert client.post(reverse("suggestions:cancel_job", args=[news.project.pk, other.pk])).status_code == 404


def test_a_final_model_trained_for_the_folds_best_epochs_says_so_and_the_curve_runs_by_articles(client, news):
    def trained(version, articles, f1, **config):
        return SuggesterVersionFactory(
            project=news.project, name="ner", version=version, kind="trained",
            trained_on={"articles": articles}, metrics={"folds": 2, "entities": {"ALL": {"f1": f1}}},
            config={"rules": True, "recipe": "spaCy NER on the blank pipeline", "epochs": 7, **config},
        )  # fmt: skip

    trained("1", 200, 0.81, epochs_run=7, best_epoch=5, held_out_f1=0.8)
    trained("2", 50, 0.79, epochs_run=6, best_epoch=0, held_out_f1=None, fold_best_epochs=[5, 6])
    client.force_login(news.manager)
    html = page(client, news).content.decode()
    assert (
        "spaCy NER on the blank pipeline; ran 6 of at most 7 epochs, the cross-validation folds' best epochs "
        "being 5, 6.</p>"
    ) in html
    assert "ran 7 of at most 7 epochs, kept epoch 5 (held-out F1 0.800).</p>" in html
    # Trained later on fewer articles (articles were deleted), version 2 still comes first on the curve.
    response = client.get(f"/api/v1/projects/{news.project.pk}/learning-curve")
    assert [(p["version"], p["articles"]) for p in response.json()] == [("ner 2", 50), ("ner 1", 200)]
