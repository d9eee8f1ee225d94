"""Brute-force protection on the sign-in form (django-axes): lock-outs per username and per address."""

import re
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from annotator.signins.addresses import client_address
from tests import hostile
from tests.factories import UserFactory

PASSWORD = "correct horse battery staple"
LIMIT = 5  # ANNOTATOR_LOGIN_FAILURE_LIMIT's default
COOL_OFF = timedelta(minutes=15)  # ANNOTATOR_LOGIN_COOLOFF_MINUTES's default
LOCKED = (
    "Too many failed sign-ins for this username or from this address. Signing in is paused for 15 minutes: "
    "try again later, or ask a staff member to unlock it."
)
WRONG = "Your username and password did not match. Try again."


def sign_in(client, username, password, address="127.0.0.1", **headers):
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address, **headers
    )


def alert(response):
    """The text of the page's error message."""
    return re.search(r'role="alert">(.*?)</p>', response.content.decode(), re.S).group(1).strip()


@pytest.fixture
def alice(db):
    return UserFactory(username="alice")


def test_the_defaults_are_five_failures_and_fifteen_minutes(settings):
    assert settings.AXES_FAILURE_LIMIT == LIMIT
    assert settings.AXES_COOLOFF_TIME == COOL_OFF
    assert settings.AXES_LOCKOUT_PARAMETERS == ["username", "ip_address"]


def test_a_username_is_locked_after_the_limit_of_failures_from_any_addresses(client, alice):
    for attempt in range(1, LIMIT):
        response = sign_in(client, "alice", "wrong", address=f"10.0.0.{attempt}")
        assert response.status_code == 200
        assert alert(response) == WRONG
    response = sign_in(client, "alice", "wrong", address="10.0.0.99")
    assert response.status_code == 429
    assert alert(response) == LOCKED
    assert response["Retry-After"] == str(15 * 60)
    # The right password from a fresh address is refused too, and nobody is signed in.
    response = sign_in(client, "alice", PASSWORD, address="10.0.1.1")
    assert (response.status_code, alert(response)) == (429, LOCKED)
    assert "_auth_user_id" not in client.session
    # Another account from one of those addresses is not affected.
    UserFactory(username="bob")
    assert sign_in(client, "bob", PASSWORD, address="10.0.0.1").status_code == 302


def test_an_address_is_locked_after_the_limit_of_failures_for_any_usernames(client, alice):
    for attempt in range(LIMIT):
        response = sign_in(client, f"guess{attempt}", "wrong", address="192.0.2.7")
    assert (response.status_code, alert(response)) == (429, LOCKED)
    response = sign_in(client, "alice", PASSWORD, address="192.0.2.7")
    assert (response.status_code, alert(response)) == (429, LOCKED)
    assert sign_in(client, "alice", PASSWORD, address="192.0.2.8").status_code == 302


def test_the_lock_lasts_the_cool_off_after_the_last_failure_and_then_lifts(client, alice):
    for _ in range(LIMIT):
        sign_in(client, "alice", "wrong")
    assert AccessAttempt.objects.get().failures_since_start == LIMIT
    # Attempts while locked out are not counted: the wait does not grow.
    assert sign_in(client, "alice", "wrong").status_code == 429
    assert AccessAttempt.objects.get().failures_since_start == LIMIT
    AccessAttempt.objects.update(attempt_time=timezone.now() - COOL_OFF + timedelta(seconds=30))
    assert sign_in(client, "alice", PASSWORD).status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - COOL_OFF - timedelta(seconds=1))
    assert sign_in(client, "alice", PASSWORD).status_code == 302


def test_known_and_unknown_usernames_get_the_same_answers(client, alice):
    known = [sign_in(client, "alice", "wrong", address="10.1.0.1") for _ in range(LIMIT + 1)]
    unknown = [sign_in(client, "nobody", "wrong", address="10.2.0.1") for _ in range(LIMIT + 1)]
    assert [(r.status_code, alert(r)) for r in known] == [(r.status_code, alert(r)) for r in unknown]
    assert [r.status_code for r in known] == [200] * (LIMIT - 1) + [429, 429]


