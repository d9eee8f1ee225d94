"""Annotator beside doccano: the same REST actions on the same text, the same worker count, one harness.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres python bench/peers.py \\
        --doccano-url http://127.0.0.1:8100 --doccano-user admin --doccano-password PASSWORD

doccano runs beside it, set up once outside this repository (nothing of it is installed here):

    python3.11 -m venv /work/doccano/.venv
    /work/doccano/.venv/bin/pip install doccano==1.8.4 psycopg2-binary 'marshmallow<4' 'numpy<2'
    export DATABASE_URL='postgres://postgres@127.0.0.1:5432/doccano_bench?sslmode=disable'
    createdb -h 127.0.0.1 -U postgres doccano_bench
    /work/doccano/.venv/bin/doccano init
    /work/doccano/.venv/bin/doccano createuser --username admin --password PASSWORD
    /work/doccano/.venv/bin/doccano webserver --port 8100 --workers 2

Both apps run on the same PostgreSQL server with 2 gunicorn sync workers each (this app: production settings
and gunicorn.conf.py, as bench/load.py starts it; doccano: its own `webserver` command). Each gets a news text
of 2.5 KB with 50 spans (bench/annotate_page.py's), three entity types, and an annotator who is a member of the
project (not a superuser: doccano skips its role checks for superusers) and calls the API as API clients do:
this app with a bearer token, doccano with its `Token` key. Per round, one app at a time, the app that goes
first alternating (A B, B A, ...):

- create span: one client adds `--requests` one-character spans, one after the other, to a fresh document
  with 50 spans (doccano: `POST /v1/projects/{p}/examples/{e}/spans`; here: `POST /api/v1/sets/{s}/spans/`
  with If-Match);
- fetch a document: one client reads the document and its annotations `--requests` times, the two requests
  each app's own client makes (doccano: the example, then its spans; here: the article, then the set);
- who am I: one client makes the cheapest authenticated read each app has (doccano: `GET /v1/me`; here:
  `GET /api/v1/account`): the request stack, token authentication and one small query, the floor under the rest;
- mix: `--clients` clients for `--seconds`, each creating a span on its own document and fetching the shared
  one in turn.

Prints p50/p95 per action and app, requests/s of the mix, the CPU each server spent per request (its gunicorn
processes, found by the socket they listen on, plus its PostgreSQL backends, from /proc) and the ratio
this app/doccano of each, the CPU this process (the clients) took, and the load average. CPU per request
hardly depends on what else the machine runs; latencies and requests/s do. `--profile DIR` then samples each
app's gunicorn workers with py-spy (`--native`; py-spy is on PyPI) over `--profile-requests` actions of each
kind and splits their CPU into layers (gunicorn, middleware, authentication, DRF, ORM, SQL compilation, the
driver, JSON), each also in milliseconds of the worker CPU per action measured before.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from _harness import bench_database
from annotate_page import mentions, news_text
from load import cpu_seconds

DOCCANO_SETUP = """doccano is not reachable at {url} ({reason}). Set it up beside this app, outside the repository:

    python3.11 -m venv /work/doccano/.venv
    /work/doccano/.venv/bin/pip install doccano==1.8.4 psycopg2-binary 'marshmallow<4' 'numpy<2'
    createdb -h 127.0.0.1 -U postgres doccano_bench
    export DATABASE_URL='postgres://postgres@127.0.0.1:5432/doccano_bench?sslmode=disable'
    /work/doccano/.venv/bin/doccano init
    /work/doccano/.venv/bin/doccano createuser --username admin --password PASSWORD
    /work/doccano/.venv/bin/doccano webserver --port 8100 --workers 2

then run this with --doccano-url http://127.0.0.1:8100 --doccano-user admin --doccano-password PASSWORD."""

TYPES = ["PERSON", "ORG", "GPE"]
DROPPED = 0  # the status of a request whose connection broke before any answer


class Unexpected(Exception):
    """An answer the benchmark cannot go on from (setup failed, a write refused)."""


def text_and_spans() -> tuple[str, list[tuple[int, int, str]], list[int]]:
    """The news text, its 50 spans (start, end, type) and the places where one-character spans can be
    added one after the other without touching them or each other (doccano refuses overlapping spans)."""
    text = news_text(2_500)
    spans = [(start, end, TYPES[i % 3]) for i, (start, end) in enumerate(mentions(text, 50))]
    taken = {offset for start, end, _ in spans for offset in range(start, end)}
    free = [match.start() for match in re.finditer(r"\w", text) if match.start() not in taken]
    return text, spans, free


