"""The leaner request stack answers every request as Django's own stack does.

The app's WSGI handler remembers each path's match (core/resolving.py); its session middleware answers an
untouched session at once (core/sessions.py); its CommonMiddleware remembers the Host headers that passed
(core/hosts.py); the request id and the policy header are stored without Django's per-response checks
(core/middleware.py). Each request below goes through the app's handler and stack and through Django's
plain handler with Django's own middleware in their places: same status, same headers in the same order,
same body (the request id and the random CSRF and session values aside), same queries.
"""

from __future__ import annotations

import io
import re
import sys
from typing import Any

import pytest
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection
from django.http import HttpResponse
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import Resolver404, ResolverMatch, reverse

from annotator.api.tokens import create_token, forget_tokens
from annotator.core import hosts, resolving
from annotator.core.handler import AnnotatorWSGIHandler
from annotator.core.middleware import POLICY
from annotator.core.sessions import SessionStore

pytestmark = pytest.mark.django_db


class ReferencePolicyMiddleware:
    """The policy header set as Django's API sets it, for the reference stack."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", POLICY)
        return response


class ReferenceRequestIdMiddleware:
    """The request id set as Django's API sets it (a fixed id: the real one is random)."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> HttpResponse:
        request.request_id = "0" * 32
        response = self.get_response(request)
        response["X-Request-ID"] = "0" * 32
        return response


DJANGO_IN_PLACE_OF_OURS = {
    "annotator.core.middleware.RequestIdMiddleware": f"{__name__}.ReferenceRequestIdMiddleware",
    "annotator.core.sessions.SessionMiddleware": "django.contrib.sessions.middleware.SessionMiddleware",
    "annotator.core.hosts.CommonMiddleware": "django.middleware.common.CommonMiddleware",
    "annotator.core.middleware.ContentSecurityPolicyMiddleware": f"{__name__}.ReferencePolicyMiddleware",
}


@pytest.fixture
def apps(settings):
    """(the app's handler and stack, Django's handler and stack), on the test's transaction."""
    rates = dict.fromkeys(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"])
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    forget_tokens()
    resolving.forget_paths()
    hosts._passed.clear()
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    ours = AnnotatorWSGIHandler()
    with override_settings(MIDDLEWARE=[DJANGO_IN_PLACE_OF_OURS.get(m, m) for m in settings.MIDDLEWARE]):
        django = WSGIHandler()
    yield ours, django
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def call(app: Any, method: str, path: str, body: bytes = b"", **headers: str) -> tuple[int, list, bytes, int]:
    """Status, headers (random values masked), body and the number of queries of one WSGI request."""
    environ = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "", "SCRIPT_NAME": "",
        "SERVER_NAME": "testserver", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "testserver", "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr, "CONTENT_LENGTH": str(len(body)),
        **headers,
    }  # fmt: skip
    answer: list[Any] = []
    with CaptureQueriesContext(connection) as queries:
        response = app(environ, lambda status, headers, exc_info=None: answer.extend([status, headers]))
        content = b"".join(response)
        response.close()
    return (
        int(answer[0].split()[0]),
        [_masked(name, value) for name, value in answer[1]],
        content,
        len(queries),
    )


def _masked(name: str, value: str) -> tuple[str, str]:
    if name == "X-Request-ID":
        return name, "<id>"
    if name == "Set-Cookie":
        value = re.sub(r"^( ?\w+)=[^;]*;", r"\1=<value>;", value)
        # A cookie's expiry is a clock reading: the two stacks' answers may straddle a second.
        return name, re.sub(r"expires=(?!Thu, 01 Jan 1970)[^;]*;", "expires=<date>;", value)
    return name, value


def same(ours: Any, django: Any, method: str, path: str, body: bytes = b"", **headers: str) -> tuple:
    """The request's answer from the app's stack, after checking Django's stack gives the same one."""
    mine = call(ours, method, path, body, **headers)
    theirs = call(django, method, path, body, **headers)
    if mine[1] and "text/html" in dict(mine[1]).get("Content-Type", ""):
        # Pages carry a masked CSRF token, different on every answer.
        mine, theirs = _unmasked_page(mine), _unmasked_page(theirs)
    assert mine == theirs
    return mine


