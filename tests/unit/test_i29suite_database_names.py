"""A long DATABASE_URL name never makes two workers or two runs share a test database: PostgreSQL keeps
63 bytes of a name (tests/run_databases.py fits each name in them)."""

from __future__ import annotations

import pytest
from django.db import connection

from tests import run_databases

POSTGRESQL = "django.db.backends.postgresql"
LONG = "annotator_" + "x" * 60  # 70 bytes: `test_<NAME>` alone is past 63


def names(name, workers=("gw0", "gw1"), run_id="0a1b2c3d"):
    """The test database names of `name`'s workers in one run, as the conftest makes them."""
    made = []
    for worker in workers:
        databases = {
            "default": {"ENGINE": POSTGRESQL, "NAME": name, "TEST": {"NAME": f"test_{name}_{worker}"}}
        }
        run_databases.name_test_databases_for_run(databases, run_id)
        made.append(databases["default"]["TEST"]["NAME"])
    return made


def test_a_long_name_gives_each_worker_and_run_its_own_database_within_63_bytes():
    first, second = names(LONG)
    other_run = names(LONG, run_id="ffff0000")[0]
    assert len({first, second, other_run}) == 3
    # The stem (45 bytes) leaves room for any worker up to gw999: gw0's name is 61 bytes.
    assert [len(name.encode()) for name in (first, second, other_run)] == [61, 61, 61]
    digest = run_databases.fitted_stem(f"test_{LONG}")[-8:]
    assert first == f"test_annotator_{'x' * 21}_{digest}_gw0_run0a1b2c3d"  # the stem's first 36 bytes
    assert second.endswith(f"_{digest}_gw1_run0a1b2c3d")
    assert other_run.endswith(f"_{digest}_gw0_runffff0000")


def test_two_long_names_that_differ_only_past_the_cut_get_different_databases():
    assert names(LONG + "_a", workers=["gw0"]) != names(LONG + "_b", workers=["gw0"])


def test_a_short_name_is_kept_as_it_was():
    assert names("annotator") == ["test_annotator_gw0_run0a1b2c3d", "test_annotator_gw1_run0a1b2c3d"]
    # The longest stem kept whole leaves room for worker gw999 and the run: 45 + 6 + 12 = 63 bytes.
    edge = "n" * 40
    assert run_databases.fitted_stem(f"test_{edge}") == f"test_{edge}"
    assert run_databases.fitted_stem(f"test_{edge}n") != f"test_{edge}n"


def test_a_name_in_another_script_is_cut_between_characters():
    name = "проект_" * 10  # 130 bytes of two-byte letters
    (fitted,) = names(name, workers=["gw12"])
    digest = run_databases.fitted_stem(f"test_{name}")[-8:]
    # 36 bytes of the stem are kept; the 36th is half of "о": left out, not cut in two.
    assert fitted == f"test_проект_проект_пр_{digest}_gw12_run0a1b2c3d"
    assert len(fitted.encode()) == 61


def test_without_a_run_id_the_fixed_reuse_db_names_are_fitted_too():
    databases = {"default": {"ENGINE": POSTGRESQL, "NAME": LONG, "TEST": {"NAME": f"test_{LONG}_gw1"}}}
    run_databases.name_test_databases_for_run(databases, None)
    assert databases["default"]["TEST"]["NAME"] == run_databases.fitted_stem(f"test_{LONG}") + "_gw1"


def test_a_worker_suffix_that_cannot_fit_is_refused_not_cut():
    with pytest.raises(ValueError, match="longer than PostgreSQL's 63 bytes"):
        names(LONG, workers=["gw1000000"])


def test_the_pattern_of_ended_runs_finds_the_fitted_names_of_that_name_only():
    pattern = run_databases.run_database_pattern(LONG)
    first, second = names(LONG)
    assert [pattern.fullmatch(name).group(1) for name in (first, second)] == ["0a1b2c3d", "0a1b2c3d"]
    assert pattern.fullmatch(names(LONG + "y", workers=["gw0"])[0]) is None


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL: SQLite test databases are files, not names"
)
def test_postgresql_keeps_each_fitted_name_whole_and_the_next_run_drops_them():
    probe = f"probe_{run_databases.new_run_id()}_" + "y" * 60  # a NAME of this test's own, past 63 bytes
    dead = run_databases.new_run_id()
    made = names(probe, workers=["gw0", "gw1"], run_id=dead)
    with run_databases.admin_connection(connection.settings_dict) as admin:
        try:
            for database in made:
                admin.execute(f'CREATE DATABASE "{database}"')  # the second would fail if cut to the first
            found = admin.execute(
                "SELECT datname FROM pg_database WHERE datname = ANY(%s) ORDER BY datname", [made]
            ).fetchall()
            dropped = run_databases.drop_databases_of_ended_runs(admin, probe)
        finally:
            for database in made:
                admin.execute(f'DROP DATABASE IF EXISTS "{database}"')
    assert [row[0] for row in found] == sorted(made)
    assert sorted(dropped) == sorted(made)
