"""Shared fixtures. State is made through services and factories, never fixture files."""

import warnings
from types import SimpleNamespace

import hypothesis
import pytest

from annotator.annotations.services import get_or_create_own_set
from annotator.projects.models import Role
from tests import run_databases
from tests.factories import (
    ArticleFactory,
    EntityTypeFactory,
    KBEntityFactory,
    KnowledgeBaseFactory,
    MembershipFactory,
    ProjectFactory,
    RelationTypeFactory,
    UserFactory,
)
from tests.process_caches import clear_state_caches

# Property tests check what holds, not how fast inputs are drawn: on a loaded machine (two test workers
# beside other jobs) a draw can take seconds, which is no failure of the code under test.
hypothesis.settings.register_profile(
    "annotator", suppress_health_check=[hypothesis.HealthCheck.too_slow], deadline=None
)
hypothesis.settings.load_profile("annotator")

# 0         1         2         3         4
# 0123456789012345678901234567890123456789012
# Sergey Naryshkin visited Minsk on April 15.
NEWS_TEXT = "Sergey Naryshkin visited Minsk on April 15."
NARYSHKIN = (0, 16)
MINSK = (25, 30)
APRIL_15 = (34, 42)


@pytest.fixture
def news(db):
    """A small news project: schema, one article, an annotator with an empty set, a KB of two entities."""
    project = ProjectFactory(name="News", slug="news")
    person = EntityTypeFactory(project=project, name="PERSON", key="p")
    org = EntityTypeFactory(project=project, name="ORG", key="o")
    gpe = EntityTypeFactory(project=project, name="GPE", key="g")
    date = EntityTypeFactory(project=project, name="DATE", key="d")
    visited = RelationTypeFactory(project=project, name="visited", heads=[person, org], tails=[gpe])
    met_with = RelationTypeFactory(
        project=project, name="met_with", directed=False, heads=[person], tails=[person]
    )
    article = ArticleFactory(
        project=project, text=NEWS_TEXT, external_id="news-1", title="Naryshkin in Minsk"
    )
    annotator = UserFactory(username="alice")
    MembershipFactory(project=project, user=annotator, role=Role.ANNOTATOR)
    manager = UserFactory(username="maria")
    MembershipFactory(project=project, user=manager, role=Role.MANAGER)
    kb = KnowledgeBaseFactory(project=project, name="News KB")
    naryshkin = KBEntityFactory(
        knowledge_base=kb, kb_id="sergey-naryshkin", name="Sergey Naryshkin", type="PERSON"
    )
    minsk = KBEntityFactory(knowledge_base=kb, kb_id="minsk", name="Minsk", type="GPE")
    return SimpleNamespace(
        project=project,
        person=person,
        org=org,
        gpe=gpe,
        date=date,
        visited=visited,
        met_with=met_with,
        article=article,
        annotator=annotator,
        manager=manager,
        annotation_set=get_or_create_own_set(article=article, user=annotator),
        kb=kb,
        naryshkin=naryshkin,
        minsk=minsk,
    )


@pytest.fixture
def outsider(db):
    """A user who belongs to another project only."""
    user = UserFactory(username="mallory")
    MembershipFactory(user=user, role=Role.MANAGER)
    return user


@pytest.fixture
def named_news_kb(news):
    """The news KB's entities also go by their names as aliases (the factory makes entities without any),
    as a KB import makes them: what the gazetteer and the candidate search look up."""
    from annotator.kb.services import EntityRecord, upsert_entity

    for entity in (news.naryshkin, news.minsk):
        record = EntityRecord(kb_id=entity.kb_id, name=entity.name, type=entity.type)
        upsert_entity(knowledge_base=news.kb, record=record)
    return news


_RUN_ID = pytest.StashKey[str]()
_RUN_LOCK = pytest.StashKey[object]()


def pytest_configure(config):
    """This run's id for its PostgreSQL test databases (tests/run_databases.py): made by the run's first
    process (xdist's controller, or the only one), which holds its lock and first drops what killed runs
    left; handed to xdist's workers."""
    worker_input = getattr(config, "workerinput", None)
    name_postgresql_sessions(worker_input)
    if worker_input is not None:
        if run_databases.WORKER_INPUT_KEY in worker_input:
            config.stash[_RUN_ID] = worker_input[run_databases.WORKER_INPUT_KEY]
        return
    if config.getvalue("reuse_db"):
        return
    from django.conf import settings

    found = run_databases.postgresql_databases(settings.DATABASES)
    if not found:
        return
    run_id = run_databases.new_run_id()
    with run_databases.admin_connection(found[0]) as admin:
        for settings_dict in found:
            run_databases.drop_databases_of_ended_runs(admin, settings_dict["NAME"])
    config.stash[_RUN_LOCK] = run_databases.hold_run_lock(found[0], run_id)
    config.stash[_RUN_ID] = run_id


def name_postgresql_sessions(worker_input) -> None:
    """Every PostgreSQL session this test process opens is named for it (libpq's PGAPPNAME, unless a
    connection names itself): a session left on a test database then says whose it was, this process's
    or a server's it started (tests/live.py names those)."""
    import os

    worker = (worker_input or {}).get("workerid", "main")
    os.environ["PGAPPNAME"] = f"annotator-tests-{worker}"


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """xdist: a worker names its databases for the run it belongs to."""
    if _RUN_ID in node.config.stash:
        node.workerinput[run_databases.WORKER_INPUT_KEY] = node.config.stash[_RUN_ID]


