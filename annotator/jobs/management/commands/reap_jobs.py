from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from annotator.jobs.services import reap_stale_jobs
from annotator.jobs.uploads import reap_old_uploads
from annotator.signins.records import forget_old_events


class Command(BaseCommand):
    help = (
        "Mark running jobs whose worker stopped sending heartbeats as failed, so they can be re-run, and "
        "delete uploads kept longer than ANNOTATOR_UPLOAD_RETENTION_DAYS after their job ended, and sign-in "
        "record events older than ANNOTATOR_SIGN_IN_RECORD_DAYS."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"{reap_stale_jobs()} stale job(s) marked failed.")
        self.stdout.write(f"{reap_old_uploads()} old upload(s) deleted.")
        self.stdout.write(
            f"{forget_old_events()} sign-in record event(s) past ANNOTATOR_SIGN_IN_RECORD_DAYS deleted."
        )
