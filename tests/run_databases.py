"""PostgreSQL test databases named for the run that makes them, so that two runs of one checkout at once
(the integrator's run beside a second one, two terminals, CI beside an editor's runner) never share one.

pytest-django names a worker's test database `test_<NAME>_gw0` whatever the run: a second run on the same
DATABASE_URL dropped and re-created the first run's databases under it. Here every run has an id, held as a
PostgreSQL advisory lock for as long as the run lives, and its test databases end in `_run<id>`. pytest-django
drops them at the end of the run; a run that was killed before that leaves them, and the next run on the same
NAME drops every test database whose run no longer holds its lock (a lock ends with its session, however the
process ended, on any machine). `--reuse-db` keeps the fixed names: databases meant to outlive the run.

PostgreSQL keeps the first 63 bytes of a name and drops the rest without an error: under a long NAME every
worker's and every run's name came out the same (the second CREATE DATABASE found the first's and, told
not to ask, dropped it). A name that would not fit keeps the start of `test_<NAME>` and a digest of the
whole, then the worker's and run's suffixes whole.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from typing import Any

import psycopg

# The first key of the two-key advisory locks that mark live runs ("anno"); the second is the run's id.
LOCK_CLASS = 0x616E6E6F
WORKER_INPUT_KEY = "annotator_test_run"
_ID_DIGITS = 8
MAX_NAME_BYTES = 63  # PostgreSQL's NAMEDATALEN - 1
_WORKER_SUFFIX = re.compile(r"_gw\d+$")  # pytest-xdist's worker, added by pytest-django
# Room kept after the stem for any worker's suffix and the run's, so that a NAME's stem is the same in
# every worker and run (the pattern of its databases is one).
_SUFFIX_ROOM = len("_gw999") + len("_run") + _ID_DIGITS
_DIGEST_DIGITS = 8


def new_run_id() -> str:
    return secrets.token_hex(_ID_DIGITS // 2)


def run_lock_key(run_id: str) -> int:
    """The run id as a signed 32-bit integer, the second key of its advisory lock."""
    return int(run_id, 16) - 2**31


def admin_connection(settings_dict: dict[str, Any]) -> psycopg.Connection:
    """A connection to the server's `postgres` database (where Django makes and drops test databases)."""
    params = {
        "host": settings_dict.get("HOST") or None, "port": settings_dict.get("PORT") or None,
        "user": settings_dict.get("USER") or None, "password": settings_dict.get("PASSWORD") or None,
    }  # fmt: skip
    return psycopg.connect(
        **{k: v for k, v in params.items() if v is not None},
        dbname="postgres",
        autocommit=True,
        application_name="annotator-test-run",
    )


def hold_run_lock(settings_dict: dict[str, Any], run_id: str) -> psycopg.Connection:
    """A session holding the run's lock: kept open for the whole run, closed (or ended) when it ends."""
    holder = admin_connection(settings_dict)
    holder.execute("SELECT pg_advisory_lock(%s, %s)", [LOCK_CLASS, run_lock_key(run_id)])
    return holder


def fitted_stem(stem: str) -> str:
    """`stem` (`test_<NAME>`) if a worker's and a run's suffix fit after it in 63 bytes; else its first
    bytes (whole characters) and a digest of all of it: two NAMEs that differ only past the cut still differ."""
    encoded = stem.encode()
    room = MAX_NAME_BYTES - _SUFFIX_ROOM
    if len(encoded) <= room:
        return stem
    digest = hashlib.sha256(encoded).hexdigest()[:_DIGEST_DIGITS]
    return f"{encoded[: room - _DIGEST_DIGITS - 1].decode(errors='ignore')}_{digest}"


def fitted_test_name(test_name: str, run_id: str | None) -> str:
    """The name PostgreSQL keeps whole: `test_name` (`test_<NAME>[_gwN]`, pytest-django's) with its stem
    fitted, its worker's suffix, and `_run<id>` when the run has an id."""
    worker = _WORKER_SUFFIX.search(test_name)
    stem, suffix = (test_name[: worker.start()], worker.group()) if worker else (test_name, "")
    name = fitted_stem(stem) + suffix + (f"_run{run_id}" if run_id else "")
    if len(name.encode()) > MAX_NAME_BYTES:
        raise ValueError(
            f"{name!r} is longer than PostgreSQL's {MAX_NAME_BYTES} bytes (a worker past gw999?)"
        )
    return name


def run_database_pattern(name: str) -> re.Pattern[str]:
    """Names of this NAME's test databases made by a run: `test_<NAME>[_gwN]_run<id>` (the stem fitted as
    above); group 1 is the id."""
    stem = re.escape(fitted_stem(f"test_{name}"))
    return re.compile(rf"{stem}(?:_gw\d+)?_run([0-9a-f]{{{_ID_DIGITS}}})")


def drop_databases_of_ended_runs(admin: psycopg.Connection, name: str) -> list[str]:
    """Drops the test databases of NAME whose run holds its lock no more; returns their names."""
    pattern = run_database_pattern(name)
    found = [row[0] for row in admin.execute("SELECT datname FROM pg_database").fetchall()]
    dropped = []
    for database in found:
        match = pattern.fullmatch(database)
        if match is None or run_is_alive(admin, match.group(1)):
            continue
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        dropped.append(database)
    return dropped


def run_is_alive(admin: psycopg.Connection, run_id: str) -> bool:
    """Whether a session holds the run's lock (taking it would succeed only if none does)."""
    key = [LOCK_CLASS, run_lock_key(run_id)]
    row = admin.execute("SELECT pg_try_advisory_lock(%s, %s)", key).fetchone()
    if row is not None and row[0]:
        admin.execute("SELECT pg_advisory_unlock(%s, %s)", key)
        return False
    return True


def postgresql_databases(databases: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        settings_dict
        for settings_dict in databases.values()
        if settings_dict["ENGINE"] == "django.db.backends.postgresql"
    ]


def name_test_databases_for_run(databases: dict[str, dict[str, Any]], run_id: str | None) -> None:
    """Appends `_run<id>` to the test database name of every PostgreSQL database (after pytest-django's
    worker suffix, `_gw0`), fitting it in 63 bytes; without a run id (`--reuse-db`), only fits it."""
    for settings_dict in postgresql_databases(databases):
        test = settings_dict.setdefault("TEST", {})
        test["NAME"] = fitted_test_name(test.get("NAME") or f"test_{settings_dict['NAME']}", run_id)
