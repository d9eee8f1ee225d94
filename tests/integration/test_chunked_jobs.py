"""Jobs split into chunks that workers share: same rows as one piece, one progress bar, failures named,
silent workers' chunks run again, cancelling, and two real queue workers sharing one job."""

import itertools
import threading
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.db import connection, connections
from django.urls import reverse
from django.utils import timezone

from annotator.interchange import tasks as interchange_tasks
from annotator.interchange.exports import ExportQuery, export_path, file_name, start_export
from annotator.interchange.formats import FORMATS, brat
from annotator.jobs import registry
from annotator.jobs.chunks import Chunk, ChunkedHandler, enqueue_chunk, plan_chunks, run_chunk
from annotator.jobs.models import Job, JobChunk, JobKind, JobStatus
from annotator.jobs.progress import Progress
from annotator.jobs.services import JobFailed, cancel_job, create_job, enqueue_job, reap_stale_jobs, run_job
from annotator.kb import imports as kb_imports
from annotator.kb.imports import start_kb_import
from annotator.kb.models import KnowledgeBase
from annotator.projects.models import Role
from annotator.suggestions.models import Suggestion, SuggestionRun
from tests.factories import ArticleFactory, MembershipFactory, UserFactory
from tests.integration.test_export_service import exported, with_gold
from tests.kb_samples import dump, jsonl, kb_entities, wikidata_entity

TEXTS = [
    "Sergey Naryshkin visited Minsk on April 15.",
    "Minsk welcomed Sergey Naryshkin.",
    "Officials in Minsk met on Monday.",
    "Sergey Naryshkin spoke to reporters.",
]


def add_articles(news, count):
    """`count` more articles in the news project (13 in all with the fixture's, for count 12)."""
    return [
        ArticleFactory(project=news.project, text=TEXTS[n % len(TEXTS)] + f" Item {n}.") for n in range(count)
    ]


def stored(project):
    """Every suggestion of the project, as what it says (not its id or when it was made)."""
    return sorted(
        Suggestion.objects.filter(article__project=project).values_list(
            "article_id", "kind", "start", "end", "entity_type__name", "relation_type__name", "score"
        )
    )


def forget_suggestions(project):
    Suggestion.objects.filter(article__project=project).delete()
    SuggestionRun.objects.filter(article__project=project).delete()


def preannotation(news):
    return create_job(kind=JobKind.PREANNOTATE, project=news.project, params={}, by=None)


def statuses(job):
    return list(job.chunks.order_by("number").values_list("status", flat=True))


@pytest.fixture
def chunked(monkeypatch):
    """A chunked handler in place of the export jobs' for one test: chunks of numbers, what each does
    set by the test (`behaviour["run"]`), and a record of what was abandoned."""
    behaviour = {"abandoned": [], "seen": []}

    def plan(job, progress):
        return [
            Chunk(label=f"numbers {first}–{first + 4}", params={"first": first}, total=5)
            for first in (1, 6, 11)
        ]

    def run(job, chunk, progress):
        behaviour["seen"].append(Job.objects.get(pk=job.pk).progress_done)
        return behaviour["run"](job, chunk, progress)

    def finish(job, chunks, progress):
        progress.say("Added them up.")
        return {"sum": sum(chunk.result["sum"] for chunk in chunks)}

    def abandon(job):
        behaviour["abandoned"].append(job.pk)

    handler = ChunkedHandler(plan=plan, run_chunk=run, finish=finish, abandon=abandon)
    monkeypatch.setitem(registry._handlers, JobKind.EXPORT, handler)
    behaviour["handler"] = handler
    return behaviour


def counting(job, chunk, progress):
    first = chunk.params["first"]
    for _ in range(5):
        progress.advance()
    progress.flush()
    return {"sum": sum(range(first, first + 5))}


def new_job():
    return create_job(kind=JobKind.EXPORT, project=None, params={}, by=None)


