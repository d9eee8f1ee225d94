"""The database side of the hot requests: prepared statements keep one plan, whatever the statistics say."""

import pytest
from django.db import connection

import annotator.settings as annotator_settings
from annotator.core.sessions import _session

POSTGRES = connection.vendor == "postgresql"


def test_connections_force_generic_plans_only_when_statements_are_prepared(monkeypatch):
    monkeypatch.delenv("ANNOTATOR_DB_JIT", raising=False)
    monkeypatch.setattr(annotator_settings, "ANNOTATOR_DB_PREPARED", True)
    assert annotator_settings._session_options() == "-c jit=off -c plan_cache_mode=force_generic_plan"
    monkeypatch.setattr(annotator_settings, "ANNOTATOR_DB_PREPARED", False)
    assert annotator_settings._session_options() == "-c jit=off"
    monkeypatch.setenv("ANNOTATOR_DB_JIT", "true")
    assert annotator_settings._session_options() == ""


def _plans(sql: str) -> tuple[int, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement = %s", [sql]
        )
        return cursor.fetchone()


@pytest.mark.skipif(not POSTGRES, reason="needs PostgreSQL: prepared statements and plan caching")
@pytest.mark.django_db
def test_a_prepared_statement_is_planned_once_after_analyze(news, client):
    # The statistics autovacuum gathers as tables grow: with them, PostgreSQL's default (plan_cache_mode =
    # auto) planned the annotate page's largest statements again on every run, for their values.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE django_session")
        cursor.execute("SHOW plan_cache_mode")
        assert cursor.fetchone() == ("force_generic_plan",)
    client.force_login(news.annotator)
    key = client.cookies["sessionid"].value  # not client.session: that reads the row
    sql = _session.sql().replace("%s", "$1")
    generic, _ = _plans(sql) or (0, 0)  # the sign-in may have read the row already
    for _ in range(7):
        assert [row.session_key for row in _session(session_key=key)] == [key]
    # Seven more runs, seven with the one generic plan, and never a plan for the values. PostgreSQL's default
    # plans for the values the first five times per connection, and then on every run whenever the
    # statistics price the generic plan higher (as they did the annotate page's spans and suggestions).
    assert _plans(sql) == (generic + 7, 0)


class _Sent:
    """Each statement a request sends, with whether a transaction was open when it went (psycopg sends a
    BEGIN before the first statement of one; Django's savepoints are statements of their own)."""

    def __init__(self) -> None:
        self.statements: list[tuple[str, bool]] = []

    def __call__(self, execute, sql, params, many, context):
        self.statements.append((sql.split(None, 1)[0].upper(), not connection.get_autocommit()))
        return execute(sql, params, many, context)


def _sent_by(send) -> list[tuple[str, bool]]:
    sent = _Sent()
    with connection.execute_wrapper(sent):
        response = send()
    assert response.status_code in (200, 201), response.content
    return sent.statements


