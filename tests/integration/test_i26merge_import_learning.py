"""An import of curated gold starts learning as a bulk curation does, whichever way it comes: the upload
page, the API, the command line. The project trains when enough articles are new; else its pretrained
pipeline in add mode is weighed again; an import of gold in progress, or a dry run, starts nothing."""

import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from annotator.annotations.models import AnnotationSet, SetKind, SetStatus
from annotator.jobs.models import Job, JobKind, JobStatus
from annotator.jobs.services import run_job
from annotator.suggestions.models import SuggesterSettings

pytestmark = pytest.mark.django_db

TEXTS = ["Sergey Naryshkin visited Minsk.", "Alexander Lukashenko met Naryshkin in Minsk."]


def gold_file(texts=TEXTS):
    lines = []
    for number, text in enumerate(texts):
        entities = [{"start": 0, "end": text.index(" ", text.index(" ") + 1), "label": "PERSON"}]
        lines.append(json.dumps({"external_id": f"g{number}", "text": text, "entities": entities}))
    return ("\n".join(lines) + "\n").encode()


def page_form(**fields):
    upload = SimpleUploadedFile("gold.jsonl", gold_file(), content_type="application/octet-stream")
    return {"file": upload, "format": "jsonl", "set_kind": "gold", "set_name": "", "on_duplicate": "skip",
            **fields}  # fmt: skip


def run_import_and_its_commit(django_capture_on_commit_callbacks, post):
    """Make the import job (`post`), run it as a worker would, then what its commit runs: the jobs that
    queues stay queued (their own commit hooks, which would send them to a worker, never run in a test)."""
    with django_capture_on_commit_callbacks(execute=False):
        post()
    job = Job.objects.get(kind=JobKind.IMPORT_ARTICLES)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = run_job(job)
    assert job.status == JobStatus.SUCCEEDED, job.errors
    for callback in callbacks:
        callback()
    return job


def queued(news):
    """The project's jobs besides the import and its search indexing: (kind, status, params)."""
    return list(
        Job.objects.filter(project=news.project)
        .exclude(kind__in=[JobKind.IMPORT_ARTICLES, JobKind.INDEX_SEARCH])
        .order_by("pk")
        .values_list("kind", "status", "params")
    )


def test_curated_gold_uploaded_on_the_page_starts_the_training_the_command_starts(
    client, news, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.DATA_DIR = tmp_path
    SuggesterSettings.objects.create(project=news.project, learn=True, learn_after=2)
    client.force_login(news.manager)
    html = client.get(reverse("interchange:imports", args=[news.project.pk])).content.decode()
    assert 'name="curated"' in html
    url = reverse("interchange:imports", args=[news.project.pk])
    job = run_import_and_its_commit(
        django_capture_on_commit_callbacks, lambda: client.post(url, page_form(curated="on"))
    )
    assert job.params["curated"] is True
    assert sorted(
        AnnotationSet.objects.filter(kind=SetKind.GOLD, article__external_id__in=["g0", "g1"]).values_list(
            "article__external_id", "status"
        )
    ) == [("g0", SetStatus.CURATED), ("g1", SetStatus.CURATED)]
    assert queued(news) == [(JobKind.TRAIN_SUGGESTER, JobStatus.QUEUED, {"automatic": True, "articles": 2})]


def test_gold_uploaded_in_progress_or_as_a_dry_run_starts_nothing(
    client, news, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.DATA_DIR = tmp_path
    SuggesterSettings.objects.create(project=news.project, learn=True, learn_after=2)
    client.force_login(news.manager)
    url = reverse("interchange:imports", args=[news.project.pk])
    run_import_and_its_commit(
        django_capture_on_commit_callbacks, lambda: client.post(url, page_form(curated="on", dry_run="on"))
    )
    assert queued(news) == []
    Job.objects.all().delete()
    run_import_and_its_commit(django_capture_on_commit_callbacks, lambda: client.post(url, page_form()))
    assert list(
        AnnotationSet.objects.filter(kind=SetKind.GOLD, article__external_id__in=["g0", "g1"]).values_list(
            "status", flat=True
        )
    ) == [SetStatus.IN_PROGRESS, SetStatus.IN_PROGRESS]
    assert queued(news) == []


def test_the_page_refuses_curated_for_an_imported_set(client, news, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    client.force_login(news.manager)
    url = reverse("interchange:imports", args=[news.project.pk])
    response = client.post(url, page_form(set_kind="imported", set_name="theirs", curated="on"))
    assert response.status_code == 400
    assert "Only gold sets can be imported as curated." in response.content.decode()
    assert not Job.objects.exists()


def test_curated_gold_through_the_api_weighs_the_pipeline_when_no_training_starts(
    client, news, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.DATA_DIR = tmp_path
    settings.ANNOTATOR_PIPELINES_DIR = tmp_path / "pipelines"
    SuggesterSettings.objects.create(
        project=news.project,
        learn=False,
        use_site_pipeline=False,
        pipeline="some-pipeline",
        pipeline_mode="add",
    )
    client.force_login(news.manager)
    url = reverse("api:project-imports", args=[news.project.pk])
    upload = SimpleUploadedFile("gold.jsonl", gold_file(), content_type="application/octet-stream")

    def post():
        response = client.post(
            url, {"file": upload, "format": "jsonl", "set_kind": "gold", "curated": "true"}
        )
        assert response.status_code == 202, response.content

    run_import_and_its_commit(django_capture_on_commit_callbacks, post)
    assert queued(news) == [(JobKind.WEIGH_PIPELINE, JobStatus.QUEUED, {"pipeline": "some-pipeline"})]


def test_the_command_queues_the_same_training_once(news, tmp_path, django_capture_on_commit_callbacks):
    SuggesterSettings.objects.create(project=news.project, learn=True, learn_after=2)
    path = tmp_path / "gold.jsonl"
    path.write_bytes(gold_file())
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        call_command(
            "import_articles", str(path), "--project", "news", "--format", "jsonl", "--gold", "--curated",
            "--inline", stdout=io.StringIO(), stderr=io.StringIO(),
        )  # fmt: skip
    for callback in callbacks:
        callback()
    assert queued(news) == [(JobKind.TRAIN_SUGGESTER, JobStatus.QUEUED, {"automatic": True, "articles": 2})]
