"""Running the real app in another process against the test database: gunicorn, workers."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


def database_url() -> str:
    """The URL of the database the tests run on, for another process to open."""
    database = connection.settings_dict
    if database["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{database['NAME']}"
    password = f":{database['PASSWORD']}" if database.get("PASSWORD") else ""
    return f"postgres://{database['USER']}{password}@{database['HOST']}:{database['PORT']}/{database['NAME']}"


def app_environment(**extra: str) -> dict[str, str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "annotator.settings", "DATABASE_URL": database_url()}
    env.setdefault("DJANGO_SECRET_KEY", "live-test-secret-key-" + "x" * 30)
    env["ANNOTATOR_ENV_FILE"] = os.devnull
    env["DJANGO_DEBUG"] = "true"  # static files from the finders: no collectstatic in tests
    # Its PostgreSQL sessions say they are a server's, not the test process's (a URL's own name still wins).
    env["PGAPPNAME"] = "annotator-tests-live-process"
    # A gunicorn worker imports most of the app on its first request: beside other test processes on a busy
    # 2-core machine that took more than gunicorn's 30-s worker timeout, and the master killed it again and
    # again (WORKER TIMEOUT), so the server never answered. No test here relies on that timeout.
    env.setdefault("GUNICORN_CMD_ARGS", "--timeout 300")
    env.update(extra)
    return env


def listening_socket() -> socket.socket:
    """A socket on a free port of 127.0.0.1, bound and listening, for a server process to inherit
    (gunicorn's `--bind fd://N`). A port only probed (bound, closed, its number passed on) is free again
    until the server binds it, and gunicorn binds after importing the app, seconds later on a loaded
    machine: meanwhile any connection of the machine can get it as its local port (gunicorn then fails to
    bind, "Connection in use"), or another test run's server can listen there and answer this test. A port
    held from the start is this test's."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


@contextmanager
def gunicorn(*, workers: int = 4, threads: int = 1) -> Iterator[str]:
    """A real gunicorn serving the app on the test database; yields its base URL."""
    with gunicorn_process(workers=workers, threads=threads) as (base, _):
        yield base


@contextmanager
def gunicorn_process(
    *, workers: int = 4, threads: int = 1, arguments: Sequence[str] = (), **env: str
) -> Iterator[tuple[str, subprocess.Popen]]:
    """gunicorn as above (`arguments`: more of its command-line options); yields its base URL and its master
    process (whose children are the workers). One thread is a sync worker, as gunicorn makes it by default;
    more run in gunicorn.conf.py's worker (the served one), unless `arguments` name another."""
    listener = listening_socket()
    base = f"http://127.0.0.1:{listener.getsockname()[1]}"
    sync = ["--worker-class", "sync"] if threads == 1 and "--worker-class" not in arguments else []
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "annotator.wsgi:application", "--bind", f"fd://{listener.fileno()}",
             "--workers", str(workers), "--threads", str(threads), "--log-level", "warning", *sync, *arguments],
            cwd=ROOT, env=app_environment(DJANGO_ALLOWED_HOSTS="127.0.0.1", **env), pass_fds=[listener.fileno()],
        )  # fmt: skip
    finally:
        listener.close()  # gunicorn holds its own copy; this one would keep the port listening after it ends
    try:
        # A worker's first answer comes after it imported the app; beside another test process on a busy
        # 2-core machine that can take far longer than on a quiet one (the wait ends at the first answer).
        deadline = time.monotonic() + 180
        while True:
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=2)  # noqa: S310 - our own local server
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("gunicorn did not start") from None
                time.sleep(0.2)
        yield base, process
    finally:
        process.terminate()
        try:
            # A graceful stop lets the requests under way end first (gunicorn allows them its graceful
            # timeout, 30 s): on a loaded machine one can take longer than a quiet machine's whole test.
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()  # its workers see their master gone and end
            process.wait()


def worker_pids(master: subprocess.Popen) -> list[int]:
    """The gunicorn workers' process ids: the master's children."""
    children = Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text().split()
    return [int(pid) for pid in children]


DROPPED = 0  # the status of a request whose connection broke before any answer (its worker was killed)


def api_call(
    method: str, url: str, token: str, body: object = None, if_match: str | None = None, timeout: float = 30
) -> tuple[int, str | None, object]:
    """(status, ETag, JSON body) of an API call with a bearer token; DROPPED when no answer came."""
    request = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body else None)  # noqa: S310
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Content-Type", "application/json")
    if if_match is not None:
        request.add_header("If-Match", if_match)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - our own local server
            return response.status, response.headers.get("ETag"), json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        try:
            content = error.read()
        except (http.client.HTTPException, OSError):  # the answer broke off after its status line
            return DROPPED, None, None
        try:
            parsed = json.loads(content or b"null")
        except ValueError:
            parsed = content.decode("utf-8", "replace")  # not JSON: the test shows what it was
        return error.code, error.headers.get("ETag"), parsed
    except (urllib.error.URLError, http.client.HTTPException, ConnectionError, TimeoutError):
        # TimeoutError: no answer within `timeout` (a socket timeout while reading is not wrapped in URLError).
        return DROPPED, None, None