@pytest.mark.django_db
def test_chunks_add_up_to_one_job_with_one_progress_bar(chunked):
    chunked["run"] = counting
    job = run_job(new_job())
    assert (job.status, job.result, job.message) == (JobStatus.SUCCEEDED, {"sum": 120}, "Added them up.")
    assert (job.progress_done, job.progress_total, job.percent) == (15, 15, 100)
    # Each chunk starts where the ones before it left the job's bar.
    assert chunked["seen"] == [0, 5, 10]
    chunks = list(
        job.chunks.order_by("number").values_list("number", "label", "status", "progress_done", "attempts")
    )
    assert chunks == [
        (1, "numbers 1–5", JobStatus.SUCCEEDED, 5, 1),
        (2, "numbers 6–10", JobStatus.SUCCEEDED, 5, 1),
        (3, "numbers 11–15", JobStatus.SUCCEEDED, 5, 1),
    ]
    assert chunked["abandoned"] == []


@pytest.mark.django_db
def test_a_chunks_progress_shows_in_its_jobs_bar_while_it_runs(chunked):
    during = []

    def run(job, chunk, progress):
        progress.advance(3)
        progress.flush()
        during.append(Job.objects.values_list("progress_done", "progress_total").get(pk=job.pk))
        return {"sum": 0}

    chunked["run"] = run
    run_job(new_job())
    assert during == [(3, 15), (6, 15), (9, 15)]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("failure", "message", "errors"),
    [
        (
            JobFailed("Line 3 is not JSON.", errors=[{"file": "a.jsonl", "line": 3, "message": "Not JSON."}]),
            "Part 2 of 3 (numbers 6–10) failed: Line 3 is not JSON.",
            [{"file": "a.jsonl", "line": 3, "message": "Not JSON.", "part": 2}],
        ),
        (
            ZeroDivisionError("secret detail"),
            "Part 2 of 3 (numbers 6–10) failed: It stopped on an unexpected error (ZeroDivisionError).",
            [{"message": "It stopped on an unexpected error (ZeroDivisionError).", "part": 2}],
        ),
    ],
)
def test_a_failing_chunk_fails_the_job_naming_the_chunk_and_the_others_stop(
    chunked, failure, message, errors
):
    def run(job, chunk, progress):
        if chunk.number == 2:
            raise failure
        return counting(job, chunk, progress)

    chunked["run"] = run
    job = run_job(new_job())
    assert (job.status, job.message, job.errors, job.result) == (JobStatus.FAILED, message, errors, {})
    assert statuses(job) == [JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED]
    assert chunked["abandoned"] == [job.pk]
    assert job.finished_at is not None


@pytest.mark.django_db
def test_a_chunk_running_when_another_fails_stops_at_its_next_progress_write(chunked):
    def run(job, chunk, progress):
        if chunk.number == 1:
            # Meanwhile, another worker's chunk fails the job.
            other = JobChunk.objects.get(job=job, number=3)
            from annotator.jobs.chunks import fail_job_for_chunk

            fail_job_for_chunk(other, chunked["handler"], "Bad line.", [{"message": "Bad line."}])
            progress.advance()
            progress.flush()
            pytest.fail("the chunk went on after its job had failed")
        return counting(job, chunk, progress)

    chunked["run"] = run
    job = run_job(new_job())
    assert (job.status, job.message) == (JobStatus.FAILED, "Part 3 of 3 (numbers 11–15) failed: Bad line.")
    assert statuses(job) == [JobStatus.CANCELLED, JobStatus.CANCELLED, JobStatus.FAILED]
    # Abandoned when the job failed, and again when the stopped chunk ended after that.
    assert chunked["abandoned"] == [job.pk, job.pk]


def start(job):
    """Claim and plan a job as its worker would, its chunks in the queue but none run yet."""
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.RUNNING, started_at=timezone.now(), heartbeat_at=timezone.now()
    )
    job.refresh_from_db()
    handler = registry.handler_for(job.kind)
    chunks = plan_chunks(job, handler, Progress(job))
    JobChunk.objects.filter(job=job).update(task_id="in-the-queue")
    return chunks, handler