def _unmasked_page(answer: tuple) -> tuple:
    status, headers, body, queries = answer
    body = re.sub(rb'(csrfmiddlewaretoken" value="|X-CSRFToken": ")[A-Za-z0-9]+', rb"\1<token>", body)
    return status, headers, body, queries


@pytest.fixture
def secret(news):
    return create_token(user=news.annotator, name="script", scope="write")[1]


def session_cookie(user: Any) -> str:
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return f"sessionid={session.session_key}"


def test_api_calls_answer_as_django_s_stack_does(apps, news, secret):
    ours, django = apps
    token = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    call(
        django, "GET", "/api/v1/account", **token
    )  # the token read and its last use written, for both stacks
    for _ in range(2):  # the second time from the memos
        status, headers, _, queries = same(ours, django, "GET", "/api/v1/account", **token)
        assert (status, queries) == (200, 1)
        assert [name for name, _ in headers] == [
            "Content-Type", "Allow", "Content-Security-Policy", "X-Frame-Options", "Content-Length",
            "X-Content-Type-Options", "Referrer-Policy", "Cross-Origin-Opener-Policy", "X-Request-ID",
        ]  # fmt: skip
        assert dict(headers)["Content-Security-Policy"] == POLICY
        same(ours, django, "GET", "/api/v1/account/", **token)  # the other form of the path
        same(ours, django, "GET", reverse("api:article-list", args=[news.project.pk]), **token)
        assert same(ours, django, "GET", "/healthz")[2] == b'{"status": "ok", "database": "up"}'


def test_refusals_answer_as_django_s_stack_does(apps, news, secret):
    ours, django = apps
    call(django, "GET", "/api/v1/account", HTTP_AUTHORIZATION=f"Bearer {secret}")  # the token remembered
    for _ in range(2):
        unknown = same(ours, django, "GET", "/api/v1/account", HTTP_AUTHORIZATION="Bearer ann_nope")
        assert (unknown[0], b"This token is not valid." in unknown[2]) == (401, True)
        assert same(ours, django, "GET", "/api/v1/account")[0] == 401
        assert same(ours, django, "GET", "/api/v1/no-such-thing")[0] == 404
        assert same(ours, django, "GET", "/no-such-page")[0] == 404
        stale = same(
            ours, django, "POST", reverse("api:set-spans", args=[news.annotation_set.pk]),
            b'{"start": 0, "end": 6, "type": "PERSON"}', CONTENT_TYPE="application/json",
            HTTP_IF_MATCH='"7"', HTTP_AUTHORIZATION=f"Bearer {secret}",
        )  # fmt: skip
        assert stale[0] == 412


def test_pages_and_sessions_answer_as_django_s_stack_does(apps, news):
    ours, django = apps
    page = reverse("review:annotate", args=[news.article.pk])
    signed_in = session_cookie(news.annotator)
    for _ in range(2):
        status, headers, _, _ = same(ours, django, "GET", page, HTTP_COOKIE=signed_in)
        assert status == 200
        assert ("Vary", "Cookie") in headers or any(n == "Vary" and "Cookie" in v for n, v in headers)
        anonymous = same(ours, django, "GET", page)
        assert (anonymous[0], dict(anonymous[1])["Location"]) == (302, f"/accounts/login/?next={page}")
        # A session cookie that names no session: the login redirect; an empty one: deleted.
        assert same(ours, django, "GET", page, HTTP_COOKIE="sessionid=nosuchsession12345")[0] == 302
        emptied = same(ours, django, "GET", "/healthz", HTTP_COOKIE="sessionid=")
        assert ("Set-Cookie", " sessionid=<value>; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; "
                "SameSite=Lax") in emptied[1]  # fmt: skip
        csrf = same(
            ours, django, "POST", reverse("api:set-spans", args=[news.annotation_set.pk]),
            b'{"start": 0, "end": 6, "type": "PERSON"}', CONTENT_TYPE="application/json",
            HTTP_IF_MATCH='"1"', HTTP_COOKIE=signed_in,
        )  # fmt: skip
        assert (csrf[0], b"CSRF Failed: CSRF cookie not set." in csrf[2]) == (403, True)


