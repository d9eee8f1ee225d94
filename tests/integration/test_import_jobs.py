"""Imports as jobs: results and reports, progress other sessions see mid-transaction, the command line, and a
worker killed in the middle of an import (nothing kept, the job failed by the reaper, the re-run succeeds)."""

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection, connections
from django.utils import timezone

from annotator.articles.models import Article
from annotator.interchange import importer
from annotator.interchange.options import ImportOptions
from annotator.interchange.services import start_import
from annotator.jobs.models import Job, JobKind, JobStatus
from annotator.jobs.progress import live, side_file
from annotator.jobs.services import reap_stale_jobs, retry_job, run_job
from tests.factories import MembershipFactory, ProjectFactory, UserFactory

ROOT = Path(__file__).resolve().parents[2]


def write_jsonl(path, count, prefix="a"):
    with open(path, "w", encoding="utf-8") as out:
        for number in range(count):
            out.write(
                json.dumps({"external_id": f"{prefix}{number}", "text": f"Article {number} about Minsk."})
                + "\n"
            )
    return path


def job_for(project, path, *, by=None, delete_after=False, queue=False):
    return start_import(
        project=project, path=path, file_name=path.name, options=ImportOptions(format="jsonl"),
        by=by, delete_after=delete_after, queue=queue,
    )  # fmt: skip


@pytest.mark.django_db
def test_an_import_job_succeeds_with_its_counts_and_removes_an_uploaded_file(
    news, tmp_path, django_capture_on_commit_callbacks
):
    path = write_jsonl(tmp_path / "upload", 3)
    size = path.stat().st_size
    with django_capture_on_commit_callbacks(execute=True):
        job = job_for(news.project, path, by=news.manager, delete_after=True, queue=True)
    job.refresh_from_db()
    assert (job.status, job.message, job.result["created"], job.errors) == (
        JobStatus.SUCCEEDED, "Imported 3 new articles.", 3, [],
    )  # fmt: skip
    assert (job.progress_done, job.progress_total, job.percent) == (size, size, 100)
    assert job.params["file_name"] == "upload"
    assert not path.exists()
    assert Article.objects.filter(project=news.project, external_id__startswith="a").count() == 3


@pytest.mark.django_db
def test_a_failed_import_job_carries_the_report_and_keeps_the_file_for_a_retry(news, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b'{"text": "ok"}\n[1]\n')
    job = run_job(job_for(news.project, path, delete_after=True))
    assert (job.status, job.message) == (JobStatus.FAILED, "1 problem in bad.jsonl; nothing was imported.")
    assert job.errors == [
        {
            "file": "bad.jsonl",
            "line": 2,
            "field": None,
            "message": "Each line must be a JSON object, not a list.",
        }
    ]
    assert path.exists()
    assert not Article.objects.filter(text="ok").exists()


@pytest.mark.django_db
def test_a_refused_archive_or_a_missing_file_fails_the_job_with_a_reason(news, tmp_path):
    import zipfile

    path = tmp_path / "evil.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("../escape.txt", "x")
    job = run_job(
        start_import(
            project=news.project,
            path=path,
            file_name="evil.zip",
            options=ImportOptions(format="text"),
            by=None,
            delete_after=False,
        )
    )
    assert (job.status, job.message) == (
        JobStatus.FAILED,
        "evil.zip cannot be imported; nothing was imported.",
    )
    assert job.errors == [
        {"file": "evil.zip", "line": None, "field": "../escape.txt",
         "message": "This archive member is refused: its name climbs out of the archive (..)."}
    ]  # fmt: skip
    path.unlink()
    assert run_job(Job.objects.get(pk=retry_job(job).pk)).message == (
        "The file evil.zip is no longer there to import; upload it again."
    )