@pytest.mark.django_db
def test_a_running_chunked_job_can_be_cancelled(chunked):
    chunked["run"] = counting
    chunks, handler = start(new_job())
    run_chunk(chunks[0].pk, handler)
    job = cancel_job(Job.objects.get(pk=chunks[0].job_id))
    assert (job.status, job.message) == (JobStatus.CANCELLED, "Cancelled with 1 of 3 parts done.")
    assert statuses(job) == [JobStatus.SUCCEEDED, JobStatus.CANCELLED, JobStatus.CANCELLED]
    assert (
        run_chunk(chunks[1].pk, handler) == JobStatus.CANCELLED
    )  # its task, still in the queue, does nothing
    assert chunked["seen"] == [0]
    assert chunked["abandoned"] == [job.pk]


@pytest.mark.django_db
def test_a_chunk_whose_worker_went_silent_runs_again_until_its_attempts_are_spent(chunked, settings):
    settings.ANNOTATOR_JOB_CHUNK_ATTEMPTS = 2
    chunked["run"] = counting
    chunks, _ = start(new_job())
    long_ago = timezone.now() - timedelta(hours=1)
    # A worker took part 2 (and made some progress) and died.
    JobChunk.objects.filter(pk=chunks[1].pk).update(
        status=JobStatus.RUNNING, attempts=1, heartbeat_at=long_ago, progress_done=4, task_id="t1"
    )
    Job.objects.filter(pk=chunks[1].job_id).update(heartbeat_at=long_ago, progress_done=4)
    # Tasks run in the test process: queued again, part 2 runs at once.
    assert reap_stale_jobs() == 0
    chunk = JobChunk.objects.get(pk=chunks[1].pk)
    assert (chunk.status, chunk.attempts, chunk.progress_done) == (JobStatus.SUCCEEDED, 2, 5)
    job = Job.objects.get(pk=chunk.job_id)
    assert (job.status, job.progress_done) == (JobStatus.RUNNING, 5)  # parts 1 and 3 still wait for a worker
    # Its second worker dies too: the attempts are spent and the job fails, naming the part.
    JobChunk.objects.filter(pk=chunks[0].pk).update(
        status=JobStatus.RUNNING, attempts=2, heartbeat_at=long_ago
    )
    assert reap_stale_jobs() == 1
    job.refresh_from_db()
    assert (job.status, job.message) == (
        JobStatus.FAILED,
        "Part 1 of 3 (numbers 1–5) failed: Its worker stopped responding 2 times.",
    )
    assert statuses(job) == [JobStatus.FAILED, JobStatus.SUCCEEDED, JobStatus.CANCELLED]


@pytest.mark.django_db
def test_the_reaper_leaves_a_chunked_job_waiting_for_a_free_worker(chunked):
    chunked["run"] = counting
    chunks, _ = start(new_job())
    Job.objects.filter(pk=chunks[0].job_id).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert reap_stale_jobs() == 0
    assert Job.objects.get(pk=chunks[0].job_id).status == JobStatus.RUNNING
    assert statuses(Job.objects.get(pk=chunks[0].job_id)) == [JobStatus.QUEUED] * 3


@pytest.mark.django_db
def test_the_reaper_queues_chunks_whose_task_never_reached_the_queue(chunked):
    chunked["run"] = counting
    chunks, _ = start(new_job())
    # The planner committed the chunks and died before it queued their tasks.
    JobChunk.objects.filter(job_id=chunks[0].job_id).update(task_id="")
    Job.objects.filter(pk=chunks[0].job_id).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert reap_stale_jobs() == 0
    job = Job.objects.get(pk=chunks[0].job_id)  # tasks run in the test process: at once
    assert (job.status, job.result) == (JobStatus.SUCCEEDED, {"sum": 120})


