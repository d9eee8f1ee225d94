"""What every benchmark shares: a throwaway database, Django set up on it, and percentile printing.

A benchmark runs against PostgreSQL when DATABASE_URL is set (in a fresh database next to the one named,
dropped afterwards) and against a temporary SQLite file otherwise.
"""

from __future__ import annotations

import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU seconds of a process on this machine (a gunicorn worker, a PostgreSQL backend);
    None when it is gone or not here (a database server on another machine)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def bench_database(label: str) -> Iterator[str]:
    """Point Django at a fresh, migrated database for this benchmark; yield its vendor."""
    # A benchmark stopped with SIGTERM (timeout, kill) still drops its database and data folder: the signal
    # becomes SystemExit, which runs the `finally` below as Ctrl-C does.
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, lambda number, frame: sys.exit(128 + number))
    os.environ.setdefault("DJANGO_SECRET_KEY", "benchmark-only-secret-key-" + "x" * 30)
    os.environ["DJANGO_SETTINGS_MODULE"] = "annotator.settings"
    os.environ["ANNOTATOR_ENV_FILE"] = os.devnull
    url = os.environ.get("DATABASE_URL", "")
    with tempfile.TemporaryDirectory(prefix=f"annotator-bench-{label}-") as data_dir:
        os.environ["ANNOTATOR_DATA_DIR"] = data_dir
        if url:
            import psycopg

            parts = urlsplit(url)
            name = f"annotator_bench_{label}_{os.getpid()}"
            admin = urlunsplit(parts._replace(path="/postgres"))
            with psycopg.connect(admin, autocommit=True) as connection:
                connection.execute(f'CREATE DATABASE "{name}"')
            os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{name}"))
        try:
            import django
            from django.core.management import call_command

            django.setup()
            call_command("migrate", verbosity=0)
            call_command(
                "collectstatic", interactive=False, verbosity=0
            )  # production storage needs the manifest
            from django.db import connection

            yield connection.vendor
        finally:
            if url:
                from django.db import connections

                connections.close_all()
                with psycopg.connect(admin, autocommit=True) as connection:
                    connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                os.environ["DATABASE_URL"] = url


def timed(action: Callable[[], object], repeat: int) -> list[float]:
    """Milliseconds of each of `repeat` runs."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return times


def percentiles(times: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(times, n=100, method="inclusive")
    return cuts[49], cuts[94]


def report(name: str, times: list[float], baseline: list[float] | None = None) -> None:
    p50, p95 = percentiles(times)
    line = f"{name:<44} p50 {p50:7.2f} ms   p95 {p95:7.2f} ms   n={len(times)}"
    if baseline is not None:
        b50, b95 = percentiles(baseline)
        line += f"   x{p50 / b50:5.1f} / x{p95 / b95:5.1f} the baseline"
    print(line, flush=True)
