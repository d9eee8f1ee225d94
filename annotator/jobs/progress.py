"""Progress reporting from inside a running job, cheap enough to call once per row."""

from __future__ import annotations

import time

from django.utils import timezone

from annotator.jobs.models import Job


class Progress:
    """Counts work done and writes it (with a heartbeat) at most every `interval` seconds.

    Writes are single-row UPDATEs on the job, so a job that holds one long transaction for its data
    still shows progress wherever the database lets another reader see it (PostgreSQL, with the job
    running on its own connection in a worker).
    """

    def __init__(self, job: Job, *, interval: float = 0.5) -> None:
        self.job = job
        self.interval = interval
        self.done = job.progress_done
        self.total = job.progress_total
        self.message = job.message
        self._last_write = 0.0

    def set_total(self, total: int | None) -> None:
        self.total = total
        self.flush()

    def say(self, message: str) -> None:
        self.message = message[:500]
        self.flush()

    def advance(self, count: int = 1) -> None:
        self.done += count
        if time.monotonic() - self._last_write >= self.interval:
            self.flush()

    def flush(self) -> None:
        Job.objects.filter(pk=self.job.pk).update(
            progress_done=self.done,
            progress_total=self.total,
            message=self.message,
            heartbeat_at=timezone.now(),
        )
        self.job.progress_done, self.job.progress_total, self.job.message = (
            self.done,
            self.total,
            self.message,
        )
        self._last_write = time.monotonic()