@pytest.mark.django_db
@pytest.mark.usefixtures("named_news_kb")
def test_preannotation_in_chunks_stores_exactly_what_one_piece_does(news, settings):
    add_articles(news, 12)
    settings.ANNOTATOR_JOB_CHUNK_ARTICLES = 100
    whole = run_job(preannotation(news))
    expected = stored(news.project)
    assert whole.chunks.count() == 1
    forget_suggestions(news.project)

    settings.ANNOTATOR_JOB_CHUNK_ARTICLES = 5
    job = run_job(preannotation(news))
    assert stored(news.project) == expected
    assert len(expected) > 13
    assert job.result == whole.result
    assert (job.result["articles"], job.result["created"], job.result["deleted"]) == (13, len(expected), 0)
    assert (job.status, job.progress_done, job.progress_total) == (JobStatus.SUCCEEDED, 13, 13)
    ids = sorted(news.project.articles.values_list("pk", flat=True))
    labels = list(job.chunks.values_list("label", "progress_total", "progress_done"))
    assert labels == [
        (f"articles #{ids[0]}–#{ids[4]}", 5, 5),
        (f"articles #{ids[5]}–#{ids[9]}", 5, 5),
        (f"articles #{ids[10]}–#{ids[12]}", 3, 3),
    ]
    assert job.message == f"Pre-annotated 13 articles: {len(expected)} suggestions added, 0 replaced."


@pytest.mark.django_db
@pytest.mark.usefixtures("named_news_kb")
def test_a_preannotation_chunk_run_again_after_its_worker_died_stores_nothing_twice(news, settings):
    add_articles(news, 12)
    settings.ANNOTATOR_JOB_CHUNK_ARTICLES = 5
    expected_job = run_job(preannotation(news))
    expected = stored(news.project)
    forget_suggestions(news.project)

    chunks, handler = start(preannotation(news))
    # The first worker stored part 2's first articles, then died.
    from annotator.suggestions.generate import preannotate_articles
    from annotator.suggestions.models import SuggesterVersion

    version = SuggesterVersion.objects.get(pk=chunks[1].params["suggester_version"])
    preannotate_articles(
        project=news.project, article_ids=chunks[1].params["article_ids"][:3], suggester_version=version
    )
    JobChunk.objects.filter(pk=chunks[1].pk).update(
        status=JobStatus.RUNNING, attempts=1, heartbeat_at=timezone.now() - timedelta(hours=1), task_id="t"
    )
    reap_stale_jobs()  # part 2 again, here and now
    for chunk in (chunks[0], chunks[2]):
        run_chunk(chunk.pk, handler)
    job = Job.objects.get(pk=chunks[0].job_id)
    assert stored(news.project) == expected
    assert (job.status, job.progress_done, job.progress_total) == (JobStatus.SUCCEEDED, 13, 13)
    # Part 2's rerun found three articles done already: it kept their suggestions.
    second = JobChunk.objects.get(pk=chunks[1].pk)
    assert (second.attempts, second.result["kept"] > 0) == (2, True)
    assert job.result["articles"] == expected_job.result["articles"] == 13
    assert job.result["created"] + job.result["kept"] == expected_job.result["created"]