@pytest.mark.django_db(transaction=True)
def test_the_reviewers_requests_open_no_transaction_and_no_savepoint_on_postgresql(news, client, settings):
    """The mix of bench/load.py, statement by statement: each runs alone in autocommit on PostgreSQL (no BEGIN,
    COMMIT, SAVEPOINT or SET round trips). SQLite checks a write's conditions in statements of their own,
    in one transaction (no savepoint)."""
    from django.urls import reverse

    from annotator.api.tokens import create_token
    from annotator.suggestions.models import SuggesterVersion, Suggestion, SuggestionKind

    settings.ANNOTATOR_TOKEN_CACHE_SECONDS = 600
    token = create_token(user=news.annotator, name="mix", scope="write")[1]
    version = SuggesterVersion.objects.create(project=news.project, name="t", kind="rules", version="1")
    suggestion = Suggestion.objects.create(
        article=news.article, suggester_version=version, start=25, end=30, kind=SuggestionKind.ENTITY,
        entity_type=news.gpe, score=0.9, source="t",
    )  # fmt: skip
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    set_id = news.annotation_set.pk

    def write(name, body, version):
        return lambda: client.post(reverse(name, args=[set_id]), body, content_type="application/json",
                                   HTTP_IF_MATCH=f'"{version}"', **bearer)  # fmt: skip

    who = lambda: client.get(reverse("api:account"), **bearer)  # noqa: E731
    listed = lambda: client.get(reverse("api:article-list", args=[news.project.pk]), **bearer)  # noqa: E731
    span = write("api:set-spans", {"start": 0, "end": 16, "type": "PERSON"}, 1)
    accept = write("api:set-decisions", {"suggestion": suggestion.pk, "verdict": "accepted"}, 2)
    who()  # the token read once, as a busy client's process has it
    mix = {"me": _sent_by(who), "list": _sent_by(listed), "span": _sent_by(span), "accept": _sent_by(accept)}
    client.force_login(news.annotator)
    page = lambda: client.get(reverse("review:annotate", args=[news.article.pk]))  # noqa: E731
    page()  # the freshness check's state, read once per window
    mix["page"] = _sent_by(page)

    if POSTGRES:
        assert mix == {
            "me": [("SELECT", False)],
            "list": [("WITH", False)],  # access, backlog count and rows in one (i28writes)
            # One statement each: the set's read, its checks and the write (i28writes' fold).
            "span": [("WITH", False)],
            "accept": [("WITH", False)],
            # session, user, the set with its types and counts (i29page), the spans UNION ALL the suggestions
            "page": [("SELECT", False)] * 3 + [("(SELECT", False)],
        }
    else:
        # BEGIN IMMEDIATE as a statement of Django's; the COMMIT goes through the driver (not logged here).
        in_one = [("BEGIN", False), ("UPDATE", True), ("INSERT", True)]
        assert mix == {
            "me": [("SELECT", False)],
            "list": [("SELECT", False)] * 2,
            "span": [("SELECT", False), *in_one, ("INSERT", True)],
            "accept": [("SELECT", False), *in_one, *[("INSERT", True)] * 3],
            "page": [("SELECT", False)] * 4,
        }


def _indexes(table: str) -> dict[str, tuple[str, ...]]:
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, table)
    return {
        name: tuple(c["columns"])
        for name, c in found.items()
        if (c["index"] or c["unique"]) and not c["primary_key"]
    }


@pytest.mark.django_db
def test_a_decision_and_its_history_row_update_only_the_indexes_something_reads():
    # Each index is a B-tree insertion and a WAL record per accepted or rejected suggestion. The history is
    # read by set (the article's history page, re-queueing), by decision (the admin) and by its own key.
    assert _indexes("suggestions_decision") == {
        "one_decision_per_set": ("suggestion_id", "annotation_set_id"),  # also finds a suggestion's decisions
        "suggestions_decision_annotation_set_id_0f385bd3": ("annotation_set_id",),
        "suggestions_decision_decided_by_id_0c3bae3c": ("decided_by_id",),
        "suggestions_decision_link_id_dc82f638": ("link_id",),
        "suggestions_decision_relation_id_7c4b8278": ("relation_id",),
        "suggestions_decision_span_id_8021f9fe": ("span_id",),
    }
    assert _indexes("suggestions_historicaldecision") == {
        "suggestions_historicaldecision_annotation_set_id_381dd9fd": ("annotation_set_id",),
        "suggestions_historicaldecision_id_d2e114dc": ("id",),
    }


@pytest.mark.django_db
def test_a_decision_history_without_those_indexes_still_records_and_follows_its_decider(news):
    from annotator.suggestions.models import Decision, SuggesterVersion, Suggestion, SuggestionKind
    from annotator.suggestions.services import accept_suggestion

    version = SuggesterVersion.objects.create(project=news.project, name="t", kind="rules", version="1")
    suggestion = Suggestion.objects.create(
        article=news.article, suggester_version=version, start=25, end=30, kind=SuggestionKind.ENTITY,
        entity_type=news.gpe, score=0.9, source="t",
    )  # fmt: skip
    decision = accept_suggestion(
        suggestion=suggestion, annotation_set=news.annotation_set, by=news.manager, expected_version=1
    )
    history = Decision.history.model.objects.filter(annotation_set_id=news.annotation_set.pk)
    row = ("accepted", "+", suggestion.pk, decision.span_id, news.manager.pk, news.manager.pk)
    fields = ("verdict", "history_type", "suggestion_id", "span_id", "decided_by_id", "history_user_id")
    assert list(history.values_list(*fields)) == [row]
    assert list(Decision.objects.filter(suggestion=suggestion).values_list("pk", flat=True)) == [decision.pk]
    # The author's column has no index now: deleting the user still sets it to NULL (Django's SET_NULL); the
    # decider's copy in the history is a plain column, kept as it was.
    news.manager.delete()
    assert list(history.values_list(*fields)) == [(*row[:5], None)]