# Measuring a server's CPU: its gunicorn processes (all hold its listening socket) and its database backends.


def listening_processes(port: int) -> list[int]:
    """The processes holding the socket that listens on `port`: a gunicorn master and its workers."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(f"socket:[{fields[9]}]")
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if any(os.readlink(fd) in inodes for fd in (entry / "fd").iterdir()):
                pids.append(int(entry.name))
        except OSError:  # gone, or not ours to read
            continue
    return pids


def database_backends(database: str) -> list[int]:
    """The PostgreSQL backends connected to `database`, other than this process's own."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [database]
        )
        return [pid for (pid,) in cursor.fetchall()]


@dataclass
class Cpu:
    """CPU seconds a server spent in one phase: its gunicorn processes and its database backends."""

    app: float = 0.0
    database: float = 0.0

    def __add__(self, other: Cpu) -> Cpu:
        return Cpu(self.app + other.app, self.database + other.database)


# HTTP: one connection per client thread (gunicorn's sync workers close it after each answer).


class Connection:
    def __init__(self, base: str) -> None:
        self.connection = http.client.HTTPConnection(urlsplit(base).netloc, timeout=60)

    def send(
        self, method: str, path: str, headers: dict[str, str], body: object = None
    ) -> tuple[int, dict[str, str], bytes]:
        try:
            self.connection.request(method, path, None if body is None else json.dumps(body), headers)
            response = self.connection.getresponse()
            content = response.read()
        except (http.client.HTTPException, OSError):
            self.connection.close()
            return DROPPED, {}, b""
        return response.status, dict(response.getheaders()), content


def expect(answer: tuple[int, dict[str, str], bytes], status: int, what: str) -> object:
    code, _, content = answer
    if code != status:
        raise Unexpected(f"{what}: {code} {content[:300]!r}")
    return json.loads(content) if content else None


# The two apps, behind the same three calls.


@dataclass
class Document:
    """A document as a client works on it: where it is and, for this app, the version to write against."""

    ids: dict[str, int]
    free: list[int]
    version: str = ""
    created: int = 0

    def next_place(self) -> int:
        place = self.free[self.created]
        self.created += 1
        return place


@dataclass
class Peer(ABC):
    """One app under the same harness: each says how it does the timed actions through its own REST API."""

    name: str
    base: str
    database: str
    headers: dict[str, str] = field(default_factory=dict)

    def port(self) -> int:
        return urlsplit(self.base).port or 80

    @abstractmethod
    def create_span(self, connection: Connection, document: Document) -> int:
        """Status of one request that creates a span in `document`."""

    @abstractmethod
    def fetch_document(self, connection: Connection, document: Document) -> list[int]:
        """Statuses of the requests that read a document and its annotations."""

    @abstractmethod
    def new_document(self, text: str, spans: list[tuple[int, int, str]], free: list[int]) -> Document:
        """A document with `text` and `spans`, made as the app's users would get one."""

    @abstractmethod
    def who_am_i(self, connection: Connection) -> int:
        """The cheapest authenticated read each app has: the stack, authentication, one small query."""

    def finish(self) -> None:
        """Remove what the benchmark made, where the app lets it."""
        return  # by default nothing: the benchmark's own database goes with it