def worker_threads(count, stop):
    """`count` queue workers (django-tasks' db_worker loop), each on a thread with its own connection."""
    from django_tasks_db.management.commands.db_worker import Worker

    def serve(worker):
        try:
            worker.run()
        finally:
            connections.close_all()

    workers = [
        Worker(
            queue_names=["*"],
            interval=0.05,
            batch=False,
            backend_name="default",
            startup_delay=False,
            max_tasks=None,
            worker_id=f"test-worker-{n}",
            excluded_queue_names=[],
        )
        for n in range(count)
    ]
    threads = [
        threading.Thread(target=serve, args=(worker,), name=f"worker-{n}") for n, worker in enumerate(workers)
    ]
    for thread in threads:
        thread.start()

    def stop_all():
        stop.wait()
        for worker in workers:
            worker.running = False
        for thread in threads:
            thread.join(timeout=60)

    return stop_all


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("named_news_kb")
@pytest.mark.parametrize("workers", [1, 2])
def test_queue_workers_share_a_preannotation_job_and_store_what_one_worker_does(
    news, settings, monkeypatch, workers
):
    if workers > 1 and connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: several queue workers at once (SQLite runs one)")
    add_articles(news, 12)
    settings.ANNOTATOR_JOB_CHUNK_ARTICLES = 5
    run_job(preannotation(news))  # one process, inline: the reference
    expected = stored(news.project)
    forget_suggestions(news.project)

    # Each worker's first chunk waits until every worker holds one: all of them take part.
    real = registry.handler_for(JobKind.PREANNOTATE)
    barrier, first = threading.Barrier(workers), threading.local()

    def run(job, chunk, progress):
        if not getattr(first, "done", False):
            first.done = True
            barrier.wait(timeout=120)
        return real.run_chunk(job, chunk, progress)

    monkeypatch.setitem(
        registry._handlers,
        JobKind.PREANNOTATE,
        ChunkedHandler(plan=real.plan, run_chunk=run, finish=real.finish),
    )
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
    stop = threading.Event()
    stop_all = worker_threads(workers, stop)
    try:
        job = enqueue_job(preannotation(news))
        deadline = timezone.now() + timedelta(minutes=5)
        while not job.is_finished and timezone.now() < deadline:
            stop.wait(0.2)
            job.refresh_from_db()
    finally:
        stop.set()
        stop_all()
    assert (job.status, job.message) == (
        JobStatus.SUCCEEDED,
        f"Pre-annotated 13 articles: {len(expected)} suggestions added, 0 replaced.",
    )
    assert stored(news.project) == expected
    assert (job.progress_done, job.progress_total) == (13, 13)
    assert statuses(job) == [JobStatus.SUCCEEDED] * 3
    ran_by = {name.rsplit("/", 1)[-1] for name in job.chunks.values_list("worker", flat=True)}
    assert ran_by == {f"worker-{n}" for n in range(workers)}


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", sorted(FORMATS.writers))
def test_an_export_in_chunks_writes_the_bytes_of_one_piece(news, settings, tmp_path, monkeypatch, today, fmt):
    # brat's zip stamps its files with the time they are written (in 2-s steps): the chunked export and the
    # one-piece export it is compared with ran across a step on a loaded machine. Both at one moment here.
    monkeypatch.setattr(brat, "time", SimpleNamespace(localtime=lambda: (2026, 12, 7, 12, 0, 0)))
    gold = with_gold(news)
    settings.DATA_DIR = tmp_path
    settings.ANNOTATOR_JOB_CHUNK_ARTICLES = 1
    query = ExportQuery(format=fmt)
    job = run_job(start_export(project=gold.project, query=query, by=gold.manager, queue=False))
    assert job.status == JobStatus.SUCCEEDED, job.errors
    assert job.chunks.count() == 3
    assert export_path(job).read_bytes() == exported(gold.project, fmt)
    assert job.result == {
        "file_name": file_name(gold.project, query), "articles": 3, "bytes": export_path(job).stat().st_size,
    }  # fmt: skip
    assert (job.progress_done, job.progress_total) == (3, 3)
    assert sorted(path.name for path in (tmp_path / "exports").iterdir()) == [export_path(job).name]


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", ["jsonl", "conll", "spacy"])  # lines from rows, bytes from records, records
def test_an_export_whose_chunk_fails_leaves_no_file_and_no_parts(news, settings, tmp_path, monkeypatch, fmt):
    gold = with_gold(news)
    settings.DATA_DIR = tmp_path
    settings.ANNOTATOR_JOB_CHUNK_ARTICLES = 1
    ids = sorted(gold.project.articles.filter(annotation_sets__kind="gold").values_list("pk", flat=True))

    def failing(real):
        def read(project, query, **options):
            yield from real(project, query, **options)
            if query.article_ids == (ids[2],):  # after all its bytes or records: a part file was begun
                raise OSError("disk full")

        return read

    for name in ("export_records", "export_json_lines"):
        monkeypatch.setattr(interchange_tasks, name, failing(getattr(interchange_tasks, name)))
    job = run_job(
        start_export(project=gold.project, query=ExportQuery(format=fmt), by=gold.manager, queue=False)
    )
    assert (job.status, job.message) == (
        JobStatus.FAILED,
        f"Part 3 of 3 (article #{ids[2]}) failed: It stopped on an unexpected error (OSError).",
    )
    assert statuses(job) == [JobStatus.SUCCEEDED, JobStatus.SUCCEEDED, JobStatus.FAILED]
    assert list((tmp_path / "exports").rglob("*")) == []


