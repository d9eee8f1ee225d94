"""API fuzzing: schemathesis generates requests from the schema the app serves, for every operation, as a
manager's and as an annotator's write token: no answer is a 5xx, and every answer conforms to the schema
(status code documented, content type, body shape).

The app is called in-process through WSGI on the test database, so that it runs in CI in about a minute;
path ids point at the news project's objects most of the time (random ids only ever meet a 404).
"""

import os

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from annotator.api.models import Scope
from annotator.api.tokens import create_token
from annotator.wsgi import application
from tests.integration.test_access import member_objects, member_token

pytestmark = pytest.mark.django_db

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "12"))  # per operation and token: half a minute in all

# Numbers past what the schema's integers (and the database's) hold, a negative one and a string: the
# generated requests carry them in place of their integers about half the time.
HOSTILE_NUMBERS = [2**31, 2**53, 2**63, 2**64, -1, "0"]


@pytest.fixture(autouse=True)
def _no_rate_limits(settings):
    """The fuzzer sends hundreds of calls a minute with one token; the rate limits have tests of their own
    (test_api_rate_limits.py), and every operation documents its 429 anyway."""
    rates = dict.fromkeys(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"])
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}


@pytest.fixture
def in_process_app():
    """The WSGI app on the test's transaction: like Django's test client, keep each request from closing
    the connection (which would end the transaction the test's data lives in)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield application
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def real_ids(news):
    """Path parameters that name the news project's objects."""
    head, _, relation, decision = member_objects(news)
    return {
        "project_id": news.project.pk,
        "article_id": news.article.pk,
        "entity_id": news.naryshkin.pk,
        "job_id": None,
        "suggester_id": None,
        "id": {
            "/projects/": news.project.pk,
            "/articles/": news.article.pk,
            "/sets/": news.annotation_set.pk,
            "/spans/": head.pk,
            "/relations/": relation.pk,
            "/decisions/": decision.pk,
            "/tokens/": member_token(news).pk,
        },
    }


def point_at_real_objects(case, ids, path):
    for name in list(case.path_parameters or {}):
        value = ids.get(name)
        if isinstance(value, dict):
            value = next((pk for prefix, pk in value.items() if path.startswith(f"/api/v1{prefix}")), None)
        if value is not None:
            case.path_parameters[name] = value


def with_hostile_numbers(case, number):
    """Every integer of the body, the query and the path becomes `number` (ids as much as offsets)."""

    def swap(value):
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            return number
        if isinstance(value, list):
            return [swap(item) for item in value]
        if isinstance(value, dict):
            return {key: swap(item) for key, item in value.items()}
        return value

    if isinstance(case.body, dict | list):
        case.body = swap(case.body)
    for part in ("query", "path_parameters"):
        if getattr(case, part):
            setattr(case, part, swap(getattr(case, part)))


def fuzzer(operation, ids, token):
    """A Hypothesis test of one operation: generated requests, most of them at real objects."""

    @settings(
        max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
        suppress_health_check=list(HealthCheck),
    )  # fmt: skip
    @given(
        case=operation.as_strategy(),
        real=st.booleans() | st.just(True),
        hostile=st.none() | st.sampled_from(HOSTILE_NUMBERS),
    )
    def fuzz(case, real, hostile):
        if real:
            point_at_real_objects(case, ids, operation.path)
        if hostile is not None:
            with_hostile_numbers(case, hostile)
        response = case.call(headers={"Authorization": f"Bearer {token}"})
        case.validate_response(response, checks=CHECKS)

    return fuzz


@pytest.mark.parametrize("role", ["manager", "annotator"])
def test_every_api_operation_answers_within_its_schema_and_never_with_a_5xx(in_process_app, news, role):
    ids = real_ids(news)  # before the fuzzing token: DELETE /tokens/{id}/ must not revoke the one in use
    user = news.manager if role == "manager" else news.annotator
    token = create_token(user=user, name="fuzz", scope=Scope.WRITE)[1]
    schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", in_process_app)
    failures, tried = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        try:
            fuzzer(operation, ids, token)()
        except (Exception, BaseExceptionGroup) as failure:  # every operation's failures, reported together
            failures.append(f"{operation.method.upper()} {operation.path}: {failure}")
        tried += 1
    assert tried >= 38
    if failures:
        pytest.fail("\n\n".join(failures), pytrace=False)


# What the fuzzing found, pinned.


def test_ids_too_big_for_the_database_are_refused_not_a_500(client, news):
    client.force_login(news.manager)
    huge = 2**70
    response = client.post(
        f"/api/v1/projects/{news.project.pk}/preannotate",
        {"article_ids": [huge]},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "article_ids[0]": ["Ensure this value is less than or equal to 9223372036854775807."]
    }
    response = client.post("/api/v1/tokens/", {"name": "x", "project": huge}, content_type="application/json")
    assert response.status_code == 404


def test_an_api_url_no_route_matches_answers_json_and_pages_keep_their_html_404(client, news):
    client.force_login(news.annotator)
    response = client.get("/api/v1/articles/-5/suggestions")
    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "not_found", "message": "No such API endpoint or object.", "fields": {}}
    }
    page = client.get("/articles/-5/")
    assert page.status_code == 404
    assert page["Content-Type"].startswith("text/html")


def test_an_unhandled_api_error_answers_json_without_a_traceback(news, settings):
    from django.test import Client

    settings.DEBUG = False
    client = Client(raise_request_exception=False)
    client.force_login(news.annotator)
    from unittest import mock

    with mock.patch(
        "annotator.api.views.ProjectList.get_queryset", side_effect=RuntimeError("secret detail")
    ):
        response = client.get("/api/v1/projects/")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "server_error"
    assert b"secret detail" not in response.content
    assert b"Traceback" not in response.content


def test_updated_since_with_an_offset_the_database_refuses_is_converted_or_refused(client, news):
    client.force_login(news.annotator)
    url = f"/api/v1/projects/{news.project.pk}/articles/"
    far = client.get(url, {"updated_since": "0118-06-02T01:10:56.68867-22:52"})
    assert (far.status_code, [a["id"] for a in far.json()["results"]]) == (200, [news.article.pk])
    late = client.get(url, {"updated_since": "9999-12-31T23:00:00-22:00"})
    assert late.status_code == 400
    assert late.json()["error"]["fields"] == {
        "updated_since": ["'9999-12-31T23:00:00-22:00' is not an ISO 8601 date and time."]
    }
    assert client.get(url, {"ids": "9" * 19}).status_code == 400
