"""Jobs: how they run, fail, report progress, get reaped when their worker dies, and run on a real worker."""

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from annotator.jobs import registry
from annotator.jobs.models import Job, JobKind, JobStatus
from annotator.jobs.services import (
    JobFailed,
    cancel_job,
    create_job,
    enqueue_job,
    reap_stale_jobs,
    retry_job,
    run_job,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def handler(monkeypatch):
    """Replace the export jobs' handler for the length of one test; the test sets what it does."""
    behaviour = {}

    def export(job, progress):
        return behaviour["run"](job, progress)

    monkeypatch.setitem(registry._handlers, JobKind.EXPORT, export)
    return behaviour


def new_job(project=None, params=None):
    return create_job(kind=JobKind.EXPORT, project=project, params=params or {}, by=None)


@pytest.mark.django_db
def test_a_job_runs_reports_progress_and_keeps_its_result(handler, news):
    def run(job, progress):
        progress.set_total(3)
        for _ in range(3):
            progress.advance()
        progress.say("Wrote 3 rows.")
        return {"rows": 3}

    handler["run"] = run
    job = run_job(new_job(news.project))
    assert (job.status, job.progress_done, job.progress_total, job.percent) == (
        JobStatus.SUCCEEDED,
        3,
        3,
        100,
    )
    assert (job.result, job.message, job.attempts, job.errors) == ({"rows": 3}, "Wrote 3 rows.", 1, [])
    assert job.started_at <= job.finished_at
    assert job.heartbeat_at is not None


@pytest.mark.django_db
def test_a_job_that_reports_bad_input_fails_with_its_report(handler):
    report = [{"file": "a.jsonl", "line": 3, "field": "text", "message": "The text is empty."}]

    def run(job, progress):
        raise JobFailed("1 error in a.jsonl; nothing was imported.", errors=report)

    handler["run"] = run
    job = run_job(new_job())
    assert (job.status, job.message, job.errors) == (
        JobStatus.FAILED,
        "1 error in a.jsonl; nothing was imported.",
        report,
    )


@pytest.mark.django_db
def test_a_crashing_job_fails_without_leaking_the_traceback(handler):
    def run(job, progress):
        raise KeyError("secret internals")

    handler["run"] = run
    job = run_job(new_job())
    assert job.status == JobStatus.FAILED
    assert job.message == "The job stopped on an unexpected error (KeyError). Nothing was kept."
    assert "secret internals" not in str(job.errors)


@pytest.mark.django_db
def test_a_job_runs_once_even_if_two_workers_pick_it_up(handler):
    runs = []
    handler["run"] = lambda job, progress: runs.append(job.pk) or {}
    job = new_job()
    run_job(job)
    run_job(Job.objects.get(pk=job.pk))
    assert runs == [job.pk]
    assert Job.objects.get(pk=job.pk).attempts == 1


@pytest.mark.django_db
def test_the_reaper_fails_running_jobs_whose_worker_went_silent(handler):
    silent, alive = new_job(), new_job()
    Job.objects.filter(pk=silent.pk).update(
        status=JobStatus.RUNNING, heartbeat_at=timezone.now() - timedelta(minutes=10)
    )
    Job.objects.filter(pk=alive.pk).update(status=JobStatus.RUNNING, heartbeat_at=timezone.now())
    assert reap_stale_jobs(timeout=timedelta(minutes=5)) == 1
    silent.refresh_from_db()
    assert silent.status == JobStatus.FAILED
    assert (
        silent.message
        == "The worker running this job stopped responding. Nothing of it was kept; run it again."
    )
    assert Job.objects.get(pk=alive.pk).status == JobStatus.RUNNING


@pytest.mark.django_db
def test_a_failed_job_can_be_retried_and_then_succeeds(handler, django_capture_on_commit_callbacks):
    handler["run"] = lambda job, progress: (_ for _ in ()).throw(JobFailed("Broken file."))
    job = run_job(new_job())
    assert job.status == JobStatus.FAILED
    handler["run"] = lambda job, progress: {"ok": True}
    with django_capture_on_commit_callbacks(execute=True):
        retry_job(job)  # the immediate task backend runs it as soon as it is enqueued
    job.refresh_from_db()
    assert (job.status, job.result, job.attempts, job.errors) == (JobStatus.SUCCEEDED, {"ok": True}, 2, [])
    assert job.task_id


@pytest.mark.django_db
def test_a_queued_job_can_be_cancelled_and_then_never_runs(handler):
    handler["run"] = lambda job, progress: pytest.fail("a cancelled job ran")
    job = cancel_job(new_job())
    assert job.status == JobStatus.CANCELLED
    assert run_job(job).status == JobStatus.CANCELLED


@pytest.mark.django_db
def test_jobs_of_a_kind_nothing_runs_are_refused_up_front(monkeypatch):
    monkeypatch.setattr(registry, "_handlers", {})  # as if no app had registered any handler
    with pytest.raises(LookupError, match="No handler is registered for 'train_suggester' jobs."):
        create_job(kind=JobKind.TRAIN_SUGGESTER, project=None, params={}, by=None)


WORKER = """
import django, os
django.setup()
from annotator.jobs import registry
from annotator.jobs.models import Job

def export(job, progress):
    progress.set_total(2)
    progress.advance(2)
    return {"pid": os.getpid()}

registry._handlers["export"] = export  # in place of the real export handler, as the fixture does

from django.core.management import call_command
call_command("db_worker", "--batch", "--queue-name", "*", "--interval", "0.1")
"""


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_a_job_from_the_database_queue(settings, handler):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
    handler["run"] = lambda job, progress: pytest.fail("the job ran in the test process, not in the worker")
    job = enqueue_job(new_job())  # outside a transaction: enqueued at once
    job.refresh_from_db()
    assert (job.status, bool(job.task_id)) == (JobStatus.QUEUED, True)

    database = connection.settings_dict
    if database["ENGINE"].endswith("sqlite3"):
        url = f"sqlite:///{database['NAME']}"
    else:
        url = f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "annotator.settings", "DATABASE_URL": url}
    env.setdefault("DJANGO_SECRET_KEY", "worker-test-secret-key-" + "x" * 30)
    result = subprocess.run(
        [sys.executable, "-c", WORKER], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    job.refresh_from_db()
    assert (job.status, job.progress_done, job.progress_total) == (JobStatus.SUCCEEDED, 2, 2)
    assert job.result["pid"] != os.getpid()


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL: progress written on a second connection, around the job's transaction",
)
@pytest.mark.parametrize("kind", ["job", "chunk"])
def test_a_progress_dropped_without_close_gives_its_second_connection_back(news, kind):
    """A connection wrapper sits in reference cycles: one nobody closed stayed out of the pool (a session
    on the database) until the cyclic collector ran, and kept pytest from dropping a test database."""
    import gc

    from django.db import transaction

    from annotator.jobs.chunks import ChunkProgress
    from annotator.jobs.models import JobChunk
    from annotator.jobs.progress import Progress

    job = Job.objects.create(project=news.project, kind=JobKind.EXPORT, status=JobStatus.RUNNING)
    chunk = JobChunk.objects.create(job=job, number=1, label="part 1", status=JobStatus.RUNNING)
    collecting = gc.isenabled()
    gc.disable()  # what frees the connection must not be the collector
    try:
        with transaction.atomic():
            progress = Progress(job) if kind == "job" else ChunkProgress(chunk)
            progress.flush()  # inside a transaction: through the second connection
            side = progress._side
            assert side is not None
            assert side.connection is not None
        del progress
        assert side.connection is None  # closed: back in the pool
    finally:
        if collecting:
            gc.enable()
    assert Job.objects.get(pk=job.pk).heartbeat_at is not None
