"""Which account a provider's claims sign in (the browser test walks the whole flow against a real provider)."""

import pytest
from django.contrib.auth import get_user_model
from django.test import RequestFactory
from django.urls import reverse

from annotator.signins.models import EventKind, SignInEvent, SsoIdentity
from annotator.signins.oidc import SignInBackend
from tests.factories import ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db

ISSUER = "https://idp.example/realms/uni"


@pytest.fixture
def backend(settings):
    settings.ANNOTATOR_OIDC_ISSUER = ISSUER
    settings.OIDC_RP_CLIENT_ID, settings.OIDC_RP_CLIENT_SECRET = "annotator", "secret"
    for name in ("AUTHORIZATION", "TOKEN", "USER", "JWKS"):  # no discovery: nothing is fetched here
        setattr(settings, f"OIDC_OP_{name}_ENDPOINT", f"{ISSUER}/{name.lower()}")
    made = SignInBackend()
    made.request = RequestFactory().get("/accounts/sso/callback/", REMOTE_ADDR="192.0.2.1")
    return made


def claims(sub="s-1", username="ada", email="ada@uni.example", **more):
    return {"sub": sub, "preferred_username": username, "email": email, **more}


def test_a_linked_account_wins_over_names_and_e_mails(backend):
    linked = UserFactory(username="someone-else")
    SsoIdentity.objects.create(user=linked, issuer=ISSUER, subject="s-1")
    UserFactory(username="ada", email="ada@uni.example")
    assert list(backend.filter_users_by_claims(claims())) == [linked]


def test_an_invited_account_links_by_username_then_by_verified_e_mail(backend):
    by_email = UserFactory(username="a.lovelace", email="ADA@uni.example")
    assert list(backend.filter_users_by_claims(claims())) == [by_email]
    assert list(backend.filter_users_by_claims(claims(email_verified=False))) == []
    by_name = UserFactory(username="Ada")
    assert list(backend.filter_users_by_claims(claims())) == [by_name]
    backend.update_user(by_name, claims())
    assert SsoIdentity.objects.get(issuer=ISSUER, subject="s-1").user == by_name


def test_a_superuser_is_never_linked_by_name_or_e_mail(backend):
    UserFactory(username="admin", email="admin@uni.example", is_superuser=True, is_staff=True)
    assert list(backend.filter_users_by_claims(claims(username="admin", email="admin@uni.example"))) == []


def test_a_new_account_gets_a_free_username_its_projects_and_no_password(backend, settings):
    settings.ANNOTATOR_OIDC_NEW_USER_PROJECTS = [("news", "curator"), ("missing", "annotator")]
    news = ProjectFactory(slug="news")
    UserFactory(username="ada")
    user = backend.create_user(claims(sub="s-9", given_name="Ada", family_name="Lovelace"))
    assert (user.username, user.email, user.first_name, user.has_usable_password()) == (
        "ada-2",
        "ada@uni.example",
        "Ada",
        False,
    )
    assert list(user.memberships.values_list("project", "role")) == [(news.pk, "curator")]
    event = SignInEvent.objects.get(kind=EventKind.SSO_ACCOUNT_CREATED)
    assert (event.user, event.address, event.detail) == (user, "192.0.2.1", "projects: news (curator)")
    assert get_user_model().objects.filter(sso_identities__subject="s-9").get() == user


def test_claims_without_a_subject_or_a_username_are_refused(backend):
    assert backend.verify_claims(claims()) is True
    assert backend.verify_claims(claims(sub="")) is False
    assert backend.verify_claims(claims(username=None)) is False


def test_a_pending_invitation_makes_the_account_it_names_even_with_creation_off(backend, settings, news):
    from annotator.accounts.models import Invitation
    from annotator.accounts.services import invite

    settings.ANNOTATOR_OIDC_CREATE_USERS = False
    invitation, _ = invite(
        project=news.project, role="curator", username="a.lovelace", email="ada@uni.example", by=news.manager
    )
    users = backend.filter_users_by_claims(claims(sub="s-5"))
    (user,) = users
    assert (user.username, user.email, user.has_usable_password()) == ("a.lovelace", "ada@uni.example", False)
    assert user.memberships.get().role == "curator"
    assert Invitation.objects.get(pk=invitation.pk).accepted_by == user
    event = SignInEvent.objects.get(kind=EventKind.SSO_ACCOUNT_CREATED)
    assert event.detail == "invited: news (curator)"
    # The next sign-in finds the linked account; the invitation is used up.
    assert list(backend.filter_users_by_claims(claims(sub="s-5"))) == [user]
    assert get_user_model().objects.count() == 3  # alice, maria and ada


def test_an_unverified_e_mail_takes_up_no_invitation(backend, news):
    from annotator.accounts.services import invite

    invite(
        project=news.project,
        role="annotator",
        username="a.lovelace",
        email="ada@uni.example",
        by=news.manager,
    )
    assert list(backend.filter_users_by_claims(claims(email_verified=False))) == []


def test_a_deactivated_account_is_refused_by_single_sign_on_and_recorded(client, settings, monkeypatch):
    settings.ANNOTATOR_OIDC_ISSUER = ISSUER
    settings.OIDC_RP_CLIENT_ID, settings.OIDC_RP_CLIENT_SECRET = "annotator", "secret"
    for name in ("AUTHORIZATION", "TOKEN", "USER", "JWKS"):
        setattr(settings, f"OIDC_OP_{name}_ENDPOINT", f"{ISSUER}/{name.lower()}")
    ada = UserFactory(username="ada", is_active=False)
    SsoIdentity.objects.create(user=ada, issuer=ISSUER, subject="s-1")
    # The provider's answer is taken as checked: authenticate() returns the linked account, as the
    # backend does after the token exchange (the browser test walks that part against a real provider).
    monkeypatch.setattr("mozilla_django_oidc.views.auth.authenticate", lambda **kwargs: ada)
    session = client.session
    session["oidc_states"] = {"st-1": {"nonce": "n-1", "code_verifier": None}}
    session.save()
    response = client.get(
        reverse("signins:oidc-callback"), {"code": "c-1", "state": "st-1"}, REMOTE_ADDR="192.0.2.7"
    )
    assert (response.status_code, response["Location"]) == (302, reverse("login"))
    event = SignInEvent.objects.get()
    assert (event.kind, event.user, event.username, event.address, event.detail) == (
        EventKind.FAILED,
        ada,
        "ada",
        "192.0.2.7",
        "single sign-on: account deactivated",
    )
    page = client.get(reverse("login")).content.decode()
    assert "Your account here is deactivated. Ask the site&#x27;s staff to reactivate it." in page
    assert "_auth_user_id" not in client.session