class Annotator(Peer):
    """This app, set up in process (the benchmark's own database), driven through its REST API."""

    def __init__(self, base: str, database: str) -> None:
        from django.contrib.auth import get_user_model

        from annotator.api.tokens import create_token
        from annotator.projects.models import EntityType, Project, Role
        from annotator.projects.services import add_member

        super().__init__("annotator", base, database)
        self.user = get_user_model().objects.create_user("peers")
        self.project = Project.objects.create(name="Peers", slug="peers")
        add_member(project=self.project, user=self.user, role=Role.ANNOTATOR)
        self.types = {
            name: EntityType.objects.create(project=self.project, name=name, key=name[0].lower())
            for name in TYPES
        }
        token = create_token(user=self.user, name="peers", scope="write")[1]
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.serial = 0

    def new_document(self, text: str, spans: list[tuple[int, int, str]], free: list[int]) -> Document:
        from annotator.annotations.models import Span
        from annotator.annotations.services import get_or_create_own_set
        from annotator.articles.models import Article, content_hash

        self.serial += 1
        article = Article.objects.create(project=self.project, text=text, content_hash=content_hash(text),
                                         external_id=f"peers-{self.serial}", title=f"Peers {self.serial}")  # fmt: skip
        annotation_set = get_or_create_own_set(article=article, user=self.user)
        Span.objects.bulk_create(
            Span(annotation_set=annotation_set, start=start, end=end, entity_type=self.types[kind],
                 surface=text[start:end])
            for start, end, kind in spans
        )  # fmt: skip
        return Document(ids={"article": article.pk, "set": annotation_set.pk}, free=free)

    def prepare(self, connection: Connection, document: Document) -> None:
        """Read the set's version (its ETag) before writing to it, as a client does."""
        answer = connection.send("GET", f"/api/v1/sets/{document.ids['set']}/", self.headers)
        expect(answer, 200, "reading an annotation set")
        document.version = answer[1]["ETag"]

    def create_span(self, connection: Connection, document: Document) -> int:
        start = document.next_place()
        status, headers, _ = connection.send(
            "POST",
            f"/api/v1/sets/{document.ids['set']}/spans/",
            {**self.headers, "If-Match": document.version},
            {"start": start, "end": start + 1, "type": TYPES[start % 3]},
        )
        document.version = headers.get("ETag", document.version)
        return status

    def fetch_document(self, connection: Connection, document: Document) -> list[int]:
        return [
            connection.send("GET", f"/api/v1/articles/{document.ids['article']}/", self.headers)[0],
            connection.send("GET", f"/api/v1/sets/{document.ids['set']}/", self.headers)[0],
        ]

    def who_am_i(self, connection: Connection) -> int:
        return connection.send("GET", "/api/v1/account", self.headers)[0]


class Doccano(Peer):
    """doccano, already running; set up through its REST API as its admin, measured as an annotator."""

    def __init__(self, base: str, database: str, user: str, password: str) -> None:
        super().__init__("doccano", base, database)
        self.connection = Connection(base)
        admin = self.login(user, password)
        annotator = f"peers{os.getpid()}"
        secret = f"peers-{os.urandom(8).hex()}"
        made = expect(
            self.connection.send("POST", "/v1/users/create", admin,
                                 {"username": annotator, "password1": secret, "password2": secret}),
            201, "making doccano's annotator",
        )  # fmt: skip
        project = expect(
            self.connection.send("POST", "/v1/projects", admin, {
                "name": f"Peers {os.getpid()}", "description": "bench/peers.py", "guideline": "",
                "project_type": "SequenceLabeling", "resourcetype": "SequenceLabelingProject",
                "random_order": False, "collaborative_annotation": False, "allow_overlapping": False,
                "grapheme_mode": False, "use_relation": False, "tags": [],
            }),
            201, "making doccano's project",
        )  # fmt: skip
        self.project = project["id"]  # type: ignore[index]
        roles = expect(self.connection.send("GET", "/v1/roles", admin), 200, "reading doccano's roles")
        annotator_role = next(role["id"] for role in roles if role["name"] == "annotator")  # type: ignore[union-attr,index]
        expect(
            self.connection.send("POST", f"/v1/projects/{self.project}/members", admin,
                                 {"user": made["id"], "role": annotator_role}),  # type: ignore[index]
            201, "making the annotator a member",
        )  # fmt: skip
        self.types = {
            name: expect(
                self.connection.send("POST", f"/v1/projects/{self.project}/span-types", admin,
                                     {"text": name, "suffix_key": name[0].lower(), "background_color": "#1f77b4",
                                      "text_color": "#ffffff"}),
                201, "making a span type",
            )["id"]  # type: ignore[index]
            for name in TYPES
        }  # fmt: skip
        self.admin = admin
        self.headers = self.login(annotator, secret)

    def login(self, user: str, password: str) -> dict[str, str]:
        answer = self.connection.send(
            "POST",
            "/v1/auth/login/",
            {"Content-Type": "application/json"},
            {"username": user, "password": password},
        )
        key = expect(answer, 200, f"signing in to doccano as {user}")["key"]  # type: ignore[index]
        return {"Authorization": f"Token {key}", "Content-Type": "application/json"}

    def new_document(self, text: str, spans: list[tuple[int, int, str]], free: list[int]) -> Document:
        example = expect(
            self.connection.send("POST", f"/v1/projects/{self.project}/examples", self.admin,
                                 {"text": text, "meta": {}}),
            201, "adding a doccano example",
        )["id"]  # type: ignore[index]  # fmt: skip
        for start, end, kind in spans:  # the annotator's own spans, as in this app
            expect(
                self.connection.send("POST", f"/v1/projects/{self.project}/examples/{example}/spans", self.headers,
                                     {"label": self.types[kind], "start_offset": start, "end_offset": end}),
                201, "adding a doccano span",
            )  # fmt: skip
        return Document(ids={"example": example}, free=free)

    def create_span(self, connection: Connection, document: Document) -> int:
        start = document.next_place()
        return connection.send(
            "POST",
            f"/v1/projects/{self.project}/examples/{document.ids['example']}/spans",
            self.headers,
            {"label": self.types[TYPES[start % 3]], "start_offset": start, "end_offset": start + 1},
        )[0]

    def fetch_document(self, connection: Connection, document: Document) -> list[int]:
        example = f"/v1/projects/{self.project}/examples/{document.ids['example']}"
        return [
            connection.send("GET", example, self.headers)[0],
            connection.send("GET", f"{example}/spans", self.headers)[0],
        ]

    def who_am_i(self, connection: Connection) -> int:
        return connection.send("GET", "/v1/me", self.headers)[0]

    def finish(self) -> None:
        self.connection.send("DELETE", f"/v1/projects/{self.project}", self.admin)


