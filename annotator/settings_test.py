"""Test settings: the real settings, made faster. Nothing here changes behaviour under test."""

from __future__ import annotations

import os

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
# A file, not SQLite's in-memory default, so that a real worker process in a test can share it.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}  # noqa: F405
