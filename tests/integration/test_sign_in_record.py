"""The record of sign-ins: one row per event, with time, user, address and user agent; pages; retention."""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from annotator.signins.models import EventKind, SignInEvent
from annotator.signins.records import forget_old_events
from tests import hostile
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"


def sign_in(client, username, password, address="198.51.100.4"):
    return client.post(
        reverse("login"),
        {"username": username, "password": password},
        REMOTE_ADDR=address,
        HTTP_USER_AGENT=BROWSER,
    )


def rows():
    """The record, oldest first, as (kind, username, user's name, address, user agent, detail)."""
    return [
        (e.kind, e.username, e.user.username if e.user else None, e.address, e.user_agent, e.detail)
        for e in SignInEvent.objects.select_related("user").order_by("pk")
    ]


@pytest.fixture
def alice(db):
    return UserFactory(username="alice")


def test_a_sign_in_and_a_sign_out_are_recorded(client, alice):
    assert sign_in(client, "alice", PASSWORD).status_code == 302
    client.post(reverse("logout"), REMOTE_ADDR="198.51.100.4", HTTP_USER_AGENT=BROWSER)
    assert rows() == [
        (EventKind.SIGNED_IN, "alice", "alice", "198.51.100.4", BROWSER, "password"),
        (EventKind.SIGNED_OUT, "alice", "alice", "198.51.100.4", BROWSER, ""),
    ]
    assert SignInEvent.objects.order_by("pk").first().at > timezone.now() - timedelta(seconds=30)


def test_failures_lock_out_and_refusals_are_recorded_for_known_and_unknown_usernames(client, alice):
    for _ in range(4):
        sign_in(client, "alice", "wrong")
    sign_in(client, "alice", "wrong")  # the fifth: locked out
    sign_in(client, "alice", PASSWORD)  # refused while locked out
    sign_in(client, "ghost", "wrong", address="198.51.100.5")
    failed = (EventKind.FAILED, "alice", "alice", "198.51.100.4", BROWSER, "password")
    assert rows() == [
        failed,
        failed,
        failed,
        failed,
        (EventKind.LOCKED_OUT, "alice", "alice", "198.51.100.4", BROWSER, "5 failed sign-ins"),
        (EventKind.REFUSED, "alice", "alice", "198.51.100.4", BROWSER, "locked out"),
        (EventKind.FAILED, "ghost", None, "198.51.100.5", BROWSER, "password"),
    ]


def test_an_unlock_is_recorded_with_the_staff_member(client, alice):
    client.force_login(UserFactory(username="root", is_staff=True))
    SignInEvent.objects.all().delete()  # force_login signs in too
    client.post(reverse("signins:unlock"), {"kind": "username", "value": "alice"}, REMOTE_ADDR="203.0.113.9")
    assert rows() == [(EventKind.UNLOCKED, "alice", "alice", "203.0.113.9", "", "username alice by root")]


def test_tokens_made_and_revoked_on_the_page_and_through_the_api_are_recorded(client, alice):
    client.force_login(alice)
    SignInEvent.objects.all().delete()
    headers = {"REMOTE_ADDR": "198.51.100.4", "HTTP_USER_AGENT": BROWSER}
    client.post(reverse("tokens:list"), {"name": "laptop", "scope": "read"}, **headers)
    made = client.post(
        reverse("api:token-list"),
        {"name": "ci", "scope": "write"},
        content_type="application/json",
        **headers,
    ).json()
    laptop = alice.api_tokens.get(name="laptop")
    client.post(reverse("tokens:revoke", args=[laptop.pk]), **headers)
    client.delete(reverse("api:token-detail", args=[made["id"]]), **headers)
    client.delete(reverse("api:token-detail", args=[made["id"]]), **headers)  # already revoked: no new row
    assert rows() == [
        (
            EventKind.TOKEN_CREATED,
            "alice",
            "alice",
            "198.51.100.4",
            BROWSER,
            f"laptop ({laptop.prefix}…, read, all projects)",
        ),
        (
            EventKind.TOKEN_CREATED,
            "alice",
            "alice",
            "198.51.100.4",
            BROWSER,
            f"ci ({made['prefix']}…, write, all projects)",
        ),
        (
            EventKind.TOKEN_REVOKED,
            "alice",
            "alice",
            "198.51.100.4",
            BROWSER,
            f"laptop ({laptop.prefix}…, read, all projects)",
        ),
        (
            EventKind.TOKEN_REVOKED,
            "alice",
            "alice",
            "198.51.100.4",
            BROWSER,
            f"ci ({made['prefix']}…, write, all projects)",
        ),
    ]


def test_each_person_sees_their_own_record_only(client, alice):
    sign_in(client, "alice", "wrong", address="198.51.100.7")
    sign_in(client, "bob", "wrong", address="198.51.100.8")
    client.force_login(alice)
    html = client.get(reverse("signins:mine")).content.decode()
    assert html.count('<tr class="sign-in-') == 2  # the failure, and this session's sign-in
    assert "198.51.100.7" in html
    assert "198.51.100.8" not in html
    assert "Kept 180 days." in html


def test_staff_see_everyone_and_filter_by_username(client, alice):
    sign_in(client, "alice", "wrong", address="198.51.100.7")
    sign_in(client, "bob", "wrong", address="198.51.100.8")
    client.force_login(UserFactory(username="root", is_staff=True))
    html = client.get(reverse("signins:staff")).content.decode()
    assert "198.51.100.7" in html
    assert "198.51.100.8" in html
    filtered = client.get(reverse("signins:staff"), {"q": "bo"}).content.decode()
    assert "198.51.100.8" in filtered
    assert "198.51.100.7" not in filtered
    client.force_login(alice)
    assert client.get(reverse("signins:staff")).status_code == 403


def test_hostile_usernames_and_user_agents_show_as_text(client, alice):
    client.post(
        reverse("login"),
        {"username": hostile.IMG + hostile.TEMPLATE, "password": "x"},
        HTTP_USER_AGENT=hostile.SCRIPT + hostile.RLO,
    )
    client.force_login(UserFactory(username="root", is_staff=True))
    html = client.get(reverse("signins:staff")).content.decode()
    assert "<img data-pwned" not in html
    assert "<script>window" not in html
    assert "&lt;img data-pwned" in html
    assert "&lt;script&gt;window.__pwned" in html
    assert "{{ 7|add:1 }}" in html


def test_the_reaper_forgets_events_past_the_retention(client, alice, settings):
    settings.ANNOTATOR_SIGN_IN_RECORD_DAYS = 30
    for days in (31, 29):
        SignInEvent.objects.create(
            kind=EventKind.FAILED, username=f"{days} days", at=timezone.now() - timedelta(days=days)
        )
    assert forget_old_events() == 1
    assert list(SignInEvent.objects.values_list("username", flat=True)) == ["29 days"]
    SignInEvent.objects.update(at=timezone.now() - timedelta(days=40))
    call_command("reap_jobs", stdout=io.StringIO())
    assert not SignInEvent.objects.exists()
