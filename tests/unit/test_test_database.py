"""The SQLite test database is a file of the run's own, removed when the run ends: two runs of one
checkout at once never share it (nor delete it under each other)."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "import django, json, os; from django.conf import settings; django.setup(); "
    "name = settings.DATABASES['default']['TEST']['NAME']; "
    "print(json.dumps([name, os.path.isdir(os.path.dirname(name))]))"
)


def load_test_settings():
    """The test settings in a fresh interpreter, on SQLite: (test database name, its directory made)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    env["DJANGO_SETTINGS_MODULE"] = "annotator.settings_test"
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    name, made = json.loads(result.stdout)
    return Path(name), made


def test_each_run_has_its_own_sqlite_test_database_removed_at_its_end():
    first, first_made = load_test_settings()
    second, second_made = load_test_settings()
    assert (first.name, second.name) == ("test.sqlite3", "test.sqlite3")
    assert first.parent != second.parent
    assert first.parent.name.startswith("annotator-test-")
    assert (first_made, second_made) == (True, True)
    assert not first.parent.exists()  # removed when its process ended
    assert not second.parent.exists()


def test_a_killed_runs_directory_is_removed_by_the_next_run():
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    left = Path(tempfile.gettempdir()) / f"annotator-test-{int(gone.stdout)}-killed"
    running = Path(tempfile.gettempdir()) / f"annotator-test-{os.getpid()}-running"  # this process's
    for directory in (left, running):
        directory.mkdir()
        (directory / "test.sqlite3").write_bytes(b"")
    try:
        load_test_settings()
        assert (left.exists(), running.exists()) == (False, True)
    finally:
        shutil.rmtree(left, ignore_errors=True)
        shutil.rmtree(running, ignore_errors=True)


@pytest.mark.django_db
def test_this_run_uses_its_own_file_on_sqlite():
    if connection.vendor != "sqlite":
        pytest.skip("needs SQLite: a file of the run's own (on PostgreSQL, tests/unit/test_run_databases.py)")
    name = Path(connection.settings_dict["NAME"])
    assert name.parent.name.startswith("annotator-test-")
    assert name.parent.is_dir()
    assert name.name.startswith("test.sqlite3")  # "test.sqlite3_gw0" and so on under pytest-xdist
