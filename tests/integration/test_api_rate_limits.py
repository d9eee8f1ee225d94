"""API rate limits: one budget per token (or user) for reads, writes, suggestions and exports; 429 with Retry-After."""

import time

import pytest
from django.conf import settings as django_settings
from django.urls import reverse
from drf_spectacular.generators import SchemaGenerator

from annotator.api.tokens import create_token

pytestmark = pytest.mark.django_db

DEFAULT_RATES = {"read": "1200/minute", "write": "300/minute", "suggest": "60/minute", "export": "60/hour"}


@pytest.fixture
def rates(settings):
    """Set the rates of some scopes (the others keep their defaults)."""

    def set_rates(**changed):
        settings.REST_FRAMEWORK = {
            **django_settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {**DEFAULT_RATES, **changed},
        }

    return set_rates


def bearer(secret):
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def test_the_default_rates(settings):
    assert settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] == DEFAULT_RATES
    assert settings.REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] == ["annotator.api.throttles.ApiRateThrottle"]


def test_reads_past_the_rate_answer_429_with_retry_after_in_the_error_shape(client, news, rates):
    rates(read="3/minute")
    token = bearer(create_token(user=news.annotator, name="reader")[1])
    url = reverse("api:project-list")
    assert [client.get(url, **token).status_code for _ in range(3)] == [200, 200, 200]
    refused = client.get(url, **token)
    assert refused.status_code == 429
    wait = int(refused["Retry-After"])
    assert 55 <= wait <= 60
    assert refused.json() == {
        "error": {
            "code": "throttled",
            "message": f"Too many reads from this token (at most 3/minute). Try again in {wait} seconds.",
            "fields": {},
            "retry_after": wait,
        }
    }


def test_each_token_and_each_session_user_has_its_own_budget(client, news, rates):
    rates(read="1/minute")
    url = reverse("api:project-list")
    first = bearer(create_token(user=news.annotator, name="one")[1])
    second = bearer(create_token(user=news.annotator, name="two")[1])
    assert client.get(url, **first).status_code == 200
    assert client.get(url, **first).status_code == 429
    assert client.get(url, **second).status_code == 200
    client.force_login(news.annotator)
    assert client.get(url).status_code == 200
    refused = client.get(url)
    assert refused.status_code == 429
    assert refused.json()["error"]["message"].startswith("Too many reads from you (at most 1/minute).")
    client.force_login(news.manager)
    assert client.get(url).status_code == 200


def test_writes_have_their_own_budget(client, news, rates):
    rates(read="1/minute", write="2/minute")
    token = bearer(create_token(user=news.annotator, name="writer", scope="write")[1])
    url = reverse("api:set-spans", args=[news.annotation_set.pk])
    assert client.get(reverse("api:project-list"), **token).status_code == 200
    assert client.get(reverse("api:project-list"), **token).status_code == 429
    # Reads are used up; writes are not (an empty body is refused by the view, and still counts).
    answers = [client.post(url, {}, content_type="application/json", **token).status_code for _ in range(3)]
    assert answers == [400, 400, 429]


def test_suggestions_have_their_own_budget(client, news, rates):
    rates(suggest="2/minute")
    token = bearer(create_token(user=news.annotator, name="suggester", scope="write")[1])
    url = reverse("api:suggest")
    # Invalid bodies: the view refuses them at once, but each call counts against the budget.
    answers = [client.post(url, {}, content_type="application/json", **token) for _ in range(3)]
    assert [a.status_code for a in answers] == [400, 400, 429]
    assert answers[2].json()["error"]["message"].startswith("Too many suggestion requests from this token")
    assert client.get(reverse("api:project-list"), **token).status_code == 200


