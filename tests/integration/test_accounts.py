"""People without the admin: accounts made by managers, invitation links, the account page, site users."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from annotator.accounts.models import Invitation, invitation_digest
from annotator.accounts.services import AccountError, accept_invitation, invite
from annotator.api.tokens import create_token
from annotator.projects.models import Membership, Role
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

User = get_user_model()


def roles(project):
    return dict(Membership.objects.filter(project=project).values_list("user__username", "role"))


def signs_in(client, username, password):
    """Whether the login form takes these (through the real form: the lock-out backend wants a request)."""
    client.logout()
    response = client.post(reverse("login"), {"username": username, "password": password})
    return response.status_code == 302


def people_url(news):
    return reverse("accounts:people", args=[news.project.pk])


def test_a_manager_makes_an_account_whose_password_is_shown_once(client, news):
    client.force_login(news.manager)
    response = client.post(
        people_url(news),
        {"username": "bob", "full_name": "Bob Brown", "email": "bob@example.org", "role": "curator",
         "how": "account"},
    )  # fmt: skip
    assert response.status_code == 200
    password = re.search(r'<code class="token-secret">([^<]+)</code>', response.content.decode()).group(1)
    bob = User.objects.get(username="bob")
    assert bob.check_password(password)
    assert (bob.email, bob.get_full_name()) == ("bob@example.org", "Bob Brown")
    assert roles(news.project)["bob"] == "curator"
    assert password not in client.get(people_url(news)).content.decode()  # shown once
    assert signs_in(client, "bob", password)


def test_a_taken_username_is_refused_whatever_its_case(client, news):
    client.force_login(news.manager)
    response = client.post(people_url(news), {"username": "ALICE", "role": "annotator", "how": "account"})
    assert response.status_code == 400
    assert "The username &#x27;ALICE&#x27; is taken." in response.content.decode()
    assert User.objects.count() == 2


def test_an_invitation_link_makes_the_account_with_its_role_and_then_stops_working(client, news):
    client.force_login(news.manager)
    response = client.post(
        people_url(news), {"username": "dora", "full_name": "Dora", "role": "annotator", "how": "invite"}
    )
    link = re.search(r'<code class="token-secret">([^<]+)</code>', response.content.decode()).group(1)
    assert link.startswith("http://testserver/invitations/")
    invitation = Invitation.objects.get()
    assert invitation.digest == invitation_digest(link.rstrip("/").rsplit("/", 1)[1])  # only the digest kept
    assert invitation.expires_at - invitation.created_at == timedelta(days=7)
    assert not User.objects.filter(username="dora").exists()

    client.logout()
    path = link.removeprefix("http://testserver")
    assert "Join News" in client.get(path).content.decode()
    mismatch = client.post(path, {"password1": "a-long-passphrase-1", "password2": "another-one-2"})
    assert mismatch.status_code == 400
    assert "The two passwords differ." in mismatch.content.decode()
    weak = client.post(path, {"password1": "dora", "password2": "dora"})
    assert "This password is too short." in weak.content.decode()
    assert not User.objects.filter(username="dora").exists()

    done = client.post(path, {"password1": "a-long-passphrase-1", "password2": "a-long-passphrase-1"})
    assert done["Location"] == reverse("projects:detail", args=[news.project.pk])
    dora = User.objects.get(username="dora")
    assert dora.check_password("a-long-passphrase-1")
    assert roles(news.project)["dora"] == "annotator"
    invitation.refresh_from_db()
    assert (invitation.state, invitation.accepted_by) == ("accepted", dora)
    assert client.get(reverse("projects:detail", args=[news.project.pk])).status_code == 200  # logged in
    client.logout()
    assert client.get(path).status_code == 404  # used once


def test_expired_and_revoked_invitations_do_not_work(client, news):
    _, secret = invite(project=news.project, username="eve", role=Role.ANNOTATOR, by=news.manager)
    invitation = Invitation.objects.get()
    Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    url = reverse("accounts:accept", args=[secret])
    assert client.get(url).status_code == 404
    with pytest.raises(AccountError, match="not valid any more"):
        accept_invitation(secret=secret, password="a-long-passphrase-1")
    Invitation.objects.update(expires_at=timezone.now() + timedelta(days=1))
    client.force_login(news.manager)
    client.post(reverse("accounts:revoke", args=[news.project.pk, invitation.pk]))
    client.logout()
    assert client.get(url).status_code == 404
    assert "does not work" in client.get(url).content.decode()
    assert not User.objects.filter(username="eve").exists()


def test_someone_logged_in_joins_by_invitation_as_themselves(client, news):
    _, secret = invite(project=news.project, username="newname", role=Role.CURATOR, by=news.manager)
    bob = UserFactory(username="bob")
    client.force_login(bob)
    client.post(reverse("accounts:accept", args=[secret]), {"join": "1"})
    assert roles(news.project)["bob"] == "curator"
    assert not User.objects.filter(username="newname").exists()


@pytest.mark.parametrize("role", [Role.ANNOTATOR, Role.CURATOR])
def test_only_managers_add_people(client, news, role):
    user = UserFactory(username="someone")
    MembershipFactory(project=news.project, user=user, role=role)
    client.force_login(user)
    data = {"username": "bob", "role": "manager", "how": "account"}
    assert client.post(people_url(news), data).status_code == 403
    api = reverse("api:project-accounts", args=[news.project.pk])
    assert client.post(api, data, content_type="application/json").status_code == 403
    assert not User.objects.filter(username="bob").exists()


def test_the_account_page_changes_the_password_and_lists_projects_and_tokens(client, news):
    create_token(user=news.annotator, name="laptop")
    assert signs_in(client, "alice", "correct horse battery staple")
    page = client.get(reverse("accounts:account")).content.decode()
    assert "News" in page
    assert "Annotator" in page
    assert "You have 1 usable token." in page
    assert reverse("tokens:list") in page
    wrong = client.post(
        reverse("accounts:account"),
        {
            "old_password": "nope",
            "new_password1": "a-new-passphrase-9",
            "new_password2": "a-new-passphrase-9",
        },
    )
    assert wrong.status_code == 400
    client.post(
        reverse("accounts:account"),
        {"old_password": "correct horse battery staple", "new_password1": "a-new-passphrase-9",
         "new_password2": "a-new-passphrase-9"},
    )  # fmt: skip
    news.annotator.refresh_from_db()
    assert news.annotator.check_password("a-new-passphrase-9")
    assert client.get(reverse("accounts:account")).status_code == 200  # still logged in


def test_an_account_without_a_password_here_is_offered_no_password_form(client, news, settings):
    settings.ANNOTATOR_OIDC_ISSUER, settings.ANNOTATOR_OIDC_LABEL = (
        "https://idp.example/realms/uni",
        "Uni <b>ID</b>",
    )
    ada = UserFactory(username="ada")
    ada.set_unusable_password()  # as single sign-on makes accounts
    ada.save()
    client.force_login(ada)
    page = client.get(reverse("accounts:account")).content.decode()
    assert "Change your password" not in page
    assert 'name="old_password"' not in page
    assert "You sign in with Uni &lt;b&gt;ID&lt;/b&gt;: your password is kept there, not here." in page
    refused = client.post(
        reverse("accounts:account"),
        {"old_password": "", "new_password1": "a-new-passphrase-9", "new_password2": "a-new-passphrase-9"},
    )
    assert refused.status_code == 400
    assert "This account has no password here to change." in refused.content.decode()
    ada.refresh_from_db()
    assert not ada.has_usable_password()


def test_no_password_form_where_local_passwords_are_off(client, news, settings):
    settings.ANNOTATOR_OIDC_ISSUER, settings.ANNOTATOR_LOCAL_PASSWORDS = (
        "https://idp.example/realms/uni",
        False,
    )
    client.force_login(news.annotator)  # has a password, which no sign-in here accepts
    page = client.get(reverse("accounts:account")).content.decode()
    assert 'name="old_password"' not in page


def test_password_reset_is_offered_only_where_the_site_sends_mail(client, news, settings):
    news.annotator.email = "alice@example.org"
    news.annotator.save()
    settings.ANNOTATOR_EMAIL_ENABLED = False
    assert "This site sends no e-mail" in client.get(reverse("password_reset")).content.decode()
    client.post(reverse("password_reset"), {"email": "alice@example.org"})
    assert mail.outbox == []
    settings.ANNOTATOR_EMAIL_ENABLED = True
    client.post(reverse("password_reset"), {"email": "alice@example.org"})
    assert len(mail.outbox) == 1
    link = re.search(r"http://testserver(/accounts/reset/\S+)", mail.outbox[0].body).group(1)
    form = client.get(link, follow=True)
    assert "Choose a new password" in form.content.decode()
    client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "a-reset-passphrase-3", "new_password2": "a-reset-passphrase-3"},
    )
    news.annotator.refresh_from_db()
    assert news.annotator.check_password("a-reset-passphrase-3")


def test_an_invitation_is_mailed_when_the_site_sends_mail(client, news, settings):
    settings.ANNOTATOR_EMAIL_ENABLED = True
    client.force_login(news.manager)
    client.post(
        people_url(news),
        {"username": "fay", "email": "fay@example.org", "role": "annotator", "how": "invite"},
    )
    assert [message.to for message in mail.outbox] == [["fay@example.org"]]
    assert "http://testserver/invitations/" in mail.outbox[0].body


def test_staff_deactivate_and_reactivate_accounts(client, news):
    staff = UserFactory(username="root")
    staff.is_staff = True
    staff.save()
    _, secret = create_token(user=news.annotator, name="t")
    client.force_login(staff)
    page = client.get(reverse("accounts:users") + "?q=ali").content.decode()
    assert "alice" in page
    assert "maria" not in page
    url = reverse("accounts:user-active", args=[news.annotator.pk])
    client.post(url, {"active": "0"})
    news.annotator.refresh_from_db()
    assert not news.annotator.is_active
    assert not signs_in(client, "alice", "correct horse battery staple")
    client.force_login(staff)
    token_answer = client.get(reverse("api:account"), HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert token_answer.status_code == 401
    client.post(url, {"active": "1"})
    news.annotator.refresh_from_db()
    assert news.annotator.is_active
    own = client.post(reverse("accounts:user-active", args=[staff.pk]), {"active": "0"}, follow=True)
    assert "You cannot deactivate your own account." in own.content.decode()
    client.force_login(news.manager)
    assert client.get(reverse("accounts:users")).status_code == 403
    assert client.post(url, {"active": "0"}).status_code == 403


def test_the_api_makes_accounts_and_invitations_and_staff_manage_users(client, news):
    client.force_login(news.manager)
    made = client.post(
        reverse("api:project-accounts", args=[news.project.pk]),
        {"username": "gus", "role": "annotator"},
        content_type="application/json",
    )
    assert made.status_code == 201
    assert User.objects.get(username="gus").check_password(made.json()["password"])
    invited = client.post(
        reverse("api:project-invitations", args=[news.project.pk]),
        {"username": "hal", "role": "curator", "email": "hal@example.org"},
        content_type="application/json",
    )
    assert invited.status_code == 201
    body = invited.json()
    assert (body["state"], body["mailed"], body["link"][:30]) == (
        "pending",
        False,
        "http://testserver/invitations/",
    )
    listed = client.get(reverse("api:project-invitations", args=[news.project.pk])).json()
    assert [(i["username"], i["state"]) for i in listed] == [("hal", "pending")]
    assert "link" not in listed[0]
    revoked = client.delete(reverse("api:project-invitation", args=[news.project.pk, body["id"]]))
    assert revoked.status_code == 204
    assert Invitation.objects.get().state == "revoked"
    taken = client.post(
        reverse("api:project-accounts", args=[news.project.pk]),
        {"username": "gus", "role": "annotator"},
        content_type="application/json",
    )
    assert taken.status_code == 400
    assert taken.json()["error"]["fields"] == {"username": ["The username 'gus' is taken."]}
    account = client.get(reverse("api:account")).json()
    assert account["projects"] == [{"id": news.project.pk, "name": "News", "role": "manager"}]
    assert client.get(reverse("api:user-list")).status_code == 403
    news.manager.is_staff = True
    news.manager.save()
    users = client.get(reverse("api:user-list") + "?q=gus").json()["results"]
    assert [(u["username"], u["projects"], u["is_active"]) for u in users] == [("gus", 1, True)]
    patched = client.patch(
        reverse("api:user-detail", args=[users[0]["id"]]),
        {"is_active": False},
        content_type="application/json",
    )
    assert patched.json()["is_active"] is False
    assert not User.objects.get(username="gus").is_active


def test_non_members_get_404_from_the_project_people_endpoints(client, news, outsider):
    client.force_login(outsider)
    for url in (
        people_url(news),
        reverse("api:project-invitations", args=[news.project.pk]),
    ):
        assert client.get(url).status_code == 404
    assert client.post(
        reverse("api:project-accounts", args=[news.project.pk]), {"username": "x", "role": "annotator"},
        content_type="application/json",
    ).status_code == 404  # fmt: skip