# One phase: requests, their times, the server's CPU.


@dataclass
class Phase:
    times: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    requests: int = 0
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    elapsed: float = 0.0
    cpu: Cpu = field(default_factory=Cpu)
    clients_cpu: float = 0.0

    def __add__(self, other: Phase) -> Phase:
        merged = Phase(requests=self.requests + other.requests, elapsed=self.elapsed + other.elapsed,
                       cpu=self.cpu + other.cpu, clients_cpu=self.clients_cpu + other.clients_cpu)  # fmt: skip
        for source in (self, other):
            for kind, took in source.times.items():
                merged.times[kind].extend(took)
            for kind, count in source.errors.items():
                merged.errors[kind] += count
        return merged

    def server_cpu_per(self, units: int) -> float:
        """Milliseconds of server CPU (gunicorn and PostgreSQL) per unit."""
        return (self.cpu.app + self.cpu.database) / max(units, 1) * 1000


@contextmanager
def measured(peer: Peer, phase: Phase) -> Iterator[None]:
    """Count the server's CPU (gunicorn processes and database backends) and the clients' over the block."""
    app, database = listening_processes(peer.port()), database_backends(peer.database)
    app_before, database_before = cpu_seconds(app), cpu_seconds(database)
    clients_before, began = os.times(), time.monotonic()
    yield
    phase.elapsed = time.monotonic() - began
    clients = os.times()
    # A backend that connected during the phase counts from zero; one that left is not counted (none do:
    # both apps keep their connections).
    database = database_backends(peer.database)
    phase.cpu = Cpu(
        sum(used - app_before.get(pid, 0.0) for pid, used in cpu_seconds(app).items()),
        sum(used - database_before.get(pid, 0.0) for pid, used in cpu_seconds(database).items()),
    )
    phase.clients_cpu = sum(clients[:2]) - sum(clients_before[:2])


def record(phase: Phase, kind: str, statuses: int | list[int], began: float) -> None:
    phase.times[kind].append((time.perf_counter() - began) * 1000)
    for status in statuses if isinstance(statuses, list) else [statuses]:
        phase.requests += 1
        if status >= 300 or status == DROPPED:
            phase.errors[f"{kind} {status}"] += 1


# The one-client actions: (what is measured, how many requests it makes, the call).
ONE_CLIENT: dict[str, tuple[str, Callable[[Peer, Connection, Document], int | list[int]]]] = {
    "create span": ("span", lambda peer, connection, document: peer.create_span(connection, document)),
    "fetch document": ("document (2 requests)",
                       lambda peer, connection, document: peer.fetch_document(connection, document)),
    "who am I": ("request", lambda peer, connection, document: peer.who_am_i(connection)),
}  # fmt: skip


