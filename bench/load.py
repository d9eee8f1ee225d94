"""Load: concurrent simulated reviewers against a real gunicorn, with a baseline measured in the same run.

    python bench/load.py                                   # SQLite (temporary file)
    DATABASE_URL=postgres://... LOAD_CLIENTS=50 LOAD_SECONDS=60 python bench/load.py
    WEB_CONCURRENCY=4 ...                                  # gunicorn workers (default 2, as `manage.py serve`)

The server runs with production settings: DJANGO_DEBUG off, static files from the collected manifest,
suggestions computed on open when they are not current (ANNOTATOR_SUGGEST_ON_OPEN's default), gunicorn.conf.py.

Each reviewer (a thread with its own article, session and write token) loops over a realistic mix: open
the annotate page, create a span (REST, If-Match), accept a suggestion (REST), list the project's
articles (REST). First the same clients hit /healthz alone: the baseline of the machine, gunicorn and
the HTTP stack with no app work. Prints requests/s, p50/p95/p99 per kind, every non-2xx answer, the mix's
throughput as a ratio of /healthz's, the CPU time the gunicorn workers and the database server spent per
request (steadier than requests/s on a busy machine), the CPU the reviewers themselves took per request (they
share the machine's cores with the server), and the load average.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import sys
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from urllib.parse import urlsplit

from _harness import bench_database
from _harness import cpu_seconds as process_cpu_seconds

DROPPED = 0  # the status of a request whose connection broke before any answer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CLIENTS = int(os.environ.get("LOAD_CLIENTS", "16"))
SECONDS = float(os.environ.get("LOAD_SECONDS", "15"))
WORKERS = int(os.environ.get("WEB_CONCURRENCY", "2"))
THREADS = int(os.environ.get("WEB_THREADS", "1"))
SUGGESTIONS = 200
TEXT = ("Sergey Naryshkin, Director of Russia's Foreign Intelligence Service, visited Minsk. " * 30)[:2500]
# Suggestions are words: a span (and so an accepted suggestion) never starts or ends with white space.
WORDS = [match.span() for match in re.finditer(r"\w+", TEXT)]


def percentile(times: list[float], fraction: float) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000


class Reviewer:
    """One reviewer: a thread of the load, with its own http.client connection (urllib's opener and
    handlers cost this process, which shares the server's cores, 0.47 ms of CPU per /healthz call against
    0.37 ms). gunicorn's sync workers close each connection after answering: each request connects anew."""

    def __init__(self, base: str, number: int, who: dict[str, object]) -> None:
        self.base, self.number, self.who = base, number, who
        self.spans = 0
        self.suggestions = list(who["suggestions"])  # type: ignore[call-overload]
        self.connection = http.client.HTTPConnection(urlsplit(base).netloc, timeout=30)
        self.token = {"Authorization": f"Bearer {who['token']}", "Content-Type": "application/json"}

    def send(
        self, method: str, path: str, headers: dict[str, str], body: dict[str, object] | None = None
    ) -> tuple[int, str | None]:
        """(status, ETag) of a request; DROPPED when no answer came."""
        try:
            self.connection.request(method, path, json.dumps(body) if body else None, headers)
            response = self.connection.getresponse()
            response.read()
        except (http.client.HTTPException, OSError):
            self.connection.close()
            return DROPPED, None
        return response.status, response.getheader("ETag")

    def page(self) -> int:
        return self.send(
            "GET",
            f"/articles/{self.who['article']}/annotate/",
            {"Cookie": f"sessionid={self.who['session']}"},
        )[0]

    def healthz(self) -> int:
        return self.send("GET", "/healthz", {})[0]

    def api(self, method: str, path: str, body: dict[str, object] | None = None) -> tuple[int, str | None]:
        headers = self.token if method == "GET" else {**self.token, "If-Match": self.etag}
        return self.send(method, f"/api/v1{path}", headers, body)

    def actions(self) -> list[tuple[str, object]]:
        set_path = f"/sets/{self.who['set']}/"
        return [
            ("open annotate page", self.page),
            ("create span", lambda: self.write(f"{set_path}spans/", self.next_span())),
            ("accept suggestion", lambda: self.write(f"{set_path}decisions/", self.next_decision())),
            ("list articles (API)", lambda: self.api("GET", f"/projects/{self.who['project']}/articles/")[0]),
        ]

    def write(self, path: str, body: dict[str, object] | None) -> int:
        if body is None:
            return 200  # nothing left to accept: not a request
        status, etag = self.api("POST", path, body)
        if etag:
            self.etag = etag
        return status

    def next_span(self) -> dict[str, object]:
        self.spans += 1
        start = (self.spans * 7) % 2400
        while TEXT[start].isspace():  # a span never starts or ends with white space
            start += 1
        return {"start": start, "end": start + 1, "type": "PERSON"}

    def next_decision(self) -> dict[str, object] | None:
        return {"suggestion": self.suggestions.pop(), "verdict": "accepted"} if self.suggestions else None