@pytest.mark.django_db
def test_the_reaper_trusts_a_fresh_heartbeat_beside_the_database(news):
    job = Job.objects.create(project=news.project, kind="import_articles", status=JobStatus.RUNNING,
                             heartbeat_at=timezone.now() - timedelta(minutes=10))  # fmt: skip
    path = side_file(job.pk)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"progress_done": 5, "progress_total": 10, "message": "Read 5 articles.",
                                "heartbeat_at": timezone.now().isoformat()}))  # fmt: skip
    try:
        assert reap_stale_jobs(timeout=timedelta(minutes=5)) == 0
        assert (live(Job.objects.get(pk=job.pk)).progress_done, live(job).message) == (5, "Read 5 articles.")
        path.write_text(json.dumps({"progress_done": 5, "progress_total": 10, "message": "",
                                    "heartbeat_at": (timezone.now() - timedelta(minutes=9)).isoformat()}))  # fmt: skip
        assert reap_stale_jobs(timeout=timedelta(minutes=5)) == 1
    finally:
        path.unlink(missing_ok=True)


@pytest.mark.django_db(transaction=True)
def test_progress_shows_to_other_sessions_while_the_import_holds_its_transaction(
    tmp_path, settings, monkeypatch
):
    settings.ANNOTATOR_IMPORT_BATCH_SIZE = 2
    project = ProjectFactory()
    path = write_jsonl(tmp_path / "many.jsonl", 10)
    job = job_for(project, path)
    reached, release = threading.Event(), threading.Event()
    add_batch = importer.Importer.add_batch

    def pausing(self, batch):
        add_batch(self, batch)
        if self.result.created >= 4:
            reached.set()
            release.wait(30)

    monkeypatch.setattr(importer.Importer, "add_batch", pausing)
    worker = threading.Thread(target=lambda: (run_job(job), connections.close_all()))
    worker.start()
    try:
        assert reached.wait(30)
        time.sleep(0.6)  # past the progress writer's interval, so the pause's own batch is out too
        seen = live(Job.objects.get(pk=job.pk))
        assert seen.status == JobStatus.RUNNING
        assert seen.progress_total == path.stat().st_size
        assert 0 < seen.progress_done <= seen.progress_total
        assert seen.message.startswith("Read ")
        assert seen.heartbeat_at > timezone.now() - timedelta(seconds=30)
        assert Article.objects.filter(project=project).count() == 0  # written, but not committed
    finally:
        release.set()
        worker.join(60)
    job.refresh_from_db()
    assert (job.status, job.progress_done) == (JobStatus.SUCCEEDED, path.stat().st_size)
    assert Article.objects.filter(project=project).count() == 10
    assert not side_file(job.pk).exists()
    connection.close()


@pytest.mark.django_db
def test_the_command_line_runs_inline_with_a_progress_bar(news, tmp_path):
    path = write_jsonl(tmp_path / "cli.jsonl", 4)
    out, err = StringIO(), StringIO()
    call_command("import_articles", str(path), project="news", format="jsonl", inline=True, user="maria",
                 stdout=out, stderr=err)  # fmt: skip
    assert out.getvalue() == "Imported 4 new articles.\n"
    assert "cli.jsonl" in err.getvalue()  # tqdm writes the bar to stderr
    index = Job.objects.get(kind=JobKind.INDEX_SEARCH)  # the search documents, inline too
    assert (index.status, index.result) == (JobStatus.SUCCEEDED, {"indexed": 4})
    job = Job.objects.get(kind=JobKind.IMPORT_ARTICLES)
    assert (job.status, job.created_by, job.params["delete_after"]) == (
        JobStatus.SUCCEEDED,
        news.manager,
        False,
    )
    assert path.exists()  # the command line never deletes the admin's file


