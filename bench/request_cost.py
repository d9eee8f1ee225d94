"""What one API request of the reviewers' mix costs the app, through Django's WSGI handler (no HTTP, no gunicorn).

    DATABASE_URL=postgres://... python bench/request_cost.py setup          # make the data (kept)
    DATABASE_URL=postgres://... python bench/request_cost.py run ACTION N   # N requests, CPU per request
    DATABASE_URL=postgres://... python bench/request_cost.py profile ACTION N   # cProfile, top functions
    DATABASE_URL=postgres://... python bench/request_cost.py callgrind ACTION[,ACTION...] N   # instructions
    DATABASE_URL=postgres://... python bench/request_cost.py layers ACTION N   # what each middleware costs

ACTION is `span` (POST /api/v1/sets/<id>/spans/ with If-Match), `accept` or `reject` (POST .../decisions/), `list`
(GET /api/v1/projects/<id>/articles/, 50 articles), as `bench/load.py` sends them, `set` (GET
/api/v1/sets/<id>/ of a set with 50 spans: fetching a document's annotations), `article` (GET
/api/v1/articles/<id>/ of that set's article: fetching the document's text, the other half of peers.py's
"fetch a document") or `me` (GET /api/v1/account,
bench/peers.py's "who am I"), all with a bearer token; `page` (GET /articles/<id>/annotate/ of an article
whose set has 50 spans, signed in with a session cookie, as a browser opens it); `healthz` (GET /healthz, no
credentials: the floor). Each run takes a fresh annotation set, then makes 20 warm-up requests and N measured
ones. `callgrind` runs `run` under valgrind's callgrind and counts the instructions of the N measured requests
alone (callgrind.h's client requests, built with the C compiler, start and stop the counting around them; the
rest runs uninstrumented, ~5x faster): per request, they hardly depend on the load. Measured requests run ~50
times slower under callgrind, so the runs remember a token for an hour (ANNOTATOR_TOKEN_CACHE_SECONDS), as a
busy client's process does within the 5 seconds of production, and the page's freshness window is an hour.
`layers` counts, in one callgrind run, the instructions per request of a bare WSGI callable (what gunicorn
would call with no Django), of Django's handler with no middleware, of the whole stack, and of the whole
stack without each middleware in turn: the difference is what that middleware costs the action (a request
that needs the one left out may answer differently: its status is printed).
`setup` writes the database named in DATABASE_URL + "_cost" and keeps it; `drop` removes it.
"""

from __future__ import annotations

import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _harness import cpu_seconds

WARM = 20
TEXT = ("Sergey Naryshkin, Director of Russia's Foreign Intelligence Service, visited Minsk. " * 30)[:2500]
SOLID = [at for at, char in enumerate(TEXT) if not char.isspace()]
ARTICLES = 50  # the project's articles: the list answers them all (one page)
SPANS = 50  # the spans of the set that `set` reads
PENDING = (
    1000  # suggestions of the set that `accept` or `reject` decides on (at most PENDING - WARM requests)
)


def _configure() -> str:
    """Point Django at the kept database (production settings); return the admin URL."""
    url = os.environ["DATABASE_URL"]
    parts = urlsplit(url)
    os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path=parts.path + "_cost"))
    os.environ.setdefault("DJANGO_SECRET_KEY", "benchmark-only-secret-key-" + "x" * 30)
    os.environ["DJANGO_SETTINGS_MODULE"] = "annotator.settings"
    os.environ["ANNOTATOR_ENV_FILE"] = os.devnull
    os.environ["DJANGO_DEBUG"] = "false"
    os.environ["DJANGO_ALLOWED_HOSTS"] = "127.0.0.1"
    os.environ["ANNOTATOR_API_RATE_READ"] = "1000000/minute"
    os.environ["ANNOTATOR_API_RATE_WRITE"] = "1000000/minute"
    os.environ.setdefault("ANNOTATOR_TOKEN_CACHE_SECONDS", "3600")
    # The page's check that its suggestions are current rereads the KB's and gold's state once per window:
    # under callgrind, how many windows N requests span would depend on the load.
    os.environ.setdefault("ANNOTATOR_SUGGESTION_FRESHNESS_SECONDS", "3600")
    # Kept between `setup` and the runs (the token's secret), so not a fresh temporary directory; one per
    # database, so that benches of several checkouts on one machine keep their own.
    folder = f"annotator-request-cost-{Path(parts.path).name}"
    os.environ.setdefault("ANNOTATOR_DATA_DIR", str(Path(tempfile.gettempdir(), folder)))
    return url


