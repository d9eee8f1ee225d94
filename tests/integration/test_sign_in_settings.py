"""Sign-in settings from the environment, and the sign-in page they shape."""

import os
import re
import runpy
import socket

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

from tests.factories import UserFactory
from tests.integration.test_settings import ROOT

KEY = "k" * 50
SSO = {
    "DJANGO_SECRET_KEY": KEY,
    "ANNOTATOR_OIDC_ISSUER": "https://keycloak.example.org/realms/newsroom/",
    "ANNOTATOR_OIDC_CLIENT_ID": "annotator",
    "ANNOTATOR_OIDC_CLIENT_SECRET": "secret",
}


@pytest.fixture
def load_settings(tmp_path, monkeypatch):
    """Run annotator/settings.py with exactly this environment (in this process: a fresh interpreter per
    case costs seconds each; the settings module only reads the environment)."""

    def load(**env):
        for name in list(os.environ):
            if name.startswith(("DJANGO_", "DATABASE_URL", "ANNOTATOR_")):
                monkeypatch.delenv(name)
        monkeypatch.setenv("ANNOTATOR_ENV_FILE", str(tmp_path / "absent.env"))
        monkeypatch.setenv("ANNOTATOR_DATA_DIR", str(tmp_path / "data"))
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return runpy.run_path(str(ROOT / "annotator" / "settings.py"))

    return load


def test_single_sign_on_with_passwords_off_leaves_only_the_provider(load_settings):
    loaded = load_settings(
        **SSO, ANNOTATOR_LOCAL_PASSWORDS="false", ANNOTATOR_OIDC_NEW_USER_PROJECTS="news:annotator,qa:curator"
    )
    assert loaded["AUTHENTICATION_BACKENDS"] == [
        "axes.backends.AxesStandaloneBackend",
        "annotator.signins.oidc.SignInBackend",
    ]
    assert loaded["ANNOTATOR_OIDC_ISSUER"] == "https://keycloak.example.org/realms/newsroom"
    assert loaded["ANNOTATOR_OIDC_NEW_USER_PROJECTS"] == [("news", "annotator"), ("qa", "curator")]
    assert loaded["ANNOTATOR_LOCAL_PASSWORDS"] is False


def test_without_an_issuer_passwords_stay_on_whatever_the_setting_says(load_settings):
    loaded = load_settings(
        DJANGO_SECRET_KEY=KEY, ANNOTATOR_LOCAL_PASSWORDS="false", ANNOTATOR_LOGIN_LOCKOUT_BY="username"
    )
    assert loaded["AUTHENTICATION_BACKENDS"] == [
        "axes.backends.AxesStandaloneBackend",
        "django.contrib.auth.backends.ModelBackend",
    ]
    assert loaded["AXES_LOCKOUT_PARAMETERS"] == ["username"]


def test_the_cache_for_rate_limits_comes_from_the_environment(load_settings):
    assert load_settings(DJANGO_SECRET_KEY=KEY, ANNOTATOR_CACHE_URL="")["CACHES"]["default"]["BACKEND"] == (
        "django.core.cache.backends.locmem.LocMemCache"
    )
    shared = load_settings(DJANGO_SECRET_KEY=KEY, ANNOTATOR_CACHE_URL="dbcache://annotator_cache")
    assert shared["CACHES"]["default"] == {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "annotator_cache",
    }


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ANNOTATOR_OIDC_ISSUER": "https://idp.example"}, "set ANNOTATOR_OIDC_CLIENT_ID and _SECRET too"),
        ({**SSO, "ANNOTATOR_OIDC_NEW_USER_PROJECTS": "news:owner"}, "slug:role pairs"),
        (
            {"ANNOTATOR_LOGIN_LOCKOUT_BY": "browser"},
            "ANNOTATOR_LOGIN_LOCKOUT_BY lists username, address or both.",
        ),
    ],
)
def test_settings_that_cannot_work_stop_the_start(load_settings, env, message):
    with pytest.raises(ImproperlyConfigured, match=re.escape(message)):
        load_settings(**{"DJANGO_SECRET_KEY": KEY, **env})


@pytest.mark.django_db
def test_the_sign_in_page_offers_the_provider_and_the_form(client, settings):
    settings.ANNOTATOR_OIDC_ISSUER = "https://idp.example"
    settings.ANNOTATOR_OIDC_LABEL = "<b>Uni</b> ID"
    html = client.get(reverse("login"), {"next": "/projects/"}).content.decode()
    button = 'href="/accounts/sso/start/?next=/projects/" role="button" class="sso-button">'
    assert f"{button}Sign in with &lt;b&gt;Uni&lt;/b&gt; ID</a>" in html
    assert 'name="password"' in html


@pytest.mark.django_db
def test_with_passwords_off_the_form_is_gone_and_a_password_post_is_refused(client, settings):
    settings.ANNOTATOR_OIDC_ISSUER = "https://idp.example"
    settings.ANNOTATOR_LOCAL_PASSWORDS = False
    UserFactory(username="alice")
    html = client.get(reverse("login")).content.decode()
    assert 'name="password"' not in html
    assert "This site signs people in through single sign-on only." in html
    refused = client.post(reverse("login"), {"username": "alice", "password": "correct horse battery staple"})
    assert refused.status_code == 403
    assert "_auth_user_id" not in client.session


@pytest.fixture
def unused_port():
    """A port where nothing answers: bound by this test and never listening, so a connection is refused.
    Held for the whole test: a port only probed and closed could meanwhile be taken by another test run's
    server, which would answer."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield held.getsockname()[1]


@pytest.mark.django_db
def test_a_provider_that_does_not_answer_is_a_message_on_the_sign_in_page(client, settings, unused_port):
    settings.ANNOTATOR_OIDC_ISSUER = f"http://127.0.0.1:{unused_port}/realms/gone"
    settings.ANNOTATOR_OIDC_LABEL = "Example University"
    response = client.get(reverse("signins:oidc-start"), follow=True)
    assert response.redirect_chain == [(reverse("login"), 302)]
    assert (
        "Signing in with Example University is not possible right now: the sign-in service did not answer "
        "as expected. Try again later, or tell the administrators."
    ) in response.content.decode()


@pytest.mark.django_db
def test_passwords_still_sign_in_while_the_provider_is_down(client, settings, unused_port):
    settings.ANNOTATOR_OIDC_ISSUER = f"http://127.0.0.1:{unused_port}/realms/gone"
    settings.AUTHENTICATION_BACKENDS = [
        "axes.backends.AxesStandaloneBackend",
        "annotator.signins.oidc.SignInBackend",
        "django.contrib.auth.backends.ModelBackend",
    ]
    UserFactory(username="alice")
    response = client.post(
        reverse("login"), {"username": "alice", "password": "correct horse battery staple"}
    )
    assert response.status_code == 302
    assert client.session["_auth_user_backend"] == "django.contrib.auth.backends.ModelBackend"


@pytest.mark.django_db
def test_the_single_sign_on_views_do_not_exist_while_it_is_off(client):
    assert client.get(reverse("signins:oidc-start")).status_code == 404
    assert client.get(reverse("signins:oidc-callback"), {"code": "x", "state": "y"}).status_code == 404
    assert "Sign in with" not in client.get(reverse("login")).content.decode()
