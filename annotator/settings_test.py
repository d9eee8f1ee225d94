"""Test settings: the real settings, made faster. Nothing here changes behaviour under test."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key-of-reasonable-length-0123456789")

from annotator.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# The manifest storage needs collectstatic first; tests serve static files straight from the finders.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
STATIC_ROOT = None  # type: ignore[assignment]  # settings.py makes it a Path; tests have none
WHITENOISE_USE_FINDERS = True
# spaCy on every page load of every test is slow; the tests of that behaviour turn it back on.
ANNOTATOR_SUGGEST_ON_OPEN = False
# Tasks run in-process unless a test starts a real worker against the database backend.
TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's
    return True


# A file, not SQLite's in-memory default, so that a real worker process in a test can share it; one of
# this run's own (each test process makes its directory, removed when the process exits), so two runs
# of one checkout at once (two terminals, an editor's runner beside `make test`) never share one file,
# nor delete each other's. A run killed before its exit handlers ran leaves its directory: the next run
# removes those whose process is gone.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    for _left in Path(tempfile.gettempdir()).glob("annotator-test-*-*"):
        _pid = _left.name.split("-")[2]
        if _pid.isdigit() and not _alive(int(_pid)):
            shutil.rmtree(_left, ignore_errors=True)
    _run_dir = tempfile.mkdtemp(prefix=f"annotator-test-{os.getpid()}-")
    atexit.register(shutil.rmtree, _run_dir, ignore_errors=True)
    DATABASES["default"]["TEST"] = {"NAME": os.path.join(_run_dir, "test.sqlite3")}  # noqa: F405
