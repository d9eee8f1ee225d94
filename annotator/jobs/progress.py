"""Progress reporting from inside a running job, cheap enough to call once per row.

A job that holds one long transaction for its data (an all-or-nothing import) must still show its
progress and send heartbeats, or nobody sees it move and the reaper takes it for dead. So while the
job's own connection is inside a transaction, progress goes around it:

- on PostgreSQL, through a second connection in autocommit, so other sessions see every update at once
  (and a failed import, rolled back, still leaves its last progress and heartbeat);
- on SQLite, which lets one writer at a time hold the database, to a small JSON file next to it
  (`DATA_DIR/jobs/<id>.json`, replaced atomically) that `live()` and the reaper read.

Outside a transaction, progress is a plain single-row UPDATE on the job.
"""

from __future__ import annotations

import json
import os
import time
import weakref
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from annotator.jobs.models import Job, JobStatus

Listener = Callable[["Progress"], None]


def side_file(job_id: int) -> Path:
    """Where a running job's progress goes on SQLite while its transaction holds the database."""
    return Path(settings.DATA_DIR) / "jobs" / f"{job_id}.json"


def read_side_file(job_id: int) -> dict[str, Any] | None:
    try:
        values: dict[str, Any] = json.loads(side_file(job_id).read_text())
    except (OSError, ValueError):
        return None
    values["heartbeat_at"] = datetime.fromisoformat(values["heartbeat_at"])
    return values


def live(job: Job) -> Job:
    """The job with its latest progress, including what a running job wrote beside the database."""
    values = read_side_file(job.pk) if job.status == JobStatus.RUNNING else None
    if values is not None and (job.heartbeat_at is None or values["heartbeat_at"] > job.heartbeat_at):
        for name, value in values.items():
            setattr(job, name, value)
    return job


def _close_side(side: BaseDatabaseWrapper) -> None:
    side.inc_thread_sharing()  # a finalizer runs in whichever thread dropped the last reference
    side.close()


class Progress:
    """Counts work done and writes it (with a heartbeat) at most every `interval` seconds."""

    def __init__(self, job: Job, *, interval: float = 0.5, listener: Listener | None = None) -> None:
        self.job = job
        self.interval = interval
        self.listener = listener
        self.done = job.progress_done
        self.total = job.progress_total
        self.message = job.message
        self._last_write = 0.0
        self._side: BaseDatabaseWrapper | None = None
        self._give_back: weakref.finalize | None = None

    def _open_side(self) -> BaseDatabaseWrapper:
        """The second connection, opened on first need. A Progress dropped without `close` gives it back
        as soon as nothing refers to it: a connection wrapper sits in reference cycles, so without this it
        would stay out of the pool (a session on the database) until the cyclic collector ran, which
        can be never before the process ends (and keeps a test database from being dropped)."""
        if self._side is None:
            self._side = connections.create_connection(DEFAULT_DB_ALIAS)
            self._give_back = weakref.finalize(self, _close_side, self._side)
            self._give_back.atexit = False  # a process that ends closes its connections anyway
        return self._side

    def set_total(self, total: int | None) -> None:
        self.total = total
        self.flush()

    def set_done(self, done: int) -> None:
        """Jump to a count (e.g. bytes read so far) rather than adding to it."""
        self.done = done
        if time.monotonic() - self._last_write >= self.interval:
            self.flush()

    def say(self, message: str) -> None:
        self.message = message[:500]
        self.flush()

    def advance(self, count: int = 1) -> None:
        self.done += count
        if time.monotonic() - self._last_write >= self.interval:
            self.flush()

    def flush(self) -> None:
        values = {
            "progress_done": self.done,
            "progress_total": self.total,
            "message": self.message,
            "heartbeat_at": timezone.now(),
        }
        if not connection.in_atomic_block or not self._write_around(values):
            Job.objects.filter(pk=self.job.pk).update(**values)
        self.job.progress_done, self.job.progress_total, self.job.message = (
            self.done,
            self.total,
            self.message,
        )
        self._last_write = time.monotonic()
        if self.listener is not None:
            self.listener(self)

    def _write_around(self, values: dict[str, Any]) -> bool:
        """Write progress where other sessions see it despite the open transaction; False if it cannot."""
        if connection.vendor == "postgresql":
            with self._open_side().cursor() as cursor:
                cursor.execute(
                    "UPDATE jobs_job SET progress_done = %s, progress_total = %s, message = %s, heartbeat_at = %s "
                    "WHERE id = %s",
                    [*values.values(), self.job.pk],
                )
                # A job row created inside the same still-open transaction (tests) is invisible to the
                # second connection; then the update goes through the job's own connection after all.
                return cursor.rowcount == 1
        if connection.vendor == "sqlite":
            path = side_file(self.job.pk)
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_suffix(f".{os.getpid()}.tmp")
            temporary.write_text(json.dumps({**values, "heartbeat_at": values["heartbeat_at"].isoformat()}))
            os.replace(temporary, path)
            return True
        return False

    def close(self) -> None:
        """Release the second connection and the side file; the job row holds the final figures."""
        if self._give_back is not None:
            self._give_back()  # closes the second connection (once: a finalizer runs at most once)
            self._side, self._give_back = None, None
        side_file(self.job.pk).unlink(missing_ok=True)