def one_client(peer: Peer, document: Document, kind: str, count: int) -> Phase:
    phase, connection = Phase(), Connection(peer.base)
    action = ONE_CLIENT[kind][1]
    if isinstance(peer, Annotator) and kind == "create span":
        peer.prepare(connection, document)
    with measured(peer, phase):
        for _ in range(count):
            began = time.perf_counter()
            record(phase, kind, action(peer, connection, document), began)
    return phase


def mix(peer: Peer, own: list[Document], shared: Document, seconds: float) -> Phase:
    """Each client creates a span on its own document, then fetches the shared one, until time is up."""
    phase, lock = Phase(), threading.Lock()
    connections = [Connection(peer.base) for _ in own]
    if isinstance(peer, Annotator):
        for connection, document in zip(connections, own, strict=True):
            peer.prepare(connection, document)

    def client(connection: Connection, document: Document, stop: float) -> None:
        local = Phase()
        while time.monotonic() < stop:
            began = time.perf_counter()
            record(local, "create span", peer.create_span(connection, document), began)
            began = time.perf_counter()
            record(local, "fetch document", peer.fetch_document(connection, shared), began)
        with lock:
            merged = phase + local
            phase.times, phase.errors, phase.requests = merged.times, merged.errors, merged.requests

    with measured(peer, phase):
        stop = time.monotonic() + seconds
        threads = [
            threading.Thread(target=client, args=(connection, document, stop))
            for connection, document in zip(connections, own, strict=True)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return phase


# Where a worker's CPU goes: py-spy's native samples of the gunicorn workers, sorted into the layers of a request.

# py-spy counts a thread blocked in a system call (waiting for a connection, for PostgreSQL's answer) as busy,
# and on a loaded machine a thread woken there waits for a core with that frame on top: those samples are
# not the worker's CPU and are left out: a sample whose innermost native frame is one of these.
WAITING = re.compile(
    r"^(select|poll|ppoll|epoll_wait|accept4?|recv|recvfrom|send|sendto|read|write|nanosleep|clock_nanosleep"
    r"|futex|__poll|__select|__libc_\w+) \(libc"
)
# Each other sample goes to the layer of its innermost frame that matches one (a frame of the standard
# library, of the interpreter or of another C extension belongs to whoever called it).
LAYERS = [
    ("database driver (psycopg, libpq)",
     re.compile(r"(/psycopg2?/|/psycopg_pool/|libpq|_psycopg|psycopg_c|django/db/backends/\w+/base\.py|"
                r"django/db/backends/utils\.py)")),
    ("SQL compilation", re.compile(r"django/db/models/sql/")),
    ("ORM (querysets, models, fields)", re.compile(r"django/db/")),
    ("JSON and rendering", re.compile(r"(/json/|_json|rest_framework/(renderers|parsers|utils/encoders)\.py)")),
    ("DRF serializers", re.compile(r"rest_framework/(serializers|fields|relations)\.py")),
    ("authentication", re.compile(r"(rest_framework/authentication\.py|rest_framework/authtoken/|"
                                  r"annotator/api/(authentication|tokens)\.py)")),
    ("permissions", re.compile(r"(rest_framework/permissions\.py|/permissions\.py|annotator/api/access\.py)")),
    ("DRF views, negotiation, throttles", re.compile(r"rest_framework/")),
    ("URL resolving", re.compile(r"django/urls/")),
    ("middleware", re.compile(r"(django/(middleware|contrib/(sessions|auth/middleware|messages))|"
                              r"django/utils/deprecation\.py|annotator/core/(middleware|slashes|sessions)\.py|"
                              r"/(whitenoise|corsheaders|axes|django_htmx|simple_history)/)")),
    ("logging", re.compile(r"(/logging/|annotator/core/logs\.py)")),
    ("application code", re.compile(r"(/annotator/|site-packages/backend/)")),
    ("Django request/response", re.compile(r"django/")),
    ("gunicorn (HTTP parsing, writing)", re.compile(r"gunicorn/")),
]  # fmt: skip
WAITED = "(blocked in a system call: left out)"


# A thread waiting on a lock (psycopg_pool's threads between tasks) ends in libc frames py-spy cannot name.
LOCKED = re.compile(r"(PyThread_acquire_lock|pthread_cond_\w*wait|sem_\w*wait)")


def layer_of(stack: list[str]) -> str:
    if WAITING.search(stack[-1]) or any(LOCKED.search(frame) for frame in stack[-4:]):
        return WAITED
    for frame in reversed(stack):
        for name, pattern in LAYERS:
            if pattern.search(frame):
                return name
    return "other (interpreter, imports)"


def layers(profiles: list[Path]) -> Counter[str]:
    """Samples per layer in py-spy's raw (collapsed) output files."""
    counts: Counter[str] = Counter()
    for profile in profiles:
        for line in profile.read_text().splitlines():
            stack, _, number = line.rpartition(" ")
            if number.isdigit():
                counts[layer_of(stack.split(";"))] += int(number)
    return counts


def gunicorn_workers(port: int) -> list[int]:
    """The processes listening on `port` whose parent listens too: the workers, not their master."""
    listening = listening_processes(port)
    parents = {pid: Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1] for pid in listening}
    return [pid for pid, parent in parents.items() if int(parent) in parents]


