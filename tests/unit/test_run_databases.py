"""Two test runs of one checkout at once use test databases of their own, and what a killed run left is
dropped by the next (tests/run_databases.py)."""

from __future__ import annotations

import pytest
from django.db import connection

from tests import run_databases

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL: test databases by name (SQLite's are files of the run's own process, "
    "tests/unit/test_test_database.py)",
)


def test_each_postgresql_test_database_is_named_for_the_run_after_the_worker_suffix():
    postgresql, sqlite = "django.db.backends.postgresql", "django.db.backends.sqlite3"
    databases = {
        "default": {"ENGINE": postgresql, "NAME": "annotator", "TEST": {"NAME": "test_annotator_gw1"}},
        "other": {"ENGINE": postgresql, "NAME": "reports"},
        "files": {"ENGINE": sqlite, "NAME": "var/a.sqlite3", "TEST": {"NAME": "run/test.sqlite3"}},
    }
    run_databases.name_test_databases_for_run(databases, "0a1b2c3d")
    assert [settings["TEST"]["NAME"] for settings in databases.values()] == [
        "test_annotator_gw1_run0a1b2c3d",
        "test_reports_run0a1b2c3d",
        "run/test.sqlite3",
    ]


def test_the_pattern_takes_only_run_databases_of_that_name():
    pattern = run_databases.run_database_pattern("annotator")
    assert pattern.fullmatch("test_annotator_gw0_run0a1b2c3d").group(1) == "0a1b2c3d"
    assert pattern.fullmatch("test_annotator_run0a1b2c3d").group(1) == "0a1b2c3d"
    assert pattern.fullmatch("test_annotator_gw0") is None  # a fixed name (--reuse-db): kept
    assert pattern.fullmatch("test_annotator_x_gw0_run0a1b2c3d") is None  # another NAME's
    assert pattern.fullmatch("annotator_run0a1b2c3d") is None  # no test database


@postgresql_only
def test_this_run_uses_a_database_of_its_own_whose_lock_it_holds(db):
    name = connection.settings_dict["NAME"]
    base = name.removeprefix("test_").split("_gw")[0].rsplit("_run", 1)[0]
    match = run_databases.run_database_pattern(base).fullmatch(name)
    assert match is not None, name
    with run_databases.admin_connection(connection.settings_dict) as admin:
        assert run_databases.run_is_alive(admin, match.group(1))


@postgresql_only
def test_the_databases_of_a_killed_run_are_dropped_and_those_of_a_live_run_kept():
    probe = f"probe_{run_databases.new_run_id()}"  # a NAME of this test's own: no real run's databases
    dead, live = run_databases.new_run_id(), run_databases.new_run_id()
    made = [f"test_{probe}_gw0_run{dead}", f"test_{probe}_run{dead}", f"test_{probe}_gw1_run{live}",
            f"test_{probe}_gw0", f"test_{probe}_more_gw0_run{dead}"]  # fmt: skip
    settings_dict = connection.settings_dict
    with run_databases.admin_connection(settings_dict) as admin:
        for database in made:
            admin.execute(f'CREATE DATABASE "{database}"')
        holder = run_databases.hold_run_lock(settings_dict, live)
        try:
            dropped = run_databases.drop_databases_of_ended_runs(admin, probe)
            rows = admin.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s ORDER BY datname", [f"test_{probe}%"]
            ).fetchall()
        finally:
            holder.close()
            for database in made:
                admin.execute(f'DROP DATABASE IF EXISTS "{database}"')
    assert sorted(dropped) == [f"test_{probe}_gw0_run{dead}", f"test_{probe}_run{dead}"]
    assert [row[0] for row in rows] == sorted(
        [f"test_{probe}_gw0", f"test_{probe}_gw1_run{live}", f"test_{probe}_more_gw0_run{dead}"]
    )