@pytest.mark.django_db
def test_the_command_line_prints_the_report_and_fails(news, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(b"text,title\nx\n")
    err = StringIO()
    with pytest.raises(CommandError, match=r"^1 problem in bad.csv; nothing was imported.$"):
        call_command("import_articles", str(path), project=str(news.project.pk), format="csv", inline=True,
                     dry_run=True, stdout=StringIO(), stderr=err)  # fmt: skip
    assert "bad.csv:2: The row has 1 fields; the header has 2.\n" in err.getvalue()


@pytest.mark.django_db
def test_the_command_line_checks_its_arguments(news, tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", 1)
    for arguments, message in (
        ({"project": "nope"}, "No project has the slug or id 'nope'."),
        ({"project": "news", "user": "ghost"}, "There is no user 'ghost'."),
        ({"project": "news", "option": ["text=body"]}, "The JSON Lines (native) format has no option 'text'"),
        ({"project": "news", "option": ["oops"]}, "Give format options as KEY=VALUE, not 'oops'."),
    ):
        with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")):
            call_command("import_articles", str(path), format="jsonl", inline=True, **arguments)
    out = StringIO()
    call_command("import_articles", str(path), project="news", format="jsonl", no_wait=True, stdout=out)
    assert out.getvalue() == f"Queued import job #{Job.objects.get().pk}.\n"


@pytest.mark.django_db(transaction=True)
def test_the_command_line_follows_a_queued_job_to_its_end(tmp_path):
    ProjectFactory(slug="follow")
    path = write_jsonl(tmp_path / "a.jsonl", 2)
    out = StringIO()
    # Test settings run tasks in-process as soon as they are queued, so the job is done when followed.
    call_command(
        "import_articles", str(path), project="follow", format="jsonl", stdout=out, stderr=StringIO()
    )
    assert out.getvalue().splitlines()[-1] == "Imported 2 new articles."


WORKER = """
import os, time, django
django.setup()
from annotator.interchange import importer
add_batch = importer.Importer.add_batch
if os.environ.get("SLOW_IMPORT"):
    def slow(self, batch):  # give the test time to kill the worker mid-import
        add_batch(self, batch)
        time.sleep(0.3)
    importer.Importer.add_batch = slow
from django.core.management import call_command
call_command("db_worker", "--batch", "--queue-name", "*", "--interval", "0.1")
"""


def worker_env(**extra):
    database = connection.settings_dict
    if database["ENGINE"].endswith("sqlite3"):
        url = f"sqlite:///{database['NAME']}"
    else:
        url = f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "annotator.settings", "DATABASE_URL": url, **extra}
    env.setdefault("DJANGO_SECRET_KEY", "worker-test-secret-key-" + "x" * 30)
    # The same data folder as this process: on SQLite the worker's progress goes to a file there.
    env["ANNOTATOR_DATA_DIR"] = str(settings.DATA_DIR)
    env["ANNOTATOR_ENV_FILE"] = os.devnull
    return env


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "kill_at",
    [0, random.Random(2026).randrange(1, 18_000)],  # as soon as it runs; after a random number of rows
    ids=["at-start", "mid-import"],
)
def test_a_worker_killed_mid_import_leaves_no_rows_fails_by_the_reaper_and_the_rerun_succeeds(
    tmp_path, settings, kill_at
):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
    manager = UserFactory(username="killer")
    project = ProjectFactory(slug="killed")
    MembershipFactory(project=project, user=manager, role="manager")
    path = write_jsonl(tmp_path / "big.jsonl", 20_000)  # 1.3 MB: several times what the reader buffers
    job = job_for(project, path, by=manager, queue=True)
    env = worker_env(ANNOTATOR_IMPORT_BATCH_SIZE="500", SLOW_IMPORT="1")
    worker = subprocess.Popen([sys.executable, "-c", WORKER], cwd=ROOT, env=env, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            seen = live(Job.objects.get(pk=job.pk))
            if seen.status == JobStatus.RUNNING and seen.progress_done >= kill_at:
                break
            assert worker.poll() is None, worker.stderr.read().decode()[-3000:]
            time.sleep(0.05)
        else:
            pytest.fail("the import never showed progress")
        worker.send_signal(signal.SIGKILL)
        worker.wait(30)
    finally:
        if worker.poll() is None:
            worker.kill()
        worker.stderr.close()
    assert seen.progress_total is None or seen.progress_done < seen.progress_total
    assert Article.objects.filter(project=project).count() == 0
    assert Job.objects.get(pk=job.pk).status == JobStatus.RUNNING  # nobody told it: the heartbeat stops
    assert reap_stale_jobs(timeout=timedelta(0)) == 1
    job.refresh_from_db()
    assert (job.status, job.message) == (
        JobStatus.FAILED, "The worker running this job stopped responding. Nothing of it was kept; run it again.",
    )  # fmt: skip
    retry_job(job)
    done = subprocess.run([sys.executable, "-c", WORKER], cwd=ROOT, env=worker_env(), capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    job.refresh_from_db()
    assert (job.status, job.attempts, job.result["created"]) == (JobStatus.SUCCEEDED, 2, 20_000)
    assert Article.objects.filter(project=project).count() == 20_000
