"""Crashes during saves: web workers killed, database connections cut, the database restarted.

Clients save spans to one annotation set through a real gunicorn while something breaks. Whatever breaks,
a client gets a success, a conflict (412) or 503 (database unavailable, Retry-After), or its connection
drops because its own worker died; never a 500 or a traceback. Afterwards the data is consistent (each
save wrote its span and moved the set's version together, or did neither; every acknowledged save is
there) and the app answers again by itself. Imports killed mid-way: tests/integration/test_import_jobs.py.
"""

import os
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from unittest import mock

import pytest
from django.db import OperationalError, connection
from django.test import Client

from annotator.annotations.models import AnnotationSet, Span
from annotator.api.tokens import create_token
from tests.live import DROPPED, api_call, database_url, gunicorn_process, worker_pids

CLIENTS = 6
ALLOWED = {201, 412, 503, DROPPED}


def test_a_lost_database_answers_503_with_retry_after_not_a_500(news, settings):
    settings.DEBUG = False
    client = Client(raise_request_exception=False)
    client.force_login(news.annotator)
    lost = OperationalError("server closed the connection unexpectedly")
    with mock.patch("annotator.api.views.ProjectList.get_queryset", side_effect=lost):
        response = client.get("/api/v1/projects/")
    assert (response.status_code, response["Retry-After"]) == (503, "5")
    assert response.json()["error"] == {
        "code": "database_unavailable",
        "message": "The database is not reachable right now; nothing was saved. Try again in a few seconds.",
        "fields": {},
    }
    with mock.patch("annotator.projects.views.Project.objects.visible_to", side_effect=lost):
        page = client.get(f"/projects/{news.project.pk}/")
    assert (page.status_code, page["Retry-After"]) == (503, "5")
    assert b"server closed" not in page.content


class Burst:
    """CLIENTS threads saving a distinct span each round (read the ETag, then create), until stopped."""

    def __init__(self, base, token, set_id):
        self.base, self.token, self.set_id = base, token, set_id
        self.results = []  # (status of the save, its position, the body)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.client, args=(n,)) for n in range(CLIENTS)]

    def client(self, number):
        for round_ in range(10_000):
            if self.stop.is_set():
                return
            status, etag, body = api_call(
                "GET", f"{self.base}/api/v1/sets/{self.set_id}/", self.token, timeout=20
            )
            if status != 200:
                with self.lock:
                    self.results.append((status, None, body))
                time.sleep(0.05)
                continue
            position = 5 * (number * 1000 + round_)
            status, _, body = api_call(
                "POST", f"{self.base}/api/v1/sets/{self.set_id}/spans/", self.token,
                {"start": position, "end": position + 4, "type": "PERSON"}, if_match=etag, timeout=20,
            )  # fmt: skip
            with self.lock:
                self.results.append((status, position, body))

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)

    def saves(self):
        with self.lock:
            return len(self.results)

    def wait_for(self, count, timeout=60):
        deadline = time.monotonic() + timeout
        while self.saves() < count:
            assert time.monotonic() < deadline, f"only {self.saves()} answers in {timeout} s"
            time.sleep(0.02)


def set_up(news):
    news.article.text = "word " * CLIENTS * 1000
    news.article.save()
    return create_token(user=news.annotator, name="crash", scope="write")[1], news.annotation_set.pk


