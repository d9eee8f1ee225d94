"""The shared request stack: what every request pays before and after its view, and what it must keep doing.

A token API call reads no session and makes no message storage; pages still show their messages; CSRF is
still enforced on a session's unsafe API calls; a bad token is refused exactly as before; who-am-I costs
one query once the token is remembered; either form of a path resolves once per process.
"""

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import empty

from annotator.annotations.models import Span
from annotator.api.accounts import AccountSerializer
from annotator.api.models import ApiToken
from annotator.api.tokens import create_token, forget_tokens, revoke_token
from annotator.core import slashes
from annotator.projects.models import Membership
from tests.factories import MembershipFactory, ProjectFactory
from tests.integration.test_request_path import tables

pytestmark = pytest.mark.django_db


@pytest.fixture
def secret(news, settings):
    settings.ANNOTATOR_TOKEN_CACHE_SECONDS = 600  # a slow machine stays inside the token's lifetime
    forget_tokens()
    return create_token(user=news.annotator, name="script", scope="write")[1]


def spans_url(news):
    return reverse("api:set-spans", args=[news.annotation_set.pk])


# What a token call skips


def test_a_token_call_reads_no_session_and_makes_no_message_storage(client, news, secret):
    response = client.get(reverse("api:account"), HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 200
    request = response.wsgi_request
    assert request.session.accessed is False
    assert request._messages._wrapped is empty
    assert "Cookie" not in response.get("Vary", "")
    assert "sessionid" not in response.cookies


def test_healthz_reads_no_session():
    response = Client().get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok", "database": "up"})
    assert response.wsgi_request.session.accessed is False
    assert "Cookie" not in response.get("Vary", "")


def test_pages_still_need_a_login_and_the_api_still_answers_401_without_credentials(news):
    anonymous = Client()
    page = reverse("review:annotate", args=[news.article.pk])
    answer = anonymous.get(page)
    assert (answer.status_code, answer["Location"]) == (302, f"/accounts/login/?next={page}")
    api = anonymous.get(reverse("api:account"))
    assert api.status_code == 401
    assert api.json()["error"]["code"] == "not_authenticated"
    assert api["WWW-Authenticate"] == 'Bearer realm="api"'


# What pages keep


def test_a_page_s_message_is_shown_once_after_its_redirect(client, news):
    client.force_login(news.manager)
    saved = client.post(
        reverse("projects:entity_type_new", args=[news.project.pk]),
        {"name": "EVENT", "key": "e", "colour": "#ffd6a5", "description": "", "position": 9},
        follow=True,
    )
    assert saved.redirect_chain == [(reverse("projects:schema", args=[news.project.pk]), 302)]
    assert saved.content.decode().count("Saved the entity type EVENT.") == 1
    again = client.get(reverse("projects:schema", args=[news.project.pk]))
    assert "Saved the entity type EVENT." not in again.content.decode()  # read once, then gone


def test_a_page_that_reads_the_session_still_varies_on_the_cookie(client, news):
    client.force_login(news.annotator)
    response = client.get(reverse("review:annotate", args=[news.article.pk]))
    assert response.status_code == 200
    assert "Cookie" in response["Vary"]


# CSRF on a session's API calls


def test_a_session_s_post_to_the_api_still_needs_its_csrf_token(news):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(news.annotator)
    body = {"start": 0, "end": 6, "type": "PERSON"}
    refused = browser.post(spans_url(news), body, content_type="application/json", HTTP_IF_MATCH='"1"')
    assert refused.status_code == 403
    assert refused.json()["error"]["message"] == "CSRF Failed: CSRF cookie not set."
    assert not Span.objects.exists()
    browser.get(reverse("review:annotate", args=[news.article.pk]))  # the page sets the CSRF cookie
    csrf = browser.cookies["csrftoken"].value
    wrong = browser.post(spans_url(news), body, content_type="application/json", HTTP_IF_MATCH='"1"')
    assert wrong.status_code == 403
    assert wrong.json()["error"]["message"] == "CSRF Failed: CSRF token missing."
    made = browser.post(
        spans_url(news), body, content_type="application/json", HTTP_IF_MATCH='"1"', HTTP_X_CSRFTOKEN=csrf
    )
    assert made.status_code == 201
    assert [(s.start, s.end) for s in Span.objects.all()] == [(0, 6)]


def test_a_session_s_page_post_still_needs_its_csrf_token(news):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(news.annotator)
    url = reverse("review:act", args=[news.article.pk, "create-span"])
    data = {"start": 0, "end": 6, "entity_type": news.person.pk, "version": 1}
    assert browser.post(url, data, HTTP_HX_REQUEST="true").status_code == 403
    assert not Span.objects.exists()


# Bad tokens: refused as before


def _refusal(response):
    return response.status_code, response.json()["error"], response["WWW-Authenticate"]


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("Bearer", "Give the token as: Authorization: Bearer <token>."),
        ("Bearer two words", "Give the token as: Authorization: Bearer <token>."),
        ("Bearer ann_not-a-real-token", "This token is not valid."),
        ("Token ann_not-a-real-token", "This token is not valid."),
    ],
)
def test_a_malformed_or_unknown_token_is_refused_with_401(client, news, header, message):
    response = client.get(reverse("api:account"), HTTP_AUTHORIZATION=header)
    error = {"code": "authentication_failed", "message": message, "fields": {}}
    assert _refusal(response) == (401, error, 'Bearer realm="api"')


