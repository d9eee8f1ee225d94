"""Single sign-on in Chromium against a real OpenID Connect provider (django-oidc-provider) on 127.0.0.1.

The provider runs as its own process with its own database (tests/oidc_provider/): the browser goes
there to sign in and consent, comes back with a code, and the app trades it for tokens and claims.
"""

import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from annotator.projects.models import Membership, Role
from annotator.signins.models import EventKind, SignInEvent, SsoIdentity
from tests.factories import ProjectFactory
from tests.live import listening_socket

ROOT = Path(__file__).resolve().parents[2]
CLIENT_ID, CLIENT_SECRET = "annotator", "client-secret-for-tests"


@pytest.fixture(scope="module")
def provider(live_server):
    """The provider's base URL; it knows the live server's callback as its client's only redirect URI."""
    listener = listening_socket()  # the port is this test's from now on (see tests/oidc_provider/serve.py)
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    with listener, tempfile.TemporaryDirectory() as directory:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.oidc_provider.settings",
            "OIDC_PROVIDER_DIR": directory,
            "OIDC_PROVIDER_URL": url,
        }
        callback = f"{live_server.url}/accounts/sso/callback/"
        signed_out = f"{live_server.url}/accounts/login/"
        setup = [
            sys.executable,
            "-m",
            "tests.oidc_provider.setup",
            callback,
            CLIENT_ID,
            CLIENT_SECRET,
            signed_out,
        ]
        subprocess.run(setup, cwd=ROOT, env=env, check=True, capture_output=True)
        serve = [sys.executable, "-m", "tests.oidc_provider.serve", str(listener.fileno())]
        server = subprocess.Popen(
            serve,
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            pass_fds=[listener.fileno()],
        )
        listener.close()  # the provider holds its own copy
        try:
            wait_for(f"{url}/openid/.well-known/openid-configuration", server)
            yield url
        finally:
            server.terminate()
            server.wait(timeout=30)


def wait_for(url, server, seconds=180):  # a Django start beside other test processes can be slow
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"The provider exited: {server.stderr.read().decode()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310 (our own 127.0.0.1 URL)
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"The provider did not answer at {url}")


@pytest.fixture
def sso(settings, provider, transactional_db):
    """Single sign-on on, against the provider (the settings `.env` would set)."""
    settings.ANNOTATOR_OIDC_ISSUER = f"{provider}/openid"
    settings.OIDC_RP_CLIENT_ID = CLIENT_ID
    settings.OIDC_RP_CLIENT_SECRET = CLIENT_SECRET
    settings.ANNOTATOR_OIDC_LABEL = "University ID"
    settings.ANNOTATOR_OIDC_NEW_USER_PROJECTS = [("newsroom", "annotator")]
    settings.AUTHENTICATION_BACKENDS = [
        "axes.backends.AxesStandaloneBackend",
        "annotator.signins.oidc.SignInBackend",
        "django.contrib.auth.backends.ModelBackend",
    ]
    ProjectFactory(name="Newsroom", slug="newsroom")
    return settings


def sign_in_at_the_provider(page, provider, username):
    """From the app's sign-in page through the provider's sign-in and consent pages."""
    page.problems.expect(f"request left the site: {provider}/")
    page.goto("/accounts/login/")
    page.get_by_role("button", name="Sign in with University ID").click()
    page.wait_for_url(f"{provider}/**")
    if page.get_by_label("University username").count():
        page.get_by_label("University username").fill(username)
        page.get_by_label("University password").fill("university password")
        page.get_by_role("button", name="Sign in at the university").click()
    page.get_by_role("heading", name="Request for Permission").wait_for()
    page.get_by_role("button", name="Authorize").click()


def test_first_sign_in_makes_the_account_with_its_projects_then_signs_out(page, provider, sso, live_server):
    sso.ANNOTATOR_OIDC_CREATE_USERS = True
    sign_in_at_the_provider(page, provider, "ada")
    page.wait_for_url("**/projects/")
    expect(page.get_by_role("button", name="Log out ada")).to_be_visible()
    expect(page.get_by_role("link", name="Newsroom")).to_be_visible()
    ada = get_user_model().objects.get(username="ada")
    assert (ada.email, ada.first_name, ada.last_name, ada.has_usable_password()) == (
        "ada@uni.example",
        "Ada",
        "Lovelace",
        False,
    )
    assert Membership.objects.get(user=ada).role == Role.ANNOTATOR
    assert SsoIdentity.objects.get(user=ada).issuer == f"{provider}/openid"
    events = list(SignInEvent.objects.filter(user=ada).order_by("pk").values_list("kind", "detail"))
    assert events == [
        (EventKind.SSO_ACCOUNT_CREATED, "projects: newsroom (annotator)"),
        (EventKind.SIGNED_IN, "single sign-on"),
    ]
    # Signing out here ends the provider's session too: the next person at this computer is asked for
    # their own password instead of being signed in as ada.
    page.get_by_role("button", name="Log out ada").click()
    page.wait_for_url(f"{live_server.url}/accounts/login/")  # back from the provider's sign-out
    page.goto("/projects/")
    page.wait_for_url("**/accounts/login/?next=/projects/")
    assert list(SignInEvent.objects.filter(user=ada).order_by("pk").values_list("kind", flat=True))[-1] == (
        EventKind.SIGNED_OUT
    )
    page.goto("/accounts/login/")
    page.get_by_role("button", name="Sign in with University ID").click()
    expect(page.get_by_label("University username")).to_be_visible()


def test_without_account_creation_only_an_invited_account_signs_in(page, provider, sso):
    sso.ANNOTATOR_OIDC_CREATE_USERS = False
    sign_in_at_the_provider(page, provider, "grace")
    page.wait_for_url("**/accounts/login/")
    expect(page.get_by_text("Single sign-on did not sign you in.")).to_be_visible()
    assert not get_user_model().objects.filter(username="grace").exists()
    failed = SignInEvent.objects.get(kind=EventKind.FAILED)
    assert (failed.username, failed.detail) == ("grace", "single sign-on")
    # A manager invites her under another username, with her university e-mail: now she is let in.
    invited = get_user_model().objects.create_user("g.hopper", email="grace@uni.example")
    sign_in_at_the_provider(page, provider, "grace")  # the provider remembers her: consent only
    page.wait_for_url("**/projects/")
    expect(page.get_by_role("button", name="Log out g.hopper")).to_be_visible()
    assert SsoIdentity.objects.get(user=invited).subject
    assert get_user_model().objects.count() == 1