def setup() -> None:
    import psycopg

    url = _configure()
    name = urlsplit(os.environ["DATABASE_URL"]).path.strip("/")
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)  # the page names its files by hash
    from django.contrib.auth import get_user_model

    from annotator.api.tokens import create_token
    from annotator.articles.models import Article
    from annotator.projects.models import EntityType, Membership, Project, Role
    from annotator.suggestions.models import SuggesterVersion

    project = Project.objects.create(name="Cost", slug="cost")
    EntityType.objects.create(project=project, name="PERSON")
    SuggesterVersion.objects.create(project=project, name="bench", kind="rules", version="1", is_active=True)
    user = get_user_model().objects.create_user("reviewer")
    Membership.objects.create(project=project, user=user, role=Role.ANNOTATOR)
    for number in range(ARTICLES):
        Article.objects.create(project=project, text=TEXT, external_id=f"a{number}", title=f"A {number}")
    secret = create_token(user=user, name="cost", scope="write")[1]
    Path(os.environ["ANNOTATOR_DATA_DIR"]).mkdir(parents=True, exist_ok=True)
    Path(os.environ["ANNOTATOR_DATA_DIR"], "cost.json").write_text(
        json.dumps({"project": project.pk, "user": user.pk, "token": secret})
    )
    print(f"made {os.environ['DATABASE_URL']}")


def _fresh_set(facts: dict[str, object], suggestions: int) -> tuple[int, list[int]]:
    """A new article's set of the reviewer, with `suggestions` pending entity suggestions."""
    from annotator.annotations.services import get_or_create_own_set
    from annotator.articles.models import Article
    from annotator.projects.models import EntityType
    from annotator.suggestions.models import SuggesterVersion, Suggestion, SuggestionKind

    article = Article.objects.create(project_id=facts["project"], text=TEXT, external_id=f"x{time.time_ns()}")
    person = EntityType.objects.get(project_id=facts["project"], name="PERSON")
    version = SuggesterVersion.objects.get(project_id=facts["project"])
    made = Suggestion.objects.bulk_create(
        Suggestion(article=article, suggester_version=version, kind=SuggestionKind.ENTITY, start=at,
                   end=at + 1, entity_type=person, score=0.9, source="bench")
        for at in SOLID[:suggestions]
    )  # fmt: skip
    from django.contrib.auth import get_user_model

    annotation_set = get_or_create_own_set(
        article=article, user=get_user_model().objects.get(pk=facts["user"])
    )
    return annotation_set.pk, [s.pk for s in made]


def _set_with_spans(facts: dict[str, object]) -> int:
    """A new set with SPANS spans, one per word (as bench/annotate_page.py's article has)."""
    import re

    from annotator.annotations.models import AnnotationSet
    from annotator.annotations.services import create_span
    from annotator.projects.models import EntityType

    set_id = _fresh_set(facts, 0)[0]
    annotation_set = AnnotationSet.objects.get(pk=set_id)
    person = EntityType.objects.get(project_id=facts["project"], name="PERSON")
    for match in list(re.finditer(r"\w+", TEXT))[:SPANS]:
        create_span(annotation_set=annotation_set, start=match.start(), end=match.end(), entity_type=person,
                    by=None, expected_version=annotation_set.version)  # fmt: skip
    return set_id


def _article_of(set_id: int) -> int:
    from annotator.annotations.models import AnnotationSet

    return AnnotationSet.objects.values_list("article_id", flat=True).get(pk=set_id)