def test_staff_see_lockouts_and_unlock_a_username(client, alice):
    for attempt in range(LIMIT):
        sign_in(client, "alice", "wrong", address=f"10.0.0.{attempt}")
    staff = UserFactory(username="root", is_staff=True)
    client.force_login(staff)
    page = client.get(reverse("signins:staff"))
    assert page.status_code == 200
    assert (
        '<td class="locked-value">Username <code>alice</code></td>\n        <td>5</td>'
        in page.content.decode()
    )
    response = client.post(reverse("signins:unlock"), {"kind": "username", "value": "alice"})
    assert response.status_code == 302
    assert not AccessAttempt.objects.filter(username="alice").exists()
    client.logout()
    assert sign_in(client, "alice", PASSWORD, address="10.0.0.1").status_code == 302


def test_staff_unlock_an_address_and_refuse_what_is_not_one(client, alice):
    for attempt in range(LIMIT):
        sign_in(client, f"guess{attempt}", "wrong", address="192.0.2.7")
    client.force_login(UserFactory(username="root", is_staff=True))
    assert "Address <code>192.0.2.7</code>" in client.get(reverse("signins:staff")).content.decode()
    client.post(reverse("signins:unlock"), {"kind": "address", "value": "not-an-ip"})
    assert AccessAttempt.objects.count() == LIMIT
    client.post(reverse("signins:unlock"), {"kind": "address", "value": "192.0.2.7"})
    assert AccessAttempt.objects.count() == 0


def test_the_unlock_command_lifts_a_username_lockout(client, alice):
    for _ in range(LIMIT):
        sign_in(client, "alice", "wrong")
    call_command("axes_reset_username", "alice", stdout=None)
    assert sign_in(client, "alice", PASSWORD, address="10.9.9.9").status_code == 302


def test_the_staff_pages_refuse_others(client, alice):
    client.force_login(alice)
    assert client.get(reverse("signins:staff")).status_code == 403
    assert client.post(reverse("signins:unlock"), {"kind": "username", "value": "x"}).status_code == 403


def test_hostile_usernames_show_as_text_on_the_staff_page(client, alice):
    typed = hostile.SCRIPT + hostile.TEMPLATE + hostile.RLO
    for _ in range(LIMIT):
        sign_in(client, typed, "wrong", address="10.3.0.1")
    client.force_login(UserFactory(username="root", is_staff=True))
    html = client.get(reverse("signins:staff")).content.decode()
    assert "<script>window.__pwned" not in html
    assert "&lt;script&gt;window.__pwned=&quot;script&quot;" in html
    assert "{{ 7|add:1 }}" in html


def test_without_the_proxy_setting_x_forwarded_for_is_ignored(client, alice, settings):
    settings.BEHIND_PROXY = False
    for attempt in range(LIMIT):
        sign_in(
            client, f"guess{attempt}", "wrong", address="10.5.0.1", HTTP_X_FORWARDED_FOR=f"1.1.1.{attempt}"
        )
    assert (
        sign_in(client, "alice", PASSWORD, address="10.5.0.1", HTTP_X_FORWARDED_FOR="8.8.8.8").status_code
        == 429
    )


def test_behind_the_proxy_the_address_the_proxy_appended_counts(client, alice, settings):
    settings.BEHIND_PROXY = True
    for attempt in range(LIMIT):
        # A client may put anything first; the proxy's own entry (the last) is the one counted.
        sign_in(
            client,
            f"guess{attempt}",
            "wrong",
            address="10.0.0.254",
            HTTP_X_FORWARDED_FOR=f"1.1.1.{attempt}, 203.0.113.5",
        )
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.5"}
    assert (
        sign_in(
            client, "alice", PASSWORD, address="10.0.0.254", HTTP_X_FORWARDED_FOR="203.0.113.5"
        ).status_code
        == 429
    )
    assert (
        sign_in(
            client, "alice", PASSWORD, address="10.0.0.254", HTTP_X_FORWARDED_FOR="203.0.113.6"
        ).status_code
        == 302
    )


@pytest.mark.parametrize(
    ("behind_proxy", "forwarded", "expected"),
    [
        (False, "203.0.113.5", "10.0.0.254"),
        (True, "203.0.113.5", "203.0.113.5"),
        (True, "1.2.3.4,  2001:DB8::1 ", "2001:db8::1"),
        (True, "", "10.0.0.254"),
        (True, "1.2.3.4, not-an-address", "10.0.0.254"),
    ],
)
def test_client_address(settings, behind_proxy, forwarded, expected):
    settings.BEHIND_PROXY = behind_proxy
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.254", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_address(request) == expected
