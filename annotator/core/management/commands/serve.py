from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.request
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from annotator.core.binding import configured_bind, local_url
from annotator.core.serving import web_workers
from annotator.jobs.services import reap_stale_jobs
from annotator.jobs.uploads import reap_old_uploads
from annotator.signins.records import forget_old_events

REAP_EVERY_SECONDS = 60
REAP_UPLOADS_EVERY_SECONDS = 3600


class Command(BaseCommand):
    help = "Run the web server (gunicorn) and a task worker together; stop both on Ctrl+C or if either dies."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--bind", default=configured_bind())
        parser.add_argument("--web-workers", type=int, default=web_workers())  # threads: gunicorn.conf.py

    def handle(self, *args: Any, **options: Any) -> None:
        python = sys.executable
        web = [
            python, "-m", "gunicorn", "annotator.wsgi:application", "--bind", options["bind"],
            "--workers", str(options["web_workers"]), "--access-logfile", "-", "--graceful-timeout", "10",
        ]  # fmt: skip
        worker = [python, "manage.py", "db_worker", "--queue-name", "*"]
        # Fixed argument lists: nothing from user input reaches these commands.
        processes = {"web": subprocess.Popen(web), "worker": subprocess.Popen(worker)}  # noqa: S603
        # Said once the server answers, so that it comes after gunicorn's and the worker's start-up lines
        # rather than among them, and the sign-in printed above it is one glance away.
        ready = _wait_until_listening(options["bind"], processes["web"])
        self.stdout.write(
            f"{'Serving' if ready else 'Starting'} on http://{options['bind']}/ with a task worker "
            "(sign in with the login printed above). Ctrl+C stops both."
        )

        def stop(signum: int, frame: FrameType | None) -> None:
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, stop)
        exit_code = 0
        try:
            last_reap = last_upload_reap = 0.0
            while True:
                for name, process in processes.items():
                    if (code := process.poll()) is not None:
                        self.stderr.write(f"The {name} process exited with code {code}; stopping.")
                        exit_code = code or 1
                        raise KeyboardInterrupt
                if time.monotonic() - last_reap > REAP_EVERY_SECONDS:
                    if reaped := reap_stale_jobs():
                        self.stderr.write(f"Marked {reaped} job(s) failed: their worker stopped responding.")
                    last_reap = time.monotonic()
                if time.monotonic() - last_upload_reap > REAP_UPLOADS_EVERY_SECONDS:
                    reap_old_uploads()
                    forget_old_events()
                    last_upload_reap = time.monotonic()
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            for process in processes.values():
                if process.poll() is None:
                    process.terminate()
            for process in processes.values():
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
        sys.exit(exit_code)


def _wait_until_listening(bind: str, web: subprocess.Popen[bytes], timeout: float = 60.0) -> bool:
    """Whether the server at `host:port` answers /healthz within `timeout` seconds (False at once if it
    exits; a unix socket or an odd bind is not waited for)."""
    base = local_url(bind)
    if base is None:
        return False
    url = f"{base}healthz"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and web.poll() is None:
        try:  # a worker answers: gunicorn has booted its workers and said so
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - local_url gives http:// only
                return True
        except OSError:
            time.sleep(0.2)
    return False
