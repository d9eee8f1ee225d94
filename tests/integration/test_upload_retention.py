"""Uploads are kept for a bounded time: the reaper deletes those whose import ended more than
ANNOTATOR_UPLOAD_RETENTION_DAYS ago, and never one that a queued or running job still reads."""

import io
import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from annotator.jobs.models import Job, JobKind, JobStatus
from annotator.jobs.uploads import reap_old_uploads

pytestmark = pytest.mark.django_db

NOW = timezone.now()


@pytest.fixture
def data_dirs(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"
    settings.MEDIA_ROOT = tmp_path / "media"
    (tmp_path / "data" / "imports").mkdir(parents=True)
    (tmp_path / "media" / "kb-imports").mkdir(parents=True)
    return tmp_path


def aged(path, days):
    when = (NOW - timedelta(days=days)).timestamp()
    os.utime(path, (when, when))
    return path


def article_upload(data_dirs, name, *, days):
    path = data_dirs / "data" / "imports" / f"{name}.upload"
    path.write_bytes(b'{"text": "x"}\n')
    return aged(path, days)


def kb_upload(data_dirs, name, *, days):
    directory = data_dirs / "media" / "kb-imports" / name
    directory.mkdir()
    (directory / "people.csv").write_text("id,name\nq1,Someone\n")
    aged(directory / "people.csv", days)
    return aged(directory, days)


def job(news, kind, path, status, *, finished_days=None):
    finished = NOW - timedelta(days=finished_days) if finished_days is not None else None
    return Job.objects.create(
        kind=kind, project=news.project, params={"path": str(path), "file_name": "x.jsonl", "dry_run": True},
        status=status, finished_at=finished,
    )  # fmt: skip


def test_the_reaper_deletes_uploads_whose_import_ended_past_the_retention_and_keeps_the_rest(news, data_dirs):
    old_dry_run = article_upload(data_dirs, "old-dry-run", days=9)
    job(news, JobKind.IMPORT_ARTICLES, old_dry_run, JobStatus.SUCCEEDED, finished_days=8)
    recent_dry_run = article_upload(data_dirs, "recent-dry-run", days=9)  # uploaded long ago, run lately
    job(news, JobKind.IMPORT_ARTICLES, recent_dry_run, JobStatus.SUCCEEDED, finished_days=2)
    refused = article_upload(data_dirs, "refused", days=10)
    job(news, JobKind.IMPORT_ARTICLES, refused, JobStatus.FAILED, finished_days=10)
    waiting = article_upload(data_dirs, "waiting", days=30)  # a long queue: still to be read
    job(news, JobKind.IMPORT_ARTICLES, waiting, JobStatus.QUEUED)
    orphan_old = article_upload(data_dirs, "orphan-old", days=8)
    article_upload(data_dirs, "orphan-new", days=1)
    dead_kb = kb_upload(data_dirs, "dead-worker", days=8)  # its worker died before deleting it
    job(news, JobKind.IMPORT_KB, dead_kb / "people.csv", JobStatus.FAILED, finished_days=8)
    running_kb = kb_upload(data_dirs, "running", days=20)
    job(news, JobKind.IMPORT_KB, running_kb / "people.csv", JobStatus.RUNNING)

    out = io.StringIO()
    call_command("reap_jobs", stdout=out)

    assert out.getvalue().splitlines() == [
        "0 stale job(s) marked failed.",
        "4 old upload(s) deleted.",
        "0 sign-in record event(s) past ANNOTATOR_SIGN_IN_RECORD_DAYS deleted.",
    ]
    assert sorted(p.name for p in (data_dirs / "data" / "imports").iterdir()) == [
        "orphan-new.upload",
        "recent-dry-run.upload",
        "waiting.upload",
    ]
    assert [p.name for p in (data_dirs / "media" / "kb-imports").iterdir()] == ["running"]
    assert (running_kb / "people.csv").is_file()
    assert not orphan_old.exists()
    assert reap_old_uploads() == 0  # nothing more to do


def test_the_retention_is_a_setting_of_seven_days_by_default(news, data_dirs, settings):
    assert settings.ANNOTATOR_UPLOAD_RETENTION_DAYS == 7
    upload = article_upload(data_dirs, "five-days", days=5)
    job(news, JobKind.IMPORT_ARTICLES, upload, JobStatus.SUCCEEDED, finished_days=5)
    assert reap_old_uploads() == 0
    settings.ANNOTATOR_UPLOAD_RETENTION_DAYS = 3
    assert reap_old_uploads() == 1
    assert not upload.exists()


def test_a_dry_run_whose_upload_is_gone_says_so_instead_of_offering_the_import(
    client, news, data_dirs, django_capture_on_commit_callbacks
):
    client.force_login(news.manager)
    data = SimpleUploadedFile("news.jsonl", b'{"external_id": "d1", "text": "Dry."}\n')
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("interchange:imports", args=[news.project.pk]),
            {"file": data, "format": "jsonl", "set_kind": "imported", "set_name": "imported",
             "on_duplicate": "skip", "dry_run": "on"},
        )  # fmt: skip
    dry = Job.objects.get()
    page = reverse("interchange:detail", args=[news.project.pk, dry.pk])
    assert 'name="again"' in client.get(page).content.decode()
    Job.objects.filter(pk=dry.pk).update(finished_at=NOW - timedelta(days=8))
    aged(Path(dry.params["path"]), days=8)
    assert reap_old_uploads() == 1
    html = client.get(page).content.decode()
    assert 'name="again"' not in html
    assert (
        "The uploaded file is no longer kept (uploads are deleted 7 days after their import): "
        "upload it again to import it." in html
    )