def test_revoked_expired_and_deactivated_tokens_are_refused_with_why(client, news, secret):
    url = reverse("api:account")

    def refused(token):
        response = client.get(url, HTTP_AUTHORIZATION=f"Bearer {token}")
        return response.status_code, response.json()["error"]["message"]

    revoked, revoked_secret = create_token(user=news.annotator, name="revoked")
    assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {revoked_secret}").status_code == 200  # remembered
    revoke_token(revoked)
    assert refused(revoked_secret) == (401, "This token was revoked.")
    expired, expired_secret = create_token(
        user=news.annotator, name="expired", expires_at=timezone.now() + timedelta(hours=1)
    )
    ApiToken.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert refused(expired_secret) == (401, "This token has expired.")
    news.annotator.is_active = False
    news.annotator.save()
    forget_tokens()
    assert refused(secret) == (401, "This token is not valid.")


def test_a_bad_token_beside_a_signed_in_session_is_still_refused(client, news):
    client.force_login(news.annotator)
    response = client.get(reverse("api:account"), HTTP_AUTHORIZATION="Bearer ann_not-a-real-token")
    assert response.status_code == 401


# Who am I


def test_who_am_i_answers_the_serializer_s_fields_from_one_query_once_the_token_is_remembered(
    client, news, secret
):
    other = ProjectFactory(name="Archive", slug="archive")
    MembershipFactory(project=other, user=news.annotator, role="curator")
    news.annotator.first_name, news.annotator.last_name = "Alice", "Liddell"
    news.annotator.email = "alice@example.org"
    news.annotator.save()
    url = reverse("api:account")
    with CaptureQueriesContext(connection) as first:
        answer = client.get(url, HTTP_AUTHORIZATION=f"Bearer {secret}")
    # The token with its user by the digest's index, its last use (once a minute), the memberships.
    assert tables(first) == ["api_apitoken", "api_apitoken", "projects_membership"]
    assert answer.json() == {
        "id": news.annotator.pk,
        "username": "alice",
        "full_name": "Alice Liddell",
        "email": "alice@example.org",
        "is_staff": False,
        "projects": [
            {"id": other.pk, "name": "Archive", "role": "curator"},
            {"id": news.project.pk, "name": "News", "role": "annotator"},
        ],
    }
    memberships = Membership.objects.filter(user=news.annotator).select_related("project")
    ordered = memberships.order_by("project__name", "project_id")
    assert answer.json() == AccountSerializer(news.annotator, context={"memberships": ordered}).data
    with CaptureQueriesContext(connection) as again:
        assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {secret}").json() == answer.json()
    assert len(again) == 1
    assert tables(again) == ["projects_membership"]


def test_who_am_i_with_a_session_reads_the_session_and_the_user_then_the_memberships(client, news):
    client.force_login(news.annotator)
    with CaptureQueriesContext(connection) as queries:
        answer = client.get(reverse("api:account"))
    assert tables(queries) == ["django_session", "auth_user", "projects_membership"]
    assert answer.json()["projects"] == [{"id": news.project.pk, "name": "News", "role": "annotator"}]


# Either slash


@pytest.fixture
def resolves(monkeypatch):
    """The calls of the slash middleware to Django's resolver, from an empty memo."""
    monkeypatch.setattr(slashes, "_memo", {}, raising=False)
    calls = []
    real = slashes.resolve_path

    def counted(resolver, path):
        calls.append(path)
        return real(resolver, path)

    monkeypatch.setattr(slashes, "resolve_path", counted)
    return calls


def test_each_form_of_a_path_is_resolved_once_per_process(client, news, secret, resolves):
    auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    for _ in range(3):
        assert client.get("/api/v1/account", **auth).status_code == 200
        assert client.get("/api/v1/account/", **auth).json()["username"] == "alice"
    assert resolves == ["/api/v1/account", "/api/v1/account/", "/api/v1/account"]


def test_a_post_to_the_other_form_of_a_path_still_reaches_its_view_every_time(client, news, secret, resolves):
    url = spans_url(news).rstrip("/")  # the route has the slash; the client leaves it off
    for version, (start, end) in enumerate([(0, 6), (7, 16)], start=1):
        made = client.post(
            url,
            {"start": start, "end": end, "type": "PERSON"},
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {secret}",
            HTTP_IF_MATCH=f'"{version}"',
        )
        assert made.status_code == 201
    assert [(s.start, s.end) for s in Span.objects.order_by("start")] == [(0, 6), (7, 16)]
    assert resolves == [url, f"{url}/"]


def test_a_path_that_resolves_in_neither_form_stays_a_404(client, news, secret, resolves):
    for _ in range(2):
        response = client.get("/api/v1/no-such-thing", HTTP_AUTHORIZATION=f"Bearer {secret}")
        assert response.status_code == 404
    assert resolves == ["/api/v1/no-such-thing", "/api/v1/no-such-thing/"]


def test_a_path_longer_than_the_app_s_own_is_answered_but_not_remembered(client, news, secret, resolves):
    long_path = "/api/v1/" + "x" * slashes._MEMO_PATH_LIMIT
    for _ in range(2):
        response = client.get(long_path, HTTP_AUTHORIZATION=f"Bearer {secret}")
        assert response.status_code == 404
    assert resolves == [long_path, f"{long_path}/"] * 2
    assert all(path != long_path for _, path in slashes._memo)