@pytest.mark.django_db
def test_the_api_cancels_a_running_chunked_job_for_its_starter_or_a_manager(chunked, news, client):
    chunked["run"] = counting
    job = create_job(kind=JobKind.EXPORT, project=news.project, params={}, by=news.annotator)
    chunks, handler = start(job)
    run_chunk(chunks[0].pk, handler)
    curator = UserFactory(username="carol")
    MembershipFactory(project=news.project, user=curator, role=Role.CURATOR)
    url = reverse("api:job-cancel", args=[job.pk])

    client.force_login(curator)
    response = client.post(url)
    assert (response.status_code, response.json()["error"]["message"]) == (
        403,
        "Only whoever started the job and the project's managers can cancel it.",
    )
    client.force_login(news.annotator)  # who started it
    response = client.post(url)
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["message"], body["progress_done"], body["progress_total"]) == (
        "cancelled",
        "Cancelled with 1 of 3 parts done.",
        5,
        15,
    )
    assert statuses(job) == [JobStatus.SUCCEEDED, JobStatus.CANCELLED, JobStatus.CANCELLED]
    response = client.post(url)
    assert (response.status_code, response.json()["error"]["message"]) == (
        409,
        "The job has already ended (cancelled).",
    )


@pytest.mark.django_db
def test_the_api_refuses_to_cancel_a_running_job_that_runs_in_one_piece(news, client):
    job = create_job(kind=JobKind.IMPORT_ARTICLES, project=news.project, params={}, by=news.manager)
    Job.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING)
    client.force_login(news.manager)
    response = client.post(reverse("api:job-cancel", args=[job.pk]))
    assert (response.status_code, response.json()["error"]["message"]) == (
        409,
        "This job runs in one piece and cannot stop halfway; it can be cancelled only while queued.",
    )
    assert Job.objects.get(pk=job.pk).status == JobStatus.RUNNING
    Job.objects.filter(pk=job.pk).update(status=JobStatus.QUEUED)
    response = client.post(reverse("api:job-cancel", args=[job.pk]))
    assert (response.status_code, response.json()["status"]) == (200, "cancelled")


def kb_lines(count, bad=()):
    """JSON lines of `count` entities; the line numbers in `bad` (from 1) are broken JSON instead."""
    items = [
        {"id": f"e{n}", "name": f"Entity {n}", "aliases": [f"E{n}", f"Ent {n}"]} for n in range(1, count + 1)
    ]
    return b"".join(b"{broken\n" if n in bad else jsonl(item) for n, item in enumerate(items, start=1))


def import_kb(news, path, name):
    knowledge_base = KnowledgeBase.objects.create(project=news.project, name=name)
    job = run_job(
        start_kb_import(knowledge_base=knowledge_base, path=path, file_label=path.name, by=None, queue=False)
    )
    return knowledge_base, job


@pytest.mark.django_db
@pytest.mark.parametrize("layout", ["jsonl", "wikidata"])
def test_a_kb_import_in_chunks_writes_what_one_chunk_does(news, tmp_path, settings, layout):
    settings.DATA_DIR = tmp_path
    path = tmp_path / f"kb.{layout}"
    if layout == "jsonl":
        path.write_bytes(kb_lines(40))
    else:
        people = [
            wikidata_entity(f"Q{n}", {"en": f"Person {n}"}, aliases={"en": [f"P{n}"]}, p31=["Q5"])
            for n in range(1, 31)
        ]
        path.write_bytes(dump(*people))
    settings.ANNOTATOR_KB_IMPORT_CHUNK_MB = 1
    whole, one = import_kb(news, path, "whole")
    settings.ANNOTATOR_KB_IMPORT_CHUNK_MB = 400 / 2**20  # about 400 bytes
    parts, job = import_kb(news, path, "parts")
    assert (one.status, job.status) == (JobStatus.SUCCEEDED, JobStatus.SUCCEEDED), job.errors
    assert (one.chunks.count(), job.chunks.count() > 3) == (1, True)
    assert kb_entities(parts) == kb_entities(whole)
    assert {key: value for key, value in job.result.items() if key != "knowledge_base_id"} == {
        key: value for key, value in one.result.items() if key != "knowledge_base_id"
    }
    assert (job.progress_done, job.progress_total) == (path.stat().st_size, path.stat().st_size)
    # Chunks start on line boundaries and cover the file.
    ranges = list(job.chunks.values_list("params__start", "params__end"))
    data = path.read_bytes()
    assert (ranges[0][0], ranges[-1][1]) == (0, len(data))
    assert all(end == start for (_, end), (start, _) in itertools.pairwise(ranges))
    assert all(data[start - 1 : start] == b"\n" for start, _ in ranges[1:])
    assert not (tmp_path / "jobs" / f"{job.pk}.kb-parts").exists()


