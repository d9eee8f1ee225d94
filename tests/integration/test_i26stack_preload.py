"""gunicorn's master loads the app, and spaCy when pages suggest, before it forks its workers; it opens no
database connection of its own (gunicorn.conf.py, annotator.core.serving.load_before_forking)."""

from __future__ import annotations

import os
import urllib.request
from pathlib import Path

import pytest
from django.db import connection

from tests.live import gunicorn_process, worker_pids

pytestmark = pytest.mark.django_db(transaction=True)


def spacy_loaded(pid: int) -> bool:
    """Whether one of spaCy's compiled modules is mapped into the process."""
    return any("/spacy/" in line for line in Path(f"/proc/{pid}/maps").read_text().splitlines())


def database_handles(pid: int) -> int:
    """The process's open handles on the test database: TCP connections to PostgreSQL's port, or
    descriptors of the SQLite file."""
    targets = [os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir() if fd.is_symlink()]
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return sum(target.startswith(str(settings["NAME"])) for target in targets)
    port = f"{int(settings['PORT'] or 5432):04X}"
    sockets = {target[len("socket:[") : -1] for target in targets if target.startswith("socket:[")}
    connected = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            fields = row.split()
            if fields[2].endswith(f":{port}"):  # the remote address: a connection to the database
                connected.add(fields[9])
    return len(sockets & connected)


def get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 - our own local server
        return response.status


def test_workers_are_forked_with_spacy_loaded_and_the_master_holds_no_database_connection():
    with gunicorn_process(workers=1, ANNOTATOR_SUGGEST_ON_OPEN="true") as (base, master):
        assert get(f"{base}/healthz") == 200
        [worker] = worker_pids(master)
        assert (spacy_loaded(master.pid), spacy_loaded(worker)) == (True, True)
        # The master, which forks every worker, must never have a connection to hand down. On PostgreSQL
        # the worker keeps the one it answered /healthz with in its pool (there may be more): the count
        # sees connections. SQLite's is closed at the end of each request.
        assert database_handles(master.pid) == 0
        if connection.vendor == "postgresql":
            assert database_handles(worker) >= 1


def test_spacy_stays_out_of_the_server_when_pages_do_not_suggest():
    with gunicorn_process(workers=1, ANNOTATOR_SUGGEST_ON_OPEN="false") as (base, master):
        assert get(f"{base}/healthz") == 200
        [worker] = worker_pids(master)
        assert (spacy_loaded(master.pid), spacy_loaded(worker)) == (False, False)