def run(
    base: str, people: list[dict[str, object]], plan: str
) -> tuple[dict[str, list[float]], Counter, float]:
    times: dict[str, list[float]] = defaultdict(list)
    errors: Counter = Counter()
    lock = threading.Lock()
    stop = time.monotonic() + SECONDS

    def reviewer(number: int) -> None:
        me = Reviewer(base, number, people[number])
        status, me.etag = me.api("GET", f"/sets/{people[number]['set']}/")
        healthz = [("baseline: /healthz", me.healthz)]
        actions = healthz if plan == "baseline" else me.actions()
        turn = 0
        while time.monotonic() < stop:
            kind, action = actions[turn % len(actions)]
            turn += 1
            began = time.perf_counter()
            status = action()  # type: ignore[operator]
            took = time.perf_counter() - began
            with lock:
                times[kind].append(took)
                if status >= 300 or status == DROPPED:
                    errors[(kind, status)] += 1

    threads = [threading.Thread(target=reviewer, args=(n,)) for n in range(CLIENTS)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return times, errors, time.monotonic() - began


def people_for(vendor: str) -> list[dict[str, object]]:
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.sessions.backends.db import SessionStore

    from annotator.annotations.services import get_or_create_own_set
    from annotator.api.tokens import create_token
    from annotator.articles.models import Article
    from annotator.projects.models import EntityType, Membership, Project, Role
    from annotator.suggestions.models import SuggesterKind, SuggesterVersion, Suggestion, SuggestionKind

    project = Project.objects.create(name="Load", slug="load")
    person = EntityType.objects.create(project=project, name="PERSON")
    suggester = SuggesterVersion.objects.create(project=project, name="kb-ruler", kind=SuggesterKind.RULES,
                                                version="1", is_active=True)  # fmt: skip
    people = []
    for number in range(CLIENTS):
        user = get_user_model().objects.create_user(f"reviewer{number}")
        Membership.objects.create(project=project, user=user, role=Role.ANNOTATOR)
        article = Article.objects.create(
            project=project, text=TEXT, external_id=f"a{number}", title=f"A {number}"
        )
        suggestions = Suggestion.objects.bulk_create(
            Suggestion(article=article, suggester_version=suggester, kind=SuggestionKind.ENTITY, start=start,
                       end=end, entity_type=person, score=0.9, source="kb-ruler")
            for start, end in WORDS[:SUGGESTIONS]
        )  # fmt: skip
        session = SessionStore()
        session.update({SESSION_KEY: str(user.pk), HASH_SESSION_KEY: user.get_session_auth_hash(),
                        BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend"})  # fmt: skip
        session.create()
        people.append({
            "project": project.pk, "article": article.pk, "session": session.session_key,
            "set": get_or_create_own_set(article=article, user=user).pk,
            "token": create_token(user=user, name="load", scope="write")[1],
            "suggestions": [s.pk for s in suggestions],
        })  # fmt: skip
    return people


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User plus system CPU time of each process still alive."""
    return {pid: used for pid in pids if (used := process_cpu_seconds(pid)) is not None}


def server_pids(master: object) -> tuple[list[int], list[int]]:
    """The gunicorn workers, and the database server processes serving this benchmark's database."""
    from django.db import connection

    from tests.live import worker_pids

    database: list[int] = []
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            database = [pid for (pid,) in cursor.fetchall()]
    return worker_pids(master), database  # type: ignore[arg-type]


def cpu_per_request(before: dict[int, float], after: dict[int, float], requests: int) -> float:
    """Milliseconds of CPU per request, from processes alive at the end (one started during the run
    counts from zero)."""
    return sum(used - before.get(pid, 0.0) for pid, used in after.items()) / max(requests, 1) * 1000


def main() -> None:
    with bench_database("load") as vendor:
        from tests.live import gunicorn_process

        people = people_for(vendor)
        print(f"database: {vendor}; {CLIENTS} reviewers, {WORKERS} gunicorn workers (WEB_CONCURRENCY) of "
              f"{THREADS} thread(s) (WEB_THREADS), "
              f"{SECONDS:.0f} s per run; load average {os.getloadavg()[0]:.1f}")  # fmt: skip
        # Production settings, but API budgets no person reaches: each reviewer here writes as fast as the
        # server answers (12 writes a second at 200 requests a second from 8), past the 300 a minute allowed.
        with gunicorn_process(
            workers=WORKERS,
            threads=THREADS,
            DJANGO_DEBUG="false",
            ANNOTATOR_LOG_LEVEL="WARNING",
            ANNOTATOR_API_RATE_READ="1000000/minute",
            ANNOTATOR_API_RATE_WRITE="1000000/minute",
        ) as (base, master):
            # Warm up: each worker loads the suggester, each article gets its suggestions on first open.
            warm = [threading.Thread(target=Reviewer(base, n, people[n]).page) for n in range(CLIENTS)]
            for thread in warm:
                thread.start()
            for thread in warm:
                thread.join()
            throughput = {}
            for plan in ("baseline", "mix"):
                app, database = server_pids(master)
                app_before, database_before = cpu_seconds(app), cpu_seconds(database)
                generator_before = os.times()
                times, errors, elapsed = run(base, people, plan)
                generator = os.times()
                app, database = server_pids(master)
                total = sum(len(t) for t in times.values())
                throughput[plan] = total / elapsed
                print(f"\n{plan}: {total} requests in {elapsed:.1f} s = {total / elapsed:.0f} requests/s")
                # CPU per request hardly depends on what else the machine runs, unlike requests/s.
                app_cpu = cpu_per_request(app_before, cpu_seconds(app), total)
                database_cpu = cpu_per_request(database_before, cpu_seconds(database), total)
                # The reviewers run here, on the same cores as the server: what they take is not the server's.
                generator_cpu = sum(generator[:2]) - sum(generator_before[:2])
                print(f"  CPU per request: gunicorn workers {app_cpu:.2f} ms, database {database_cpu:.2f} ms, "
                      f"load generator (this process) {generator_cpu / max(total, 1) * 1000:.2f} ms")  # fmt: skip
                for kind, took in sorted(times.items()):
                    p50, p95, p99 = (percentile(took, f) for f in (0.5, 0.95, 0.99))
                    print(f"  {kind:22} n={len(took):6}  {len(took) / elapsed:6.0f}/s"
                          f"  p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  p99 {p99:6.1f} ms")  # fmt: skip
                print(f"  errors: {dict(errors) or 'none'}")
            ratio = throughput["mix"] / throughput["baseline"]
            print(f"\nmix throughput = {ratio:.2f}x /healthz's; load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