@pytest.mark.django_db
def test_bad_lines_anywhere_in_a_chunked_kb_import_write_nothing_and_are_reported_at_their_lines(
    news, tmp_path, settings
):
    settings.DATA_DIR = tmp_path
    settings.ANNOTATOR_KB_IMPORT_CHUNK_MB = 400 / 2**20
    path = tmp_path / "kb.jsonl"
    path.write_bytes(kb_lines(40, bad={3, 37}))
    knowledge_base, job = import_kb(news, path, "Target")
    assert job.chunks.count() > 3
    assert (job.status, job.message) == (JobStatus.FAILED, "2 errors in kb.jsonl; nothing was imported.")
    assert [(error["line"], error["message"][:27]) for error in job.errors] == [
        (3, "This line is not valid JSON"),
        (37, "This line is not valid JSON"),
    ]
    assert knowledge_base.entities.count() == 0
    assert not (tmp_path / "jobs" / f"{job.pk}.kb-parts").exists()


@pytest.mark.django_db(transaction=True)
def test_a_chunked_kb_import_that_fails_while_writing_leaves_the_kb_as_it_was(
    news, tmp_path, settings, monkeypatch
):
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs PostgreSQL: a KB import written in one transaction (SQLite writes it in batches, or one long "
            "write would lock every other writer out)"
        )
    settings.DATA_DIR = tmp_path
    settings.ANNOTATOR_KB_IMPORT_CHUNK_MB = 400 / 2**20
    monkeypatch.setattr(kb_imports, "BATCH_SIZE", 10)
    real, calls = kb_imports.write_entities, []

    def write_entities(**kwargs):
        calls.append(len(kwargs["records"]))
        if len(calls) == 3:
            raise OSError("the database went away")
        return real(**kwargs)

    monkeypatch.setattr(kb_imports, "write_entities", write_entities)
    path = tmp_path / "kb.jsonl"
    path.write_bytes(kb_lines(40))
    knowledge_base, job = import_kb(news, path, "Target")
    assert calls == [10, 10, 10]
    assert (job.status, job.message) == (
        JobStatus.FAILED,
        "The job stopped on an unexpected error (OSError) while putting its parts together.",
    )
    assert knowledge_base.entities.count() == 0
    assert not (tmp_path / "jobs" / f"{job.pk}.kb-parts").exists()


@pytest.mark.django_db
def test_the_reaper_queues_again_a_chunk_whose_task_a_dead_worker_took_before_claiming_it(chunked, settings):
    from django_tasks_db.models import DBTaskResult

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
    chunked["run"] = counting
    chunks, _ = start(new_job())
    for chunk in chunks:
        enqueue_chunk(chunk)
    first, second, third = (JobChunk.objects.get(pk=chunk.pk).task_id for chunk in chunks)
    # A worker took part 2's task from the queue and died before it claimed the part; part 3's task is
    # gone from the queue (pruned).
    DBTaskResult.objects.filter(id=second).update(status="RUNNING")
    DBTaskResult.objects.filter(id=third).delete()
    job_id = chunks[0].job_id
    Job.objects.filter(pk=job_id).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert reap_stale_jobs() == 0
    now = dict(JobChunk.objects.filter(job_id=job_id).values_list("number", "task_id"))
    assert now[1] == first  # still waits in the queue for a free worker
    assert now[2] not in ("", second)
    assert now[3] not in ("", third)
    ready = set(DBTaskResult.objects.filter(status="READY").values_list("id", flat=True))
    assert {str(task) for task in ready} == {first, now[2], now[3]}
    assert statuses(Job.objects.get(pk=job_id)) == [JobStatus.QUEUED] * 3