def test_exports_have_their_own_budget_counted_per_hour(client, news, rates):
    rates(export="1/hour")
    token = bearer(create_token(user=news.manager, name="exporter")[1])
    export = reverse("api:project-export", args=[news.project.pk])
    assert client.get(export, {"format": "jsonl"}, **token).status_code == 200
    refused = client.get(export, {"format": "jsonl"}, **token)
    assert refused.status_code == 429
    assert 3590 <= int(refused["Retry-After"]) <= 3600
    assert refused.json()["error"]["message"].startswith("Too many exports from this token (at most 1/hour).")
    # Starting an export job is an export too; listing jobs is a read.
    jobs = reverse("api:project-exports", args=[news.project.pk])
    assert client.post(jobs, {"format": "jsonl"}, content_type="application/json", **token).status_code == 429
    assert client.get(reverse("api:project-list"), **token).status_code == 200


def test_anonymous_calls_count_per_address(client, db, rates):
    rates(read="1/minute")
    schema = reverse("api:schema")
    assert client.get(schema, REMOTE_ADDR="10.0.0.1").status_code == 200
    assert client.get(schema, REMOTE_ADDR="10.0.0.1").status_code == 429
    assert client.get(schema, REMOTE_ADDR="10.0.0.2").status_code == 200


def test_every_operation_documents_429_with_retry_after():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = [op for item in schema["paths"].values() for op in item.values() if isinstance(op, dict)]
    assert len(operations) > 50
    for operation in operations:
        refused = operation["responses"]["429"]
        assert refused["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
        assert refused["headers"]["Retry-After"]["schema"] == {"type": "integer"}


@pytest.fixture
def clock(monkeypatch):
    """The throttle's clock, moved by the test: [seconds]."""
    from annotator.api.throttles import ApiRateThrottle

    now = [time.time()]
    monkeypatch.setattr(ApiRateThrottle, "timer", staticmethod(lambda: now[0]))
    return now


@pytest.fixture(params=["process", "shared"])
def counts_kept(request, settings, tmp_path):
    """Where the counts live: the process (the default cache, each process's memory) or a shared cache."""
    if request.param == "shared":
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                "LOCATION": tmp_path,
            }
        }
    return request.param


def test_a_window_opens_with_the_first_call_and_retry_after_is_the_time_to_its_end(
    client, news, rates, clock, counts_kept
):
    rates(read="3/minute")
    token = bearer(create_token(user=news.annotator, name="reader")[1])
    url = reverse("api:project-list")
    opened = clock[0]

    def call_at(seconds):
        clock[0] = opened + seconds
        response = client.get(url, **token)
        return response.status_code, response.get("Retry-After")

    assert [call_at(0), call_at(1), call_at(2)] == [(200, None)] * 3
    assert call_at(10) == (429, "50")
    assert client.get(url, **token).json()["error"] == {
        "code": "throttled",
        "message": "Too many reads from this token (at most 3/minute). Try again in 50 seconds.",
        "fields": {},
        "retry_after": 50,
    }
    # A refused call is not counted and does not move the window's end; a part of a second is waited whole.
    assert call_at(59.5) == (429, "1")
    # The next call after the end opens a new window of three.
    assert [call_at(60), call_at(61), call_at(62), call_at(63)] == [(200, None)] * 3 + [(429, "57")]


def test_a_process_drops_the_counts_of_closed_windows_when_it_holds_many(monkeypatch):
    from annotator.api import throttles

    monkeypatch.setattr(throttles, "_PRUNE_AT", 2)
    windows = throttles.Windows()
    assert windows.hit("a", 1, 60, now=1000.0) is None
    assert windows.hit("b", 1, 60, now=1030.0) is None
    assert windows.hit("a", 1, 60, now=1050.0) == 10.0
    # At 1065 a's window has closed: a third caller makes room by dropping it, b's stays.
    assert windows.hit("c", 1, 60, now=1065.0) is None
    assert windows._counts == {"b": [1090.0, 1], "c": [1125.0, 1]}
    assert windows.hit("b", 1, 60, now=1066.0) == 24.0
