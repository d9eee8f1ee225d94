"""CPU per request of the read actions of `bench/load.py`, one action at a time, in process (no network).

    python bench/read_cost.py                              # SQLite (temporary file)
    DATABASE_URL=postgres://... python bench/read_cost.py
    READ_PROFILE=1 ...                                     # and a cProfile of each action
    READ_ACTIONS=page ...                                  # only these (healthz, page, list)
    READ_CALLGRIND=1 valgrind --tool=callgrind --instr-atstart=no python bench/read_cost.py  # instructions

The same reviewers, articles and suggestions as `bench/load.py`, with production settings, through the
whole middleware stack (Django's test client). For each action: the app's CPU per request (this
process), the database server's CPU per request (its backend process, PostgreSQL only), wall-clock
p50/p95, queries and response bytes, next to `/healthz` through the same client. CPU per request is the
figure that holds on a busy machine: under load, throughput is CPU divided among the requests. Under
callgrind (started with `--instr-atstart=no`), each action's measured requests alone are counted (a tiny
library of callgrind.h's client requests, built with the C compiler, starts and stops the counting) and
it prints the app's instructions per request, which the load does not move.
"""

from __future__ import annotations

import cProfile
import ctypes
import os
import pstats
import re
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("LOAD_CLIENTS", "4")  # people_for makes this many reviewers

from _harness import bench_database, cpu_seconds

REPEAT = int(os.environ.get("READ_REPEAT", "300"))
PROFILE = os.environ.get("READ_PROFILE", "") not in ("", "0")
SHOW_SQL = os.environ.get("READ_SQL", "") not in ("", "0")
ACTIONS = os.environ.get("READ_ACTIONS", "healthz,page,list").split(",")
CALLGRIND = os.environ.get("READ_CALLGRIND", "") not in ("", "0")
CALLGRIND_MARKS = r"""
#include <valgrind/callgrind.h>
int running(void) { return RUNNING_ON_VALGRIND; }
void start(void) { CALLGRIND_ZERO_STATS; CALLGRIND_START_INSTRUMENTATION; }
void stop(const char *label) { CALLGRIND_STOP_INSTRUMENTATION; CALLGRIND_DUMP_STATS_AT(label); }
"""


def callgrind_marks() -> Any:
    """With READ_CALLGRIND, a library whose `start()` and `stop(label)` count the instructions between
    them and write them to a dump of that label (callgrind.h's client requests); else None."""
    if not CALLGRIND:
        return None
    folder = Path(tempfile.mkdtemp(prefix="read-cost-marks-"))
    (folder / "marks.c").write_text(CALLGRIND_MARKS)
    subprocess.run(["cc", "-shared", "-fPIC", "-O1", "-o", str(folder / "marks.so"), str(folder / "marks.c")],
                   check=True)  # fmt: skip
    marks = ctypes.CDLL(str(folder / "marks.so"))
    if not marks.running():
        raise SystemExit("READ_CALLGRIND: run under valgrind --tool=callgrind --instr-atstart=no.")
    return marks


MARKS = callgrind_marks()


def instructions(label: str) -> int:
    """The instructions counted between `MARKS.start()` and `MARKS.stop(label)` (callgrind's dump)."""
    for path in Path().glob(f"callgrind.out.{os.getpid()}*"):
        text = path.read_text()
        if f"Client Request: {label}\n" in text:
            return int(re.search(r"^totals: (\d+)", text, re.MULTILINE).group(1))  # type: ignore[union-attr]
    raise RuntimeError(f"No callgrind dump for {label}: run with --instr-atstart=no in this directory.")


def backend_cpu_seconds(pid: int | None) -> float:
    return (cpu_seconds(pid) or 0.0) if pid is not None else 0.0


def backend_pid() -> int | None:
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def measure(name: str, action: Callable[[], object], healthz_cpu: float | None = None) -> float:
    from django.db import connection

    queries: list[str] = []

    def count(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        queries.append(sql)
        return execute(sql, params, many, context)

    # Not CaptureQueriesContext: Django clears the query log when a request starts.
    with connection.execute_wrapper(count):
        response = action()
    if SHOW_SQL:
        print("\n".join(f"  {sql[:400]}" for sql in queries))
    assert response.status_code == 200, (name, response.status_code, response.content[:300])  # type: ignore[attr-defined]
    size = len(response.content)  # type: ignore[attr-defined]
    for _ in range(20):
        action()  # warm: compiled queries, template caches
    # One database connection for the whole loop (the pool hands back the same one) so its backend's CPU
    # is ours alone.
    pid = backend_pid()
    if MARKS is not None:
        MARKS.start()
    database_before, cpu_before = backend_cpu_seconds(pid), time.process_time()
    times = []
    for _ in range(REPEAT):
        began = time.perf_counter()
        action()
        times.append((time.perf_counter() - began) * 1000)
    app_cpu = (time.process_time() - cpu_before) / REPEAT * 1000
    database_cpu = (backend_cpu_seconds(pid) - database_before) / REPEAT * 1000
    if MARKS is not None:
        label = name.split(":")[0].replace(" ", "-")
        MARKS.stop(label.encode())
        print(
            f"{name:22} {instructions(label) / REPEAT:,.0f} instructions per request (callgrind)", flush=True
        )
    cuts = statistics.quantiles(times, n=100, method="inclusive")
    ratio = f" = {app_cpu / healthz_cpu:.1f}x /healthz" if healthz_cpu else ""
    print(
        f"{name:22} CPU app {app_cpu:5.2f} ms{ratio}, database {database_cpu:5.2f} ms; "
        f"p50 {cuts[49]:6.2f} ms p95 {cuts[94]:6.2f} ms; {len(queries)} queries, {size / 1024:,.1f} KiB",
        flush=True,
    )
    if PROFILE:
        profile = cProfile.Profile(time.thread_time)  # CPU, not the waits a busy machine adds
        profile.enable()
        for _ in range(REPEAT // 3):
            action()
        profile.disable()
        stats = pstats.Stats(profile)
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(45)
    return app_cpu


def main() -> None:
    with bench_database("reads") as vendor:
        from django.db import connection
        from django.test import Client
        from load import people_for

        people = people_for(vendor)
        who = people[0]
        if vendor == "postgresql":
            # What autovacuum does within a minute of these inserts; without it, the plans are those of
            # empty tables (a nested loop per pending suggestion) until it runs in the middle of a run.
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        # As in bench/load.py: the page with the reviewer's session, the API and /healthz without cookies.
        client = Client(HTTP_HOST="127.0.0.1")
        client.cookies["sessionid"] = str(who["session"])
        bare = Client(HTTP_HOST="127.0.0.1")
        page = f"/articles/{who['article']}/annotate/"
        articles = f"/api/v1/projects/{who['project']}/articles/"
        bearer = {"HTTP_AUTHORIZATION": f"Bearer {who['token']}"}
        client.get(page)  # the first open computes the article's suggestions
        print(f"database: {vendor}; {REPEAT} requests per action; load average {os.getloadavg()[0]:.1f}")
        healthz = (
            measure("baseline: /healthz", lambda: bare.get("/healthz")) if "healthz" in ACTIONS else None
        )
        if "page" in ACTIONS:
            measure("open annotate page", lambda: client.get(page), healthz)
        if "list" in ACTIONS:
            measure("list articles (API)", lambda: bare.get(articles, **bearer), healthz)
        print(f"load average at the end {os.getloadavg()[0]:.1f}")
        connection.close()


if __name__ == "__main__":
    main()