def pytest_unconfigure(config):
    lock = config.stash.get(_RUN_LOCK, None)
    if lock is not None:
        lock.close()


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, request):
    """Test databases named for this run (after the worker's suffix): two runs at once never share one.
    Under `--reuse-db` (no run id) the fixed names, each fitted in PostgreSQL's 63 bytes all the same."""
    from django.conf import settings

    run_databases.name_test_databases_for_run(settings.DATABASES, request.config.stash.get(_RUN_ID, None))


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's test databases, and before it drops them, on PostgreSQL: no session of another
    connection may be left on them. One left makes the drop fail (pytest-django says so in one line and
    leaves the database behind); this names it instead: its application, state and last query."""
    yield
    with django_db_blocker.unblock():
        left = sessions_left_on_test_databases()
    if left:
        warnings.warn(pytest.PytestWarning("\n".join(left)), stacklevel=1)


def sessions_left_on_test_databases() -> list[str]:
    """Other sessions on this process's PostgreSQL test databases once its own connections are closed
    (they are ended, so that the databases can be dropped), one line each."""
    from django.db import connections

    found = []
    for database in connections.all(initialized_only=True):
        if database.vendor != "postgresql":
            continue
        database.close()
        database.close_pool()  # the idle pooled connections: this process's own
        found += _other_sessions(database.settings_dict)
    return found


def _other_sessions(settings_dict, wait_s=5.0):
    """Sessions on the database other than this one's, after waiting up to `wait_s` for those ending (a
    closed connection's server process takes a moment to go); the ones still there are terminated."""
    import time

    import psycopg

    name = settings_dict["NAME"]
    params = {
        "host": settings_dict["HOST"], "port": settings_dict["PORT"] or None, "user": settings_dict["USER"],
        "password": settings_dict["PASSWORD"] or None, "dbname": "postgres",
    }  # fmt: skip
    query = (
        "SELECT pid, application_name, state, backend_start, left(query, 300) FROM pg_stat_activity "
        "WHERE datname = %s AND pid <> pg_backend_pid()"
    )
    with psycopg.connect(**{k: v for k, v in params.items() if v is not None}, autocommit=True) as admin:
        deadline = time.monotonic() + wait_s
        while (rows := admin.execute(query, [name]).fetchall()) and time.monotonic() < deadline:
            time.sleep(0.1)
        for pid, *_ in rows:
            admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    return [
        f"A session was left on the test database {name}: pid {pid}, application {application!r}, "
        f"{state}, since {started:%H:%M:%S}, last query: {last!r}"
        for pid, application, state, started, last in rows
    ]


@pytest.fixture(autouse=True)
def _pooled_connections_given_back(request):
    """On PostgreSQL: after each test, every connection taken from this process's pool is back in it, but
    the test thread's own. One still out after the test (a thread's connection never closed, a wrapper
    dropped in a reference cycle) is a session on the test database that outlives its test, and at the
    end of the run one that stops pytest-django from dropping the database; this names the test that
    left it. Nothing is asked of the database: the pool counts its connections. Only what this test adds
    counts: one left by an earlier test was named there, and waiting on it after every later test would
    add 10 s to each."""
    before = connections_out_of_the_pool()
    yield
    out = connections_out_of_the_pool()
    if out <= before:
        return
    import gc
    import threading
    import time

    deadline = time.monotonic() + 10  # another thread (the live server's) may be ending its request
    while (out := connections_out_of_the_pool()) > before and time.monotonic() < deadline:
        time.sleep(0.05)
    if out <= before:
        return
    gc.collect()
    freed = connections_out_of_the_pool() <= before
    out -= before
    threads = sorted(thread.name for thread in threading.enumerate())
    how = "given back by the garbage collector" if freed else "still out"
    warnings.warn(
        pytest.PytestWarning(
            f"{request.node.nodeid} left {out} pooled connection(s) taken by another thread or dropped "
            f"without close ({how}); threads: {threads}"
        ),
        stacklevel=1,
    )


def connections_out_of_the_pool() -> int:
    """Connections of this process's PostgreSQL pools taken and not given back, but this thread's own."""
    from django.db import connections

    out = 0
    for database in connections.all(initialized_only=True):
        pool = getattr(database, "_connection_pools", {}).get(database.alias)
        if pool is None:
            continue
        stats = pool.get_stats()
        out += stats["pool_size"] - stats["pool_available"] - (database.connection is not None)
    return out


@pytest.fixture
def today(monkeypatch):
    """Today's local date, held for the whole test: the code under test and the test each read it once
    (an export's file name carries it), and a run that passes midnight between the two reads saw two days.
    `timezone.localdate()` answers this date; asked about a given moment, it still converts that one."""
    from django.utils import timezone

    day, real = timezone.localdate(), timezone.localdate

    def held(value=None, timezone=None):
        return day if value is None else real(value, timezone)

    monkeypatch.setattr(timezone, "localdate", held)
    return day


@pytest.fixture(autouse=True)
def _fresh_suggestion_caches():
    """Every cache of the suggestion code that a test could inherit from the one before it in this
    process (merges, fingerprints, KB types and link candidates, pipelines with a project's gazetteer,
    what was read from pipeline directories) starts empty: ids repeat or shift from test to test, and
    a merge is reused for a minute. `tests/process_caches.py` lists them; a test there fails on a new
    cache listed nowhere."""
    clear_state_caches()


@pytest.fixture(autouse=True)
def _fresh_api_tokens():
    """A process reuses a token it read for a few seconds; tests change tokens behind its back."""
    from annotator.api.tokens import forget_tokens

    forget_tokens()


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """API rate-limit counts live in the process (or a shared cache), keyed by token and user ids that
    tests reuse: start empty."""
    from django.core.cache import cache

    from annotator.api.throttles import forget_counts

    cache.clear()
    forget_counts()