def _session(facts: dict[str, object]) -> str:
    """The key of a new session signed in as the reviewer, as the sign-in page leaves it."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model

    user = get_user_model().objects.get(pk=facts["user"])
    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return session.session_key


def requests_for(action: str, count: int) -> list[dict[str, object]]:
    """WSGI environs of `count` requests of the action, in order (each write names the next version)."""
    facts = json.loads(Path(os.environ["ANNOTATOR_DATA_DIR"], "cost.json").read_text())
    base = {
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "HTTP_HOST": "127.0.0.1",
        "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http", "REMOTE_ADDR": "127.0.0.1",
        "HTTP_AUTHORIZATION": f"Bearer {facts['token']}", "QUERY_STRING": "", "SCRIPT_NAME": "",
        "HTTP_ACCEPT_ENCODING": "identity", "HTTP_USER_AGENT": "Python-urllib/3.11",
    }  # fmt: skip
    if action == "list":
        path = f"/api/v1/projects/{facts['project']}/articles/"
        return [{**base, "REQUEST_METHOD": "GET", "PATH_INFO": path} for _ in range(count)]
    if action == "set":
        path = f"/api/v1/sets/{_set_with_spans(facts)}/"
        return [{**base, "REQUEST_METHOD": "GET", "PATH_INFO": path} for _ in range(count)]
    if action == "article":
        path = f"/api/v1/articles/{_article_of(_set_with_spans(facts))}/"
        return [{**base, "REQUEST_METHOD": "GET", "PATH_INFO": path} for _ in range(count)]
    if action == "me":
        return [{**base, "REQUEST_METHOD": "GET", "PATH_INFO": "/api/v1/account"} for _ in range(count)]
    if action == "healthz":
        del base["HTTP_AUTHORIZATION"]
        return [{**base, "REQUEST_METHOD": "GET", "PATH_INFO": "/healthz"} for _ in range(count)]
    if action == "page":
        del base["HTTP_AUTHORIZATION"]
        path = f"/articles/{_article_of(_set_with_spans(facts))}/annotate/"
        cookie = f"sessionid={_session(facts)}"
        return [
            {**base, "REQUEST_METHOD": "GET", "PATH_INFO": path, "HTTP_COOKIE": cookie} for _ in range(count)
        ]
    # The same work before the measured requests whatever their number.
    set_id, suggestions = _fresh_set(facts, PENDING if action in ("accept", "reject") else 0)
    environs = []
    for n in range(count):
        if action == "span":
            at = SOLID[n % len(SOLID)]
            body = {"start": at, "end": at + 1 + n // len(SOLID), "type": "PERSON"}
            path = f"/api/v1/sets/{set_id}/spans/"
        else:
            body = {"suggestion": suggestions[n], "verdict": f"{action}ed"}
            path = f"/api/v1/sets/{set_id}/decisions/"
        environs.append({
            **base, "REQUEST_METHOD": "POST", "PATH_INFO": path, "CONTENT_TYPE": "application/json",
            "HTTP_IF_MATCH": f'"{n + 1}"', "body": json.dumps(body).encode(),
        })  # fmt: skip
    return environs


def serve(application: object, environ: dict[str, object]) -> int:
    """One request as gunicorn makes it: the handler's answer read whole, then closed."""
    environ = dict(environ)
    body = environ.pop("body", b"")
    environ["CONTENT_LENGTH"] = str(len(body))  # type: ignore[arg-type]
    environ["wsgi.input"] = io.BytesIO(body)  # type: ignore[arg-type]
    environ["wsgi.errors"] = sys.stderr
    statuses = []
    response = application(environ, lambda status, headers, exc_info=None: statuses.append(status))  # type: ignore[operator]
    try:
        for _ in response:
            pass
    finally:
        response.close()
    return int(statuses[0].split()[0])


def run(action: str, count: int, profile: bool = False) -> None:
    _configure()
    from annotator.wsgi import application

    environs = requests_for(action, WARM + count)
    wanted = 201 if action in ("span", "accept", "reject") else 200
    for environ in environs[:WARM]:
        assert serve(application, environ) == wanted
    measured = environs[WARM:]
    if profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile(time.process_time)  # CPU, not waiting on the database
        profiler.enable()
    marks = _callgrind_marks()
    server = _server_cpu()
    cpu, began = time.process_time(), time.perf_counter()
    if marks is not None:
        marks.measure_on()
    for environ in measured:
        status = serve(application, environ)
        assert status == wanted, status
    if marks is not None:
        marks.measure_off()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - began
    server = _server_cpu() - server
    if profile:
        profiler.disable()
        stats = pstats.Stats(profiler)
        stats.sort_stats("cumulative").print_stats(60)
        stats.sort_stats("tottime").print_stats(40)
        for name in os.environ.get("PROFILE_CALLEES", "").split(","):
            if name:
                stats.sort_stats("cumulative").print_callees(name)
    if count:
        per = 1000 / count
        print(f"{action}: {count} requests, CPU {cpu * per:.3f} ms app + {server * per:.3f} ms database, "
              f"wall {wall * per:.3f} ms per request; load average {os.getloadavg()[0]:.1f}")  # fmt: skip


MARKS_C = r"""
#include <valgrind/callgrind.h>
void measure_on(void) { CALLGRIND_START_INSTRUMENTATION; CALLGRIND_ZERO_STATS; }
void measure_off(void) { CALLGRIND_DUMP_STATS_AT("measured"); CALLGRIND_STOP_INSTRUMENTATION; }
void measure_off_as(const char *name) { CALLGRIND_DUMP_STATS_AT(name); CALLGRIND_STOP_INSTRUMENTATION; }
"""


def _callgrind_marks() -> object | None:
    """Under `callgrind`, a library whose two functions start and stop callgrind's counting; else None."""
    folder = os.environ.get("REQUEST_COST_CALLGRIND")
    if not folder:
        return None
    import ctypes
    import subprocess

    source, library = Path(folder, "marks.c"), Path(folder, "marks.so")
    source.write_text(MARKS_C)
    subprocess.run(["cc", "-O1", "-shared", "-fPIC", "-o", str(library), str(source)], check=True)
    return ctypes.CDLL(str(library))


