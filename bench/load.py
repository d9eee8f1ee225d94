"""Load: concurrent simulated reviewers against a real gunicorn, with a baseline measured in the same run.

    python bench/load.py                                   # SQLite (temporary file)
    DATABASE_URL=postgres://... LOAD_CLIENTS=50 LOAD_SECONDS=30 python bench/load.py
    WEB_CONCURRENCY=4 WEB_THREADS=1 WEB_SAVES_FIRST=true   # gunicorn's workers and threads (default: as served)
    LOAD_CONFIGS=2,2s,2x8p,2x8c LOAD_ROUNDS=3 ...          # several configurations, interleaved, and a table

The server runs with production settings: DJANGO_DEBUG off, static files from the collected manifest,
suggestions computed on open when they are not current (ANNOTATOR_SUGGEST_ON_OPEN's default), gunicorn.conf.py,
and by default the workers and threads `manage.py serve`, the Dockerfile and docker-compose.yml run
(WEB_CONCURRENCY, WEB_THREADS, WEB_SAVES_FIRST; annotator.core.serving). LOAD_CONFIGS names others: "3" is
3 sync workers, "2s" 2 one-request-at-a-time workers that keep connections open and serve waiting saves first
(SavesFirstWorker), "2x8" 2 workers of 8 threads (gunicorn's gthread worker, which keeps connections open
between requests), "2x8p" the same taking saves first (PriorityThreadWorker), "2x8c" gthread closing each
connection as sync workers do. Every run (each configuration in each of LOAD_ROUNDS rounds, the
configurations in turn) serves a fresh copy of the same database, whose tables were analysed once filled
(the planner then plans with the rows the run reads, not with an empty table's guesses).

Each reviewer (a thread with its own articles, session and write token) loops over a realistic mix: open
the annotate page, create a span (REST, If-Match), accept a suggestion (REST), list the project's
articles (REST); it moves to its next article once it has accepted every suggestion of one, and has as many
as it could finish (articles_per_reviewer). Requests go through bench/_raw_http.py (LOAD_CLIENT=raw, the
bytes http.client sends, read for less CPU; LOAD_CLIENT=http.client for http.client itself). First the
same clients hit /healthz alone: the baseline of the machine, gunicorn and the HTTP stack with no app work.
Both plans are driven the same way: one connection per reviewer, kept open when the server keeps it (saves
first, threaded workers), made anew when it closes it (sync workers). Prints
requests/s, p50/p95/p99 per kind, every non-2xx answer, the mix's throughput as a ratio of /healthz's, the
CPU time the gunicorn workers and the database server spent per request (steadier than requests/s on a
busy machine), the CPU the reviewers themselves took per request (they share the machine's cores with the
server), the context switches of the workers and the database per request (a thread that waits for the
GIL or a lock is switched out and in again), and the load average; with several runs, a table of them all.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import re
import sqlite3
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from _harness import bench_database
from _harness import cpu_seconds as process_cpu_seconds
from _raw_http import Connection

DROPPED = 0  # the status of a request whose connection broke before any answer
NOTHING_LEFT = -1  # an accept with no suggestion left to accept: no request (counted apart, never timed)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from annotator.core.serving import web_threads, web_worker_class, web_workers  # noqa: E402 - after the path

CLIENTS = int(os.environ.get("LOAD_CLIENTS", "16"))
SECONDS = float(os.environ.get("LOAD_SECONDS", "15"))
ROUNDS = int(os.environ.get("LOAD_ROUNDS", "1"))
SUGGESTIONS = 200  # per article
WORK_RATE = 1500  # mix requests/s, more than this 2-core machine served (quiet: 491-618)
CLIENT = os.environ.get("LOAD_CLIENT", "raw")  # "raw" (bench/_raw_http.py) or "http.client"
TEXT = ("Sergey Naryshkin, Director of Russia's Foreign Intelligence Service, visited Minsk. " * 30)[:2500]
# Suggestions are words: a span (and so an accepted suggestion) never starts or ends with white space.
WORDS = [match.span() for match in re.finditer(r"\w+", TEXT)]


def percentile(times: list[float], fraction: float) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000


class Reviewer:
    """One reviewer: a thread of the load, with its own connection (LOAD_CLIENT: `raw`, bench/_raw_http.py,
    or `http.client`; both send the same bytes, the first reads answers for a fraction of the CPU, and this
    process shares the server's cores). gunicorn's sync workers close each connection after answering: the
    next request connects anew; the other workers keep it open, and the next request goes on it.

    Its work is a queue of articles, each with its own set and suggestions (`who["work"]`): the page, the
    spans and the accepts are the current article's, and once every suggestion of it is accepted the
    reviewer goes on to the next, as a person does (8 reviewers accepted 200 suggestions each within
    30 s and then "accepted" nothing)."""

    def __init__(self, base: str, number: int, who: dict[str, object]) -> None:
        self.base, self.number, self.who = base, number, who
        self.spans = 0
        self.moved = 0  # articles finished
        self.work = [dict(item) for item in who["work"]]  # type: ignore[attr-defined]
        self.current = self.work.pop(0)
        self.suggestions = list(self.current["suggestions"])
        self.etag = str(self.current["etag"])
        host = urlsplit(base).netloc
        self.connection: Any = (
            http.client.HTTPConnection(host, timeout=30) if CLIENT == "http.client" else Connection(host)
        )
        self.token = {"Authorization": f"Bearer {who['token']}", "Content-Type": "application/json"}

    def send(
        self, method: str, path: str, headers: dict[str, str], body: dict[str, object] | None = None
    ) -> tuple[int, str | None]:
        """(status, ETag) of a request; DROPPED when no answer came."""
        data = json.dumps(body) if body else None
        if CLIENT != "http.client":
            try:
                answer = self.connection.request(method, path, data, headers)
            except (OSError, ValueError):
                return DROPPED, None
            return answer.status, answer.header("etag")
        try:
            self.connection.request(method, path, data, headers)
            response = self.connection.getresponse()
            response.read()
        except (http.client.HTTPException, OSError):
            self.connection.close()
            return DROPPED, None
        return response.status, response.getheader("ETag")

    def page(self, article: object = None) -> int:
        return self.send(
            "GET",
            f"/articles/{article or self.current['article']}/annotate/",
            {"Cookie": f"sessionid={self.who['session']}"},
        )[0]

    def healthz(self) -> int:
        return self.send("GET", "/healthz", {})[0]

    def api(self, method: str, path: str, body: dict[str, object] | None = None) -> tuple[int, str | None]:
        headers = self.token if method == "GET" else {**self.token, "If-Match": self.etag}
        return self.send(method, f"/api/v1{path}", headers, body)

    def actions(self) -> list[tuple[str, object]]:
        return [
            ("open annotate page", self.page),
            ("create span", lambda: self.write("spans/", self.next_span())),
            ("accept suggestion", lambda: self.write("decisions/", self.next_decision())),
            ("list articles (API)", lambda: self.api("GET", f"/projects/{self.who['project']}/articles/")[0]),
        ]

    def write(self, path: str, body: dict[str, object] | None) -> int:
        if body is None:
            return NOTHING_LEFT  # in any article: not a request
        status, etag = self.api("POST", f"/sets/{self.current['set']}/{path}", body)
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
        if not self.suggestions and self.work:  # this article is done: the next one
            self.current = self.work.pop(0)
            self.suggestions = list(self.current["suggestions"])
            self.etag = str(self.current["etag"])
            self.spans = 0
            self.moved += 1
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
        status, me.etag = me.api("GET", f"/sets/{me.current['set']}/")
        healthz = [("baseline: /healthz", me.healthz)]
        actions = healthz if plan == "baseline" else me.actions()
        # Reviewers start at different points of the mix, as people do: started in step, every request in the
        # server's queue was of one kind at a time (all pages, then all creates...) and each kind's times
        # said more about what it queued behind than about itself.
        turn = number
        while time.monotonic() < stop:
            kind, action = actions[turn % len(actions)]
            turn += 1
            began = time.perf_counter()
            status = action()  # type: ignore[operator]
            took = time.perf_counter() - began
            with lock:
                if status == NOTHING_LEFT:
                    errors[(kind, "nothing left")] += 1
                    continue
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


def articles_per_reviewer() -> int:
    """Articles each reviewer gets, so that none runs out of suggestions to accept within a plan: a quarter
    of its requests are accepts, and the whole mix is taken at WORK_RATE requests a second at most."""
    accepts = SECONDS * WORK_RATE / CLIENTS / 4
    return max(1, math.ceil(accepts / SUGGESTIONS))


def people_for(vendor: str) -> list[dict[str, object]]:
    """Each reviewer's user, session, write token and work: an article in the project "Load" (one each, so
    its article list is what it always was), then, when one article's suggestions could run out within a
    plan (articles_per_reviewer), more articles in a second project it belongs to, "Load, more work"."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.sessions.backends.db import SessionStore

    from annotator.annotations.services import get_or_create_own_set
    from annotator.api.tokens import create_token
    from annotator.articles.models import Article
    from annotator.projects.models import EntityType, Membership, Project, Role
    from annotator.suggestions.models import SuggesterKind, SuggesterVersion, Suggestion, SuggestionKind

    def project_named(name: str, slug: str) -> tuple[Any, Any, Any]:
        project = Project.objects.create(name=name, slug=slug)
        person = EntityType.objects.create(project=project, name="PERSON")
        suggester = SuggesterVersion.objects.create(project=project, name="kb-ruler", kind=SuggesterKind.RULES,
                                                    version="1", is_active=True)  # fmt: skip
        return project, person, suggester

    def work(user: Any, in_project: tuple[Any, Any, Any], external_id: str, title: str) -> dict[str, object]:
        project, person, suggester = in_project
        article = Article.objects.create(project=project, text=TEXT, external_id=external_id, title=title)
        suggestions = Suggestion.objects.bulk_create(
            Suggestion(article=article, suggester_version=suggester, kind=SuggestionKind.ENTITY, start=start,
                       end=end, entity_type=person, score=0.9, source="kb-ruler")
            for start, end in WORDS[:SUGGESTIONS]
        )  # fmt: skip
        annotation_set = get_or_create_own_set(article=article, user=user)
        return {"article": article.pk, "set": annotation_set.pk, "etag": f'"{annotation_set.version}"',
                "suggestions": [s.pk for s in suggestions]}  # fmt: skip

    load = project_named("Load", "load")
    people = []
    for number in range(CLIENTS):
        user = get_user_model().objects.create_user(f"reviewer{number}")
        Membership.objects.create(project=load[0], user=user, role=Role.ANNOTATOR)
        first = work(user, load, f"a{number}", f"A {number}")
        session = SessionStore()
        session.update({SESSION_KEY: str(user.pk), HASH_SESSION_KEY: user.get_session_auth_hash(),
                        BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend"})  # fmt: skip
        session.create()
        people.append({
            "user": user, "project": load[0].pk, "session": session.session_key, "work": [first],
            "token": create_token(user=user, name="load", scope="write")[1],
        })  # fmt: skip
    more = articles_per_reviewer() - 1
    if more:
        extra = project_named("Load, more work", "load-more")
        for number, who in enumerate(people):
            Membership.objects.create(project=extra[0], user=who["user"], role=Role.ANNOTATOR)
            who["work"] += [
                work(who["user"], extra, f"b{number}-{k}", f"B {number}.{k}") for k in range(more)
            ]  # type: ignore[operator]
    for who in people:
        del who["user"]
    return people


def analyse(vendor: str) -> None:
    """PostgreSQL's statistics of the tables the setup filled, which every copy (CREATE DATABASE ... TEMPLATE)
    inherits: without them the planner chose plans for empty tables, as a served database that autovacuum has
    analysed never does. The tables the setup leaves empty (spans, decisions, history: the run fills them) are
    not analysed: statistics of "no rows" would plan each insert-heavy run's reads as scans of an empty table
    (measured at 16 reviewers, sync 2, load 12-15: database CPU 1.31 ms per request without ANALYZE, 2.16 with
    every table analysed), while the planner's default for a table never analysed assumes some rows, as the
    statistics of a served database's full tables do. SQLite is left as served: it keeps statistics only of
    what ANALYZE ran on (the app analyses the KB tables it imports), not of these tables."""
    if vendor != "postgresql":
        return
    from django.db import connection

    with connection.cursor() as cursor:
        filled = []
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {connection.ops.quote_name(table)})")
            if cursor.fetchone()[0]:
                filled.append(connection.ops.quote_name(table))
        if filled:
            cursor.execute(f"ANALYZE {', '.join(filled)}")


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User plus system CPU time of each process still alive."""
    return {pid: used for pid in pids if (used := process_cpu_seconds(pid)) is not None}


def context_switches(pids: list[int]) -> dict[int, int]:
    """Voluntary plus involuntary context switches of each process still alive, all its threads."""
    counts = {}
    for pid in pids:
        try:
            tasks = list(Path(f"/proc/{pid}/task").iterdir())
            total = 0
            for task in tasks:
                for line in (task / "status").read_text().splitlines():
                    if "ctxt_switches:" in line:
                        total += int(line.split()[1])
        except (OSError, ValueError):
            continue  # gone meanwhile
        counts[pid] = total
    return counts


def cpu_per_request(before: dict[int, float], after: dict[int, float], requests: int) -> float:
    """Milliseconds of CPU per request, from processes alive at the end (one started during the run
    counts from zero)."""
    return sum(used - before.get(pid, 0.0) for pid, used in after.items()) / max(requests, 1) * 1000


WORKER_CLASSES = {
    "sync": "sync",
    "gthread": "gthread",
    "priority": "annotator.core.serving.PriorityThreadWorker",
    "saves": "annotator.core.serving.SavesFirstWorker",
}


@dataclass(frozen=True)
class Config:
    """How gunicorn serves: processes, threads per process, the worker class (None: gunicorn.conf.py's, as
    served) and whether a threaded worker keeps connections open between requests (sync workers never do)."""

    workers: int
    threads: int
    kind: str | None = None
    keepalive: bool = True

    @classmethod
    def parse(cls, text: str) -> Config:
        """ "2": 2 sync workers; "2s": 2 SavesFirstWorkers (one request at a time, saves first); "2x8": 2
        gthread workers of 8 threads; "2x8p": the same taking saves first
        (annotator.core.serving.PriorityThreadWorker); "2x8c": gthread closing each connection."""
        match = re.fullmatch(r"(\d+)(?:x(\d+)([pc]?)|(s))?", text.strip())
        if match is None or int(match[1]) < 1 or (match[2] is not None and int(match[2]) < 1):
            raise SystemExit(
                f"LOAD_CONFIGS: {text!r} is not W (sync workers), Ws (saves first, one request at a time), "
                "WxT (gthread), WxTp (saves first) or WxTc."
            )
        if match[4]:
            return cls(int(match[1]), 1, "saves")
        if match[2] is None:
            return cls(int(match[1]), 1, "sync")
        return cls(
            int(match[1]), int(match[2]), "priority" if match[3] == "p" else "gthread", match[3] != "c"
        )

    @property
    def name(self) -> str:
        if self.kind is None:
            return f"as served {self.workers}x{self.threads}"
        if self.kind == "sync":
            return f"sync {self.workers}"
        if self.kind == "saves":
            return f"saves-first {self.workers}"
        return f"{self.kind} {self.workers}x{self.threads}" + ("" if self.keepalive else " close")

    @property
    def arguments(self) -> list[str]:
        # As served: gunicorn.conf.py's class, named here because tests.live starts one thread as sync.
        served = web_worker_class(self.threads)
        chosen = ["--worker-class", served if self.kind is None else WORKER_CLASSES[self.kind]]
        return chosen + ([] if self.keepalive else ["--keep-alive", "0"])


def configs() -> list[Config]:
    """LOAD_CONFIGS (comma-separated), else what `manage.py serve` runs: WEB_CONCURRENCY x WEB_THREADS of
    gunicorn.conf.py's worker class."""
    if listed := os.environ.get("LOAD_CONFIGS", "").strip():
        return [Config.parse(text) for text in listed.split(",")]
    return [Config(web_workers(), web_threads())]


class Copies:
    """A fresh copy of the benchmark's database for each run, so that every configuration starts from the
    same rows (a run adds spans and decisions, which later pages would show). PostgreSQL copies it with
    CREATE DATABASE ... TEMPLATE, SQLite with its backup API. Nothing may be connected to the original."""

    def __init__(self, vendor: str) -> None:
        from django.db import connection

        self.vendor = vendor
        self.settings = dict(connection.settings_dict)
        self.count = 0

    def _admin(self) -> Any:
        import psycopg

        s = self.settings
        return psycopg.connect(host=s["HOST"], port=s["PORT"] or 5432, user=s["USER"], password=s["PASSWORD"] or None,
                               dbname="postgres", autocommit=True)  # fmt: skip

    @contextmanager
    def copy(self) -> Iterator[tuple[str, str]]:
        """A copy: (its DATABASE_URL, its name)."""
        from django.db import connections

        connections.close_all()
        for alias in connections:
            if hasattr(connections[alias], "close_pool"):
                connections[alias].close_pool()
        self.count += 1
        original = self.settings["NAME"]
        name = f"{original}_run{self.count}"
        if self.vendor == "sqlite":
            name = f"{original}.run{self.count}"
            with sqlite3.connect(original) as source, sqlite3.connect(name) as target:
                source.backup(target)
            try:
                yield f"sqlite:///{name}", name
            finally:
                for suffix in ("", "-wal", "-shm"):
                    Path(name + suffix).unlink(missing_ok=True)
            return
        s = self.settings
        password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
        with self._admin() as admin:
            admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{original}"')
        try:
            yield f"postgres://{s['USER']}{password}@{s['HOST']}:{s['PORT'] or 5432}/{name}", name
        finally:
            with self._admin() as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def database_pids(self, name: str) -> list[int]:
        """The PostgreSQL server processes serving the copy (none on SQLite)."""
        if self.vendor != "postgresql":
            return []
        with self._admin() as admin:
            rows = admin.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", [name]).fetchall()
        return [pid for (pid,) in rows]


@dataclass
class Result:
    """One plan's run on one configuration."""

    requests: int
    seconds: float
    times: dict[str, list[float]]
    errors: Counter
    app_cpu: float  # ms per request: the gunicorn workers
    database_cpu: float  # ms per request: the copy's PostgreSQL backends
    generator_cpu: float  # ms per request: this process (the reviewers)
    app_switches: float = 0.0  # context switches per request: the gunicorn workers (all their threads)
    database_switches: float = 0.0  # the same: the copy's PostgreSQL backends

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def measure(
    base: str, master: Any, copies: Copies, name: str, people: list[dict[str, object]], plan: str
) -> Result:
    from tests.live import worker_pids

    app_before = cpu_seconds(worker_pids(master))
    database_before = cpu_seconds(copies.database_pids(name))
    app_switches_before = context_switches(worker_pids(master))
    database_switches_before = context_switches(copies.database_pids(name))
    generator_before = os.times()
    times, errors, elapsed = run(base, people, plan)
    generator = os.times()
    app_switches = context_switches(worker_pids(master))
    database_switches = context_switches(copies.database_pids(name))
    total = sum(len(t) for t in times.values())
    # CPU per request hardly depends on what else the machine runs, unlike requests/s. The reviewers run
    # here, on the same cores as the server: what they take is not the server's.
    return Result(
        requests=total,
        seconds=elapsed,
        times=dict(times),
        errors=errors,
        app_cpu=cpu_per_request(app_before, cpu_seconds(worker_pids(master)), total),
        database_cpu=cpu_per_request(database_before, cpu_seconds(copies.database_pids(name)), total),
        generator_cpu=(sum(generator[:2]) - sum(generator_before[:2])) / max(total, 1) * 1000,
        app_switches=per_request(app_switches_before, app_switches, total),
        database_switches=per_request(database_switches_before, database_switches, total),
    )


def per_request(before: dict[int, int], after: dict[int, int], requests: int) -> float:
    return sum(count - before.get(pid, 0) for pid, count in after.items()) / max(requests, 1)


def print_result(plan: str, result: Result) -> None:
    print(f"\n{plan}: {result.requests} requests in {result.seconds:.1f} s = {result.rate:.0f} requests/s")
    print(f"  CPU per request: gunicorn workers {result.app_cpu:.2f} ms, database {result.database_cpu:.2f} ms, "
          f"load generator (this process) {result.generator_cpu:.2f} ms")  # fmt: skip
    print(f"  context switches per request: gunicorn workers {result.app_switches:.1f}, "
          f"database {result.database_switches:.1f}")  # fmt: skip
    for kind, took in sorted(result.times.items()):
        p50, p95, p99 = (percentile(took, f) for f in (0.5, 0.95, 0.99))
        print(f"  {kind:22} n={len(took):6}  {len(took) / result.seconds:6.0f}/s"
              f"  p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  p99 {p99:6.1f} ms")  # fmt: skip
    print(f"  errors: {dict(result.errors) or 'none'}", flush=True)


def warm_up(reviewer: Reviewer) -> None:
    for item in [reviewer.current, *reviewer.work]:
        reviewer.page(item["article"])


def serve_and_measure(config: Config, copies: Copies, people: list[dict[str, object]]) -> dict[str, Result]:
    from tests.live import gunicorn_process

    with (
        copies.copy() as (url, name),
        gunicorn_process(
            workers=config.workers,
            threads=config.threads,
            arguments=config.arguments,
            DATABASE_URL=url,
            DJANGO_DEBUG="false",
            ANNOTATOR_LOG_LEVEL="WARNING",
            # Production settings, but API budgets no person reaches: each reviewer here writes as fast as the
            # server answers (12 writes a second at 200 requests a second from 8), past the 300 a minute allowed.
            ANNOTATOR_API_RATE_READ="1000000/minute",
            ANNOTATOR_API_RATE_WRITE="1000000/minute",
        ) as (base, master),
    ):
        # Warm up: each worker loads the suggester, each article gets its suggestions on first open.
        warm = [
            threading.Thread(target=warm_up, args=(Reviewer(base, n, people[n]),)) for n in range(CLIENTS)
        ]
        for thread in warm:
            thread.start()
        for thread in warm:
            thread.join()
        results = {}
        for plan in ("baseline", "mix"):
            results[plan] = measure(base, master, copies, name, people, plan)
            print_result(plan, results[plan])
        return results


def table(rows: list[tuple[Config, int, dict[str, Result], tuple[float, float]]]) -> None:
    """Every run, one line each: the figures the configurations are chosen by."""
    kinds = ("create span", "accept suggestion", "open annotate page", "list articles (API)")
    print("\n| config | round | /healthz req/s | mix req/s | ratio | "
          + " | ".join(f"{kind} p50/p95/p99 ms" for kind in kinds)
          + " | CPU ms/req: workers + database + generator | errors | load average |")  # fmt: skip
    print("|" + " --- |" * (8 + len(kinds)))
    for config, number, results, (load_before, load_after) in rows:
        baseline, mix = results["baseline"], results["mix"]
        cells = []
        for kind in kinds:
            took = mix.times.get(kind, [])
            cells.append("/".join(f"{percentile(took, f):.0f}" for f in (0.5, 0.95, 0.99)) if took else "-")
        errors = sum(
            n
            for result in (baseline, mix)
            for (_, status), n in result.errors.items()
            if status != "nothing left"
        )
        print(f"| {config.name} | {number} | {baseline.rate:.0f} | {mix.rate:.0f} | {mix.rate / baseline.rate:.2f} | "
              + " | ".join(cells)
              + f" | {mix.app_cpu:.2f} + {mix.database_cpu:.2f} + {mix.generator_cpu:.2f} | {errors} "
              f"| {load_before:.1f}-{load_after:.1f} |", flush=True)  # fmt: skip


def main() -> None:
    chosen = configs()
    with bench_database("load") as vendor:
        people = people_for(vendor)
        analyse(vendor)
        copies = Copies(vendor)
        print(f"database: {vendor}; {CLIENTS} reviewers, {SECONDS:.0f} s per plan; configurations "
              f"{', '.join(c.name for c in chosen)}, {ROUNDS} round(s), interleaved; "
              f"load average {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
        rows = []
        for number in range(1, ROUNDS + 1):
            for config in chosen:
                load_before = os.getloadavg()[0]
                print(f"\n== {config.name}: {config.workers} gunicorn worker(s) of {config.threads} thread(s), "
                      f"round {number}; load average {load_before:.1f}", flush=True)  # fmt: skip
                results = serve_and_measure(config, copies, people)
                load_after = os.getloadavg()[0]
                ratio = results["mix"].rate / results["baseline"].rate
                print(
                    f"\nmix throughput = {ratio:.2f}x /healthz's; load average {load_after:.1f}", flush=True
                )
                rows.append((config, number, results, (load_before, load_after)))
        if len(rows) > 1:
            table(rows)


if __name__ == "__main__":
    main()
