"""Who am I (`GET /api/v1/account`) answers as DRF's Response rendered by the JSON renderer did, byte for
byte, though it now reads its rows on a prepared cursor and renders its JSON in the view
(annotator/api/accounts.py)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.response import Response

from annotator.api import accounts
from annotator.api.tokens import create_token, forget_tokens
from annotator.projects.models import Membership, Project, Role
from tests.unit.test_i28stack_stack import apps, call  # noqa: F401  (the fixture, and one WSGI request)

pytestmark = pytest.mark.django_db

HOSTILE = 'Zoë "Z" </script> \u2028\u2029 \\ \x07 👩\u200d🔬 שלום'


@pytest.fixture
def hostile_account(news):
    user = news.annotator
    user.first_name, user.last_name, user.email, user.is_staff = HOSTILE, "O'Neil", "zoe@example.org", True
    user.save()
    for name, role in [
        ("Ärzte \u2028 ohne", Role.CURATOR),
        ("aardvark", Role.MANAGER),
        ('"quoted"', Role.ANNOTATOR),
    ]:
        Membership.objects.create(
            project=Project.objects.create(name=name, slug=name[:3] + "x"), user=user, role=role
        )
    return user


def answers(ours, monkeypatch, secret, **headers):
    """The app's answer, then the same request answered by DRF's Response (the view's former ending)."""
    token = {"HTTP_AUTHORIZATION": f"Bearer {secret}", **headers}
    mine = call(ours, "GET", "/api/v1/account", **token)
    monkeypatch.setattr(accounts, "answer_in_json", lambda request, data: Response(data))
    theirs = call(ours, "GET", "/api/v1/account", **token)
    monkeypatch.undo()
    return mine, theirs


@pytest.mark.parametrize(
    "accept",
    [{}, {"HTTP_ACCEPT": "*/*"}, {"HTTP_ACCEPT": "application/json"}, {"HTTP_ACCEPT": "application/json; indent=4"},
     {"HTTP_ACCEPT": "text/html, application/json;q=0.9"}, {"HTTP_ACCEPT": "application/xml"}],
)  # fmt: skip
def test_the_account_answers_as_drf_s_response_did(apps, monkeypatch, hostile_account, accept):  # noqa: F811
    ours, _ = apps
    secret = create_token(user=hostile_account, name="script", scope="read")[1]
    call(ours, "GET", "/api/v1/account", HTTP_AUTHORIZATION=f"Bearer {secret}")  # last use written
    mine, theirs = answers(ours, monkeypatch, secret, **accept)
    assert mine == theirs
    if accept.get("HTTP_ACCEPT") == "application/xml":
        assert mine[0] == 406
        return
    status, headers, body, queries = mine
    assert (status, queries) == (200, 1)
    assert ("Content-Type", "application/json") in headers
    if "indent" not in accept.get("HTTP_ACCEPT", ""):
        written = {
            '"quoted"': '\\"quoted\\"',
            "aardvark": "aardvark",
            "News": "News",
            "Ärzte \u2028 ohne": "Ärzte \\u2028 ohne",
        }
        projects = ",".join(
            f'{{"id":{row["project_id"]},"name":"{written[row["project__name"]]}","role":"{row["role"]}"}}'
            for row in accounts._memberships(user_id=hostile_account.pk)
        )  # in the database's order of names (its collation)
        assert (
            body
            == (
                f'{{"id":{hostile_account.pk},"username":"alice","full_name":"Zoë \\"Z\\" </script> \\u2028\\u2029 '
                f'\\\\ \\u0007 👩\u200d🔬 שלום O\'Neil","email":"zoe@example.org",'
                f'"is_staff":true,"projects":[{projects}]}}'
            ).encode()
        )


def test_refusals_and_a_session_answer_as_before(apps, monkeypatch, news, client):  # noqa: F811
    ours, _ = apps
    forget_tokens()
    for headers in ({"HTTP_AUTHORIZATION": "Bearer ann_nope"}, {}):
        mine = call(ours, "GET", "/api/v1/account", **headers)
        monkeypatch.setattr(accounts, "answer_in_json", lambda request, data: Response(data))
        assert call(ours, "GET", "/api/v1/account", **headers) == mine
        monkeypatch.undo()
        assert mine[0] == 401
    client.force_login(news.annotator)
    answer = client.get("/api/v1/account")
    assert answer.status_code == 200
    assert answer.data == answer.json()  # the rendered data, as DRF's answers carry it
    assert answer.json()["projects"] == [{"id": news.project.pk, "name": "News", "role": "annotator"}]


def test_the_projects_are_the_compiled_query_s_rows_in_its_order(hostile_account):
    rows = [
        {"id": row["project_id"], "name": row["project__name"], "role": row["role"]}
        for row in accounts._memberships(user_id=hostile_account.pk)
    ]
    with CaptureQueriesContext(connection) as queries:
        assert accounts.projects_of(hostile_account.pk) == rows
    assert len(queries) == 1
    assert len(rows) == 4
    assert accounts.projects_of(hostile_account.pk + 1000) == []