def assert_consistent_and_recovered(base, token, set_id, results):
    statuses = {status for status, _, _ in results}
    assert statuses <= ALLOWED, [r for r in results if r[0] not in ALLOWED][:5]
    for status, _, body in results:
        if status == 503:
            assert body["error"]["code"] == "database_unavailable", (status, body)
    acknowledged = {position for status, position, _ in results if status == 201}
    maybe = {position for status, position, _ in results if status in (DROPPED, 503) and position is not None}
    saved = set(Span.objects.filter(annotation_set_id=set_id).values_list("start", flat=True))
    assert acknowledged <= saved  # no acknowledged write is lost
    assert saved <= acknowledged | maybe  # nothing else appeared (a dropped request may or may not have)
    assert AnnotationSet.objects.get(pk=set_id).version == 1 + len(saved)  # span and version together
    status, etag, _ = api_call("GET", f"{base}/api/v1/sets/{set_id}/", token)
    assert status == 200  # the app recovered by itself
    position = 5 * (CLIENTS * 1000 - 1)
    status, _, _ = api_call(
        "POST", f"{base}/api/v1/sets/{set_id}/spans/", token,
        {"start": position, "end": position + 4, "type": "PERSON"}, if_match=etag,
    )  # fmt: skip
    assert status == 201


@pytest.mark.django_db(transaction=True)
def test_web_workers_killed_mid_burst_lose_no_acknowledged_save_and_are_replaced(news):
    token, set_id = set_up(news)
    chance = random.Random(9)
    with gunicorn_process(workers=3) as (base, master):
        with Burst(base, token, set_id) as burst:
            for kill in range(3):
                burst.wait_for(15 * (kill + 1))
                time.sleep(chance.uniform(0, 0.2))  # at a random point of some request
                os.kill(chance.choice(worker_pids(master)), signal.SIGKILL)
            burst.wait_for(burst.saves() + 15)  # the replacement workers serve
        results = burst.results
        print(f"answers: {Counter(status for status, _, _ in results)}")
        assert len(worker_pids(master)) == 3
        assert_consistent_and_recovered(base, token, set_id, results)
    assert sum(status == 201 for status, _, _ in results) >= 10


APP_NAME = "annotator-crash-test"  # the gunicorn's connections carry it, so only they are cut


def terminate_app_connections():
    """Cut every connection of the gunicorn under test, as a database restart would (and no other: a
    live server of other tests shares the database)."""
    with connection.cursor() as cursor:
        cursor.execute(
            # This database's only: the same test of another run (another checkout, CI) cuts its own.
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = %s AND datname = current_database()",
            [APP_NAME],
        )
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_database_connections_cut_mid_burst_give_503_at_worst_and_the_pool_reconnects(news):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: cuts its connections with pg_terminate_backend")
    token, set_id = set_up(news)
    named = f"{database_url()}?application_name={APP_NAME}"
    with gunicorn_process(workers=2, threads=2, DATABASE_URL=named) as (base, _):
        with Burst(base, token, set_id) as burst:
            cut = 0
            for round_ in range(4):
                burst.wait_for(10 * (round_ + 1))
                cut += terminate_app_connections()
            burst.wait_for(burst.saves() + 20)
        assert cut >= 4  # the app's connections really were cut
        print(f"cut {cut} connections; answers: {Counter(status for status, _, _ in burst.results)}")
        assert_consistent_and_recovered(base, token, set_id, burst.results)


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    not os.environ.get("ANNOTATOR_TEST_PG_RESTART"),
    reason="needs ANNOTATOR_TEST_PG_RESTART=<version>/<cluster> (e.g. 15/main): restarts the shared PostgreSQL server",
)
def test_postgresql_restarted_mid_burst_gives_503_at_worst_and_the_app_recovers(news):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: restarts its server")
    version, cluster = os.environ["ANNOTATOR_TEST_PG_RESTART"].split("/")
    token, set_id = set_up(news)
    with gunicorn_process(workers=2, threads=2) as (base, _):
        with Burst(base, token, set_id) as burst:
            burst.wait_for(20)
            started = time.monotonic()
            subprocess.run(
                ["pg_ctlcluster", version, cluster, "restart", "-m", "fast"], check=True, timeout=60
            )
            outage = time.monotonic() - started
            burst.wait_for(burst.saves() + 20)
        connection.close()  # this process's connection died with the server too
        print(f"PostgreSQL restarted in {outage:.1f} s; answers: {Counter(r[0] for r in burst.results)}")
        assert_consistent_and_recovered(base, token, set_id, burst.results)