@pytest.mark.django_db
def test_the_export_page_offers_its_starter_and_managers_to_cancel_a_running_export(chunked, news, client):
    chunked["run"] = counting
    curator = UserFactory(username="carol")
    MembershipFactory(project=news.project, user=curator, role=Role.CURATOR)
    other = UserFactory(username="cory")
    MembershipFactory(project=news.project, user=other, role=Role.CURATOR)
    job = create_job(kind=JobKind.EXPORT, project=news.project, params={"format": "jsonl"}, by=curator)
    chunks, handler = start(job)
    run_chunk(chunks[0].pk, handler)
    page = reverse("exports:detail", args=[news.project.pk, job.pk])
    cancel = reverse("exports:cancel", args=[news.project.pk, job.pk])

    client.force_login(other)  # a curator who did not start it
    assert b"Cancel this export" not in client.get(page).content
    assert client.post(cancel).status_code == 403
    client.force_login(news.manager)
    assert b"Cancel this export" in client.get(page).content
    client.force_login(curator)
    content = client.get(page).content.decode()
    assert f'<form method="post" action="{cancel}" class="job-cancel">' in content
    assert 'name="csrfmiddlewaretoken"' in content
    response = client.post(cancel, follow=True)
    assert response.redirect_chain == [(page, 302)]
    content = response.content.decode()
    assert "Export cancelled. It leaves no file." in content
    assert "Cancelled with 1 of 3 parts done." in content
    assert "Cancel this export" not in content
    assert Job.objects.get(pk=job.pk).status == JobStatus.CANCELLED
    response = client.post(cancel, follow=True)
    assert "The export had already ended (cancelled)." in response.content.decode()


@pytest.mark.django_db
def test_a_chunked_job_still_being_split_asks_to_try_its_cancel_again(chunked, news, client):
    job = create_job(kind=JobKind.EXPORT, project=news.project, params={}, by=news.manager)
    Job.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING)  # claimed; no chunks yet
    client.force_login(news.manager)
    response = client.post(reverse("api:job-cancel", args=[job.pk]))
    assert (response.status_code, response.json()["error"]["message"]) == (
        409,
        "The job is being split into parts; try again in a moment.",
    )


@pytest.mark.django_db
def test_the_kb_import_page_lets_its_starter_cancel_a_running_import_and_nothing_is_written(
    news, client, tmp_path, settings
):
    settings.DATA_DIR = tmp_path
    settings.ANNOTATOR_KB_IMPORT_CHUNK_MB = 400 / 2**20
    path = tmp_path / "kb.jsonl"
    path.write_bytes(kb_lines(40))
    knowledge_base = KnowledgeBase.objects.create(project=news.project, name="Target")
    job = start_kb_import(
        knowledge_base=knowledge_base, path=path, file_label="kb.jsonl", by=news.annotator, queue=False
    )
    chunks, handler = start(job)
    run_chunk(chunks[0].pk, handler)
    page = reverse("kb:job", args=[news.project.pk, job.pk])
    cancel = reverse("kb:job_cancel", args=[news.project.pk, job.pk])
    curator = UserFactory(username="carol")
    MembershipFactory(project=news.project, user=curator, role=Role.CURATOR)

    client.force_login(curator)
    assert b"Cancel this import" not in client.get(page).content
    assert client.post(cancel).status_code == 403
    client.force_login(news.annotator)
    assert f'action="{cancel}" class="job-cancel"' in client.get(page).content.decode()
    response = client.post(cancel, follow=True)
    content = response.content.decode()
    assert "Import cancelled. Nothing of it was written." in content
    assert f"Cancelled with 1 of {len(chunks)} parts done." in content
    assert "Cancel this import" not in content
    assert knowledge_base.entities.count() == 0
    assert not (tmp_path / "jobs" / f"{job.pk}.kb-parts").exists()