def callgrind(actions: str, count: int) -> None:
    """`run` each action under callgrind; print the instructions per measured request."""
    import re
    import subprocess

    for action in actions.split(","):
        with tempfile.TemporaryDirectory() as folder:
            command = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={folder}/out.%p",
                       sys.executable, __file__, "run", action, str(count)]  # fmt: skip
            done = subprocess.run(command, env={**os.environ, "REQUEST_COST_CALLGRIND": folder},
                                  capture_output=True, text=True)  # fmt: skip
            if done.returncode:
                sys.exit(done.stderr[-3000:])
            # The dump of the measured requests (the one at exit, after STOP_INSTRUMENTATION, is empty).
            dumps = [f.read_text() for f in Path(folder).glob("out.*") if "measured" in f.read_text()]
            instructions = int(re.search(r"^summary: (\d+)", dumps[0], re.MULTILINE).group(1))  # type: ignore[union-attr]
            print(f"{action}: {instructions / count / 1e6:.3f} M instructions per request ({count} requests; "
                  f"load average {os.getloadavg()[0]:.1f})")  # fmt: skip


def _bare_wsgi(environ: dict[str, object], start_response: object) -> list[bytes]:
    """The floor: a WSGI callable that answers without Django."""
    start_response("200 OK", [("Content-Type", "application/json")])  # type: ignore[operator]
    return _Body([b'{"status": "ok"}'])


class _Body(list):  # type: ignore[type-arg]
    def close(self) -> None:
        pass


def run_layers(action: str, count: int) -> None:
    """Under callgrind (`layers`): each variant of the stack measured on its own requests, one dump each."""
    _configure()
    import ctypes

    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler
    from django.test.utils import override_settings

    from annotator.wsgi import application

    def handler(middleware: list[str]) -> object:
        with override_settings(MIDDLEWARE=middleware):
            return WSGIHandler()

    stack = list(settings.MIDDLEWARE)
    variants = [("bare WSGI callable", _bare_wsgi), ("Django, no middleware", handler([])),
                ("whole stack", application)]  # fmt: skip
    variants += [(f"without {name}", handler([m for m in stack if m != name])) for name in stack]
    marks = _callgrind_marks()
    assert marks is not None
    for label, app in variants:
        environs = requests_for(action, WARM + count)
        for environ in environs[:WARM]:
            serve(app, environ)
        statuses = set()
        marks.measure_on()  # type: ignore[attr-defined]
        for environ in environs[WARM:]:
            statuses.add(serve(app, environ))
        marks.measure_off_as(ctypes.c_char_p(label.encode()))  # type: ignore[attr-defined]
        print(f"{label}\t{','.join(map(str, sorted(statuses)))}", flush=True)


def layers(action: str, count: int) -> None:
    """`run_layers` under callgrind; print each variant's instructions per request and the difference."""
    import re
    import subprocess

    with tempfile.TemporaryDirectory() as folder:
        command = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={folder}/out.%p",
                   sys.executable, __file__, "run-layers", action, str(count)]  # fmt: skip
        done = subprocess.run(command, env={**os.environ, "REQUEST_COST_CALLGRIND": folder},
                              capture_output=True, text=True)  # fmt: skip
        if done.returncode:
            sys.exit(done.stderr[-3000:])
        statuses = dict(line.split("\t") for line in done.stdout.splitlines() if "\t" in line)
        counts = {}
        for dump in Path(folder).glob("out.*"):
            text = dump.read_text()
            trigger = re.search(r"^desc: Trigger: Client Request: (.+)$", text, re.MULTILINE)
            summary = re.search(r"^summary: (\d+)", text, re.MULTILINE)
            if trigger and summary:
                counts[trigger.group(1)] = int(summary.group(1)) / count
    whole = counts["whole stack"]
    print(f"{action}: instructions per request ({count} requests; load average {os.getloadavg()[0]:.1f})")
    for label, status in statuses.items():
        own = (
            f"  (whole stack - this: {(whole - counts[label]) / 1e3:7.1f} K)"
            if label.startswith("without")
            else ""
        )
        print(f"{counts[label] / 1e6:7.3f} M  {label} [{status}]{own}")


def _server_cpu() -> float:
    """CPU seconds of the PostgreSQL server processes of this database (the pool's connections, the one
    that asks among them)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        pids = [pid for (pid,) in cursor.fetchall()]
    connection.close()
    return sum(cpu_seconds(pid) or 0.0 for pid in pids)


def drop() -> None:
    import psycopg

    url = _configure()
    name = urlsplit(os.environ["DATABASE_URL"]).path.strip("/")
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "setup":
        setup()
    elif command == "drop":
        drop()
    elif command == "callgrind":
        callgrind(sys.argv[2], int(sys.argv[3]))
    elif command == "layers":
        layers(sys.argv[2], int(sys.argv[3]))
    elif command == "run-layers":
        run_layers(sys.argv[2], int(sys.argv[3]))
    else:
        run(sys.argv[2], int(sys.argv[3]), profile=command == "profile")