def profile(peer: Peer, kind: str, documents: list[Document], count: int, py_spy: str, folder: Path) -> Path:
    """Run `count` one-client actions while py-spy samples each gunicorn worker; return the samples' files."""
    stem = folder / f"{peer.name}-{kind.replace(' ', '-')}"
    recorders = [
        subprocess.Popen([py_spy, "record", "--pid", str(pid), "--rate", "200", "--native", "--format", "raw",
                          "--output", f"{stem}-{pid}.txt"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for pid in gunicorn_workers(peer.port())
    ]  # fmt: skip
    time.sleep(1)  # py-spy attaches
    connection, action = Connection(peer.base), ONE_CLIENT[kind][1]
    for document in documents:
        if isinstance(peer, Annotator) and kind == "create span":
            peer.prepare(connection, document)
        for _ in range(count // len(documents)):
            action(peer, connection, document)
    for recorder in recorders:
        recorder.send_signal(signal.SIGINT)  # py-spy writes its file when interrupted
        recorder.wait(timeout=60)
    return stem


# Printing.


def p50_p95(times: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(times, n=100, method="inclusive")
    return cuts[49], cuts[94]


def cpu_text(phase: Phase, units: int) -> str:
    app, database = (seconds / max(units, 1) * 1000 for seconds in (phase.cpu.app, phase.cpu.database))
    return f"{app + database:6.2f} ms ({app:5.2f} app + {database:5.2f} db)"


def print_one_client(
    kind: str, results: dict[tuple[str, str], Phase], rounds: dict[tuple[str, str], list[Phase]]
) -> None:
    unit = ONE_CLIENT[kind][0]
    latency, cost, spread = {}, {}, {}
    for app in ("annotator", "doccano"):
        phase = results[(app, kind)]
        units = len(phase.times[kind])
        p50, p95 = p50_p95(phase.times[kind])
        latency[app], cost[app] = p50, phase.server_cpu_per(units)
        spread[app] = ", ".join(f"{p.server_cpu_per(len(p.times[kind])):.2f}" for p in rounds[(app, kind)])
        print(f"  {app:<9} {kind:<15} p50 {p50:6.2f} ms  p95 {p95:6.2f} ms  n={units:5}  "
              f"CPU per {unit}: {cpu_text(phase, units)}  errors: {dict(phase.errors) or 'none'}")  # fmt: skip
    print(f"  ratio annotator/doccano, {kind}: p50 {latency['annotator'] / latency['doccano']:.2f}x, "
          f"CPU {cost['annotator'] / cost['doccano']:.2f}x   (CPU ms per round: annotator {spread['annotator']}; "
          f"doccano {spread['doccano']})")  # fmt: skip


def print_mix(results: dict[tuple[str, str], Phase], rounds: dict[tuple[str, str], list[Phase]]) -> None:
    rates, costs = {}, {}
    for app in ("annotator", "doccano"):
        phase = results[(app, "mix")]
        rates[app], costs[app] = phase.requests / phase.elapsed, phase.server_cpu_per(phase.requests)
        print(f"  {app:<9} {phase.requests:6} requests in {phase.elapsed:5.1f} s = {rates[app]:6.1f} req/s   "
              f"CPU per request {cpu_text(phase, phase.requests)}   "
              f"clients' CPU per request {phase.clients_cpu / phase.requests * 1000:.2f} ms   "
              f"errors: {dict(phase.errors) or 'none'}")  # fmt: skip
        for kind in ("create span", "fetch document"):
            p50, p95 = p50_p95(phase.times[kind])
            print(f"      {kind:<15} p50 {p50:6.2f} ms  p95 {p95:6.2f} ms  n={len(phase.times[kind])}")
    spread = {
        app: ", ".join(f"{p.server_cpu_per(p.requests):.2f}" for p in rounds[(app, "mix")])
        for app in ("annotator", "doccano")
    }
    print(f"  ratio annotator/doccano, mix: req/s {rates['annotator'] / rates['doccano']:.2f}x, CPU per request "
          f"{costs['annotator'] / costs['doccano']:.2f}x   (CPU ms per request per round: annotator "
          f"{spread['annotator']}; doccano {spread['doccano']})")  # fmt: skip


def print_layers(stems: dict[tuple[str, str], Path], results: dict[tuple[str, str], Phase]) -> None:
    """Each layer's share of a worker's samples, and that share of the worker CPU per action measured above."""
    print("\n== where the gunicorn workers' CPU goes (py-spy --native samples; ms = share x the worker CPU per "
          "action measured above)")  # fmt: skip
    for kind, (unit, _) in ONE_CLIENT.items():
        counts = {app: layers(sorted(stem.parent.glob(f"{stem.name}-*.txt")))
                  for (app, k), stem in stems.items() if k == kind}  # fmt: skip
        if not counts:
            continue
        busy = {
            app: max(sum(n for name, n in count.items() if name != WAITED), 1)
            for app, count in counts.items()
        }
        per_unit = {app: results[(app, kind)].cpu.app / max(len(results[(app, kind)].times[kind]), 1) * 1000
                    for app in counts}  # fmt: skip
        print(f"  {kind} (per {unit}): " + "; ".join(
            f"{app} {busy[app]} samples ({counts[app][WAITED]} more blocked), {per_unit[app]:.2f} ms"
            for app in counts))  # fmt: skip
        share = {app: {name: n / busy[app] for name, n in count.items()} for app, count in counts.items()}
        names = sorted(
            {name for count in counts.values() for name in count if name != WAITED},
            key=lambda name: -max(share[app].get(name, 0.0) * per_unit[app] for app in counts),
        )
        for name in names:
            parts = {app: share[app].get(name, 0.0) for app in counts}
            cells = [f"{app} {parts[app] * 100:5.1f}% {parts[app] * per_unit[app]:6.2f} ms" for app in counts]
            print(f"    {name:<36}  " + "  ".join(cells))


# Running it.


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--doccano-url", default="http://127.0.0.1:8100")
    parser.add_argument("--doccano-user", default="admin", help="doccano's admin (it makes the annotator)")
    parser.add_argument("--doccano-password", default="password")
    parser.add_argument("--doccano-database", default="doccano_bench", help="doccano's PostgreSQL database")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=200, help="actions per one-client phase")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each mix phase")
    parser.add_argument(
        "--workers", type=int, default=2, help="this app's gunicorn workers (doccano: its own)"
    )
    parser.add_argument(
        "--profile", type=Path, help="then sample both apps' workers with py-spy into this folder"
    )
    parser.add_argument("--py-spy", default="py-spy", help="the py-spy to sample with")
    parser.add_argument("--profile-requests", type=int, default=1000, help="actions per app and kind sampled")
    return parser.parse_args()


def reachable(url: str) -> str | None:
    """Why doccano cannot be used, or None."""
    try:
        status = Connection(url).send("GET", "/v1/auth/user/", {})[0]
    except ValueError as error:
        return str(error)
    return None if status in (200, 401, 403) else f"GET /v1/auth/user/ answered {status or 'nothing'}"


def main() -> None:
    options = arguments()
    why = reachable(options.doccano_url)
    if why is not None:
        print(DOCCANO_SETUP.format(url=options.doccano_url, reason=why), file=sys.stderr)
        sys.exit(2)
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        print(
            "Set DATABASE_URL to the PostgreSQL server doccano uses: both apps are measured on it.",
            file=sys.stderr,
        )
        sys.exit(2)
    with bench_database("peers"):
        from django.db import connection

        from tests.live import gunicorn_process

        ours_database = connection.settings_dict["NAME"]
        with gunicorn_process(
            workers=options.workers,
            DJANGO_DEBUG="false",
            ANNOTATOR_LOG_LEVEL="WARNING",
            ANNOTATOR_API_RATE_READ="1000000/minute",
            ANNOTATOR_API_RATE_WRITE="1000000/minute",
        ) as (base, _master):
            peers: list[Peer] = [Annotator(base, ours_database)]
            try:
                peers.append(Doccano(options.doccano_url, options.doccano_database, options.doccano_user,
                                     options.doccano_password))  # fmt: skip
            except Unexpected as error:
                print(f"doccano answered, but not as expected: {error}", file=sys.stderr)
                sys.exit(2)
            try:
                run(options, peers)
            finally:
                for peer in peers:
                    peer.finish()


def run(options: argparse.Namespace, peers: list[Peer]) -> None:
    text, spans, free = text_and_spans()
    print(f"{len(text):,} characters, {len(spans)} spans per document; {options.workers} gunicorn workers here, "
          f"doccano at {options.doccano_url}; {options.rounds} rounds of {options.requests} one-client actions and "
          f"{options.seconds:.0f} s of {options.clients} clients; load average {os.getloadavg()[0]:.1f}",
          flush=True)  # fmt: skip
    if options.requests > len(free):
        raise SystemExit(f"--requests is at most {len(free)}: the free places for one-character spans")
    documents: dict[str, dict[str, list[Document]]] = {}
    began = time.monotonic()
    for peer in peers:  # made before anything is measured: each round writes to fresh documents
        documents[peer.name] = {
            "shared": [peer.new_document(text, spans, free)],
            "rounds": [
                peer.new_document(text, spans, free) for _ in range(options.rounds * (options.clients + 1))
            ],
        }
    print(f"documents made in {time.monotonic() - began:.0f} s", flush=True)
    for peer in peers:  # warm up: each worker imports its views and opens its database connection
        connection = Connection(peer.base)
        for _ in range(10):
            peer.fetch_document(connection, documents[peer.name]["shared"][0])
            peer.who_am_i(connection)
    rounds: dict[tuple[str, str], list[Phase]] = defaultdict(list)
    for number in range(options.rounds):
        order = peers if number % 2 == 0 else peers[::-1]
        for peer in order:
            shared = documents[peer.name]["shared"][0]
            writes = documents[peer.name]["rounds"][number * (options.clients + 1) :][: options.clients + 1]
            for kind in ONE_CLIENT:
                target = writes[0] if kind == "create span" else shared
                rounds[(peer.name, kind)].append(one_client(peer, target, kind, options.requests))
            rounds[(peer.name, "mix")].append(mix(peer, writes[1:], shared, options.seconds))
        print(f"round {number + 1} ({' then '.join(p.name for p in order)}) done; "
              f"load average {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
    results = {key: sum(phases[1:], phases[0]) for key, phases in rounds.items()}
    print("\n== one client: latency at the client (p50 / p95), server CPU per action (gunicorn + PostgreSQL)")
    for kind in ONE_CLIENT:
        print_one_client(kind, results, rounds)
    print(f"\n== mix: {options.clients} clients each creating a span, then fetching the shared document")
    print_mix(results, rounds)
    print(
        f"\nload average at the end {os.getloadavg()[0]:.1f} (1 min), {os.getloadavg()[1]:.1f} (5 min)",
        flush=True,
    )
    if options.profile:
        options.profile.mkdir(parents=True, exist_ok=True)
        stems = {}
        for peer in peers:
            for kind in ONE_CLIENT:
                targets = [
                    peer.new_document(text, spans, free)
                    for _ in range(-(-options.profile_requests // len(free)))
                ]
                stems[(peer.name, kind)] = profile(peer, kind, targets if kind == "create span" else
                                                   documents[peer.name]["shared"], options.profile_requests,
                                                   options.py_spy, options.profile)  # fmt: skip
        print_layers(stems, results)


if __name__ == "__main__":
    main()