def test_a_refused_host_stays_refused_and_a_host_that_passed_is_refused_once_no_longer_allowed(apps, news):
    ours, django = apps
    for _ in range(2):
        assert same(ours, django, "GET", "/healthz", HTTP_HOST="evil.example")[0] == 400
        assert (
            same(ours, django, "GET", "/healthz", HTTP_HOST="testserver", HTTP_X_FORWARDED_HOST="x")[0] == 200
        )
    assert "evil.example" not in hosts._passed
    assert call(ours, "GET", "/healthz")[0] == 200
    assert "testserver" in hosts._passed
    with override_settings(ALLOWED_HOSTS=["annotator.example"]):
        assert hosts._passed == set()
        assert call(ours, "GET", "/healthz")[0] == 400


class CountingResolver:
    def __init__(self) -> None:
        self.asked: list[str] = []

    def resolve(self, path: str) -> ResolverMatch:
        self.asked.append(path)
        if path != "/known/":
            raise Resolver404({"path": path})
        return ResolverMatch(len, (), {"pk": 1}, captured_kwargs={"pk": 1}, extra_kwargs={})


def test_a_path_is_resolved_once_and_each_request_gets_its_own_keyword_arguments():
    resolving.forget_paths()
    resolver = CountingResolver()
    first = resolving.resolve_path(resolver, "/known/")  # type: ignore[arg-type]
    first.kwargs["pk"] = 2
    first.captured_kwargs["pk"] = 2
    second = resolving.resolve_path(resolver, "/known/")  # type: ignore[arg-type]
    assert (second.func, second.kwargs, second.captured_kwargs) == (len, {"pk": 1}, {"pk": 1})
    for _ in range(2):
        with pytest.raises(Resolver404):
            resolving.resolve_path(resolver, "/unknown/")  # type: ignore[arg-type]
    assert resolver.asked == ["/known/", "/unknown/", "/unknown/"]  # a 404 is Django's own every time


def test_the_wsgi_application_is_the_remembering_handler():
    from annotator.wsgi import application

    assert type(application) is AnnotatorWSGIHandler
    assert settings.SESSION_ENGINE == "annotator.core.sessions"


def test_a_prepared_cursor_of_django_s_connection_proxy_is_one_of_the_thread_s_connection():
    from django.db import connections

    from annotator.core.prepared import prepared_cursor

    with CaptureQueriesContext(connection) as queries:
        with prepared_cursor(connection) as through_proxy:
            through_proxy.execute("SELECT %s", [7])
            assert through_proxy.fetchall() == [(7,)]
        assert through_proxy.db is connections["default"]
    assert [query["sql"] for query in queries] == [
        "SELECT %s" if connection.vendor == "postgresql" else "SELECT 7"
    ]


def test_the_message_cookie_is_django_s_and_its_signer_is_made_only_when_used(rf):
    from django.contrib.messages import constants
    from django.contrib.messages.storage.base import Message
    from django.contrib.messages.storage.cookie import CookieStorage as DjangoCookieStorage

    from annotator.core.messages import CookieStorage

    request = rf.get("/")
    ours, django = CookieStorage(request), DjangoCookieStorage(request)
    assert "signer" not in ours.__dict__
    messages = [Message(constants.SUCCESS, "Saved the entity type EVENT."), Message(constants.ERROR, "Nö")]
    encoded = ours._encode(messages)
    assert encoded == django._encode(messages)
    assert [(m.level, m.message) for m in django._decode(encoded)] == [(m.level, m.message) for m in messages]
    assert [(m.level, m.message) for m in ours._decode(encoded)] == [(m.level, m.message) for m in messages]
    assert ours._decode(encoded[:-1] + "x") is None  # a forged cookie is refused as Django refuses it
