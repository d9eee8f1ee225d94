"""Managing a project's members: add by username, change roles, remove; never the last manager."""

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from annotator.annotations.models import AnnotationSet
from annotator.projects.models import Membership, Role
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def roles(project):
    return dict(Membership.objects.filter(project=project).values_list("user__username", "role"))


def test_managers_add_people_change_roles_and_remove_members(client, news):
    UserFactory(username="bob")
    client.force_login(news.manager)
    url = reverse("projects:members", args=[news.project.pk])
    assert client.post(url, {"username": "bob", "role": "curator"})["Location"] == url
    assert roles(news.project) == {"alice": "annotator", "maria": "manager", "bob": "curator"}
    client.post(url, {"username": "bob", "role": "annotator"})
    assert roles(news.project)["bob"] == "annotator"
    client.post(url, {"username": "alice", "role": "annotator", "remove": "1"})
    assert roles(news.project) == {"maria": "manager", "bob": "annotator"}
    assert AnnotationSet.objects.filter(annotator=news.annotator).count() == 1  # her annotations stay
    page = client.get(url).content.decode()
    assert "alice is no longer a member." in page


def test_unknown_people_and_the_last_manager_are_refused(client, news):
    client.force_login(news.manager)
    url = reverse("projects:members", args=[news.project.pk])
    unknown = client.post(url, {"username": "nobody", "role": "annotator"})
    assert unknown.status_code == 400
    assert (
        "There is no active user named &#x27;nobody&#x27;; make them an account or invite them under Add people."
        in unknown.content.decode()
    )
    response = client.post(url, {"username": "maria", "role": "annotator"}, follow=True)
    assert (
        "maria is the project&#x27;s only manager: make someone else manager first."
        in response.content.decode()
    )
    client.post(url, {"username": "maria", "role": "manager", "remove": "1"})
    assert roles(news.project) == {"alice": "annotator", "maria": "manager"}
    with pytest.raises(CommandError, match="only manager"):
        call_command("add_member", "maria", "--project", "news", "--role", "curator")


@pytest.mark.parametrize("role", [Role.ANNOTATOR, Role.CURATOR])
def test_other_members_cannot_manage_members(client, news, role):
    user = UserFactory(username="someone")
    MembershipFactory(project=news.project, user=user, role=role)
    client.force_login(user)
    url = reverse("projects:members", args=[news.project.pk])
    assert client.get(url).status_code == 403
    assert client.post(url, {"username": "someone", "role": "manager"}).status_code == 403
    assert roles(news.project)["someone"] == role


def test_the_members_api(client, news):
    UserFactory(username="bob")
    client.force_login(news.manager)
    url = reverse("api:project-members", args=[news.project.pk])
    added = client.post(url, {"username": "bob", "role": "curator"}, content_type="application/json")
    assert {k: v for k, v in added.json().items() if k != "user"} == {"username": "bob", "role": "curator"}
    assert [(m["username"], m["role"]) for m in client.get(url).json()] == [
        ("alice", "annotator"), ("bob", "curator"), ("maria", "manager"),
    ]  # fmt: skip
    unknown = client.post(url, {"username": "nobody", "role": "curator"}, content_type="application/json")
    assert unknown.status_code == 400
    last = client.delete(reverse("api:project-member", args=[news.project.pk, news.manager.pk]))
    assert (last.status_code, last.json()["error"]["fields"]["user"]) == (
        400,
        ["maria is the project's only manager: make someone else manager first."],
    )
    assert (
        client.delete(reverse("api:project-member", args=[news.project.pk, news.annotator.pk])).status_code
        == 204
    )
    assert roles(news.project) == {"bob": "curator", "maria": "manager"}
    client.force_login(UserFactory(username="bob"))
    assert client.get(url).status_code == 403


def test_the_members_page_escapes_usernames(client, news):
    evil = UserFactory(username="<b>eve</b>🦊")
    MembershipFactory(project=news.project, user=evil, role=Role.ANNOTATOR)
    client.force_login(news.manager)
    page = client.get(reverse("projects:members", args=[news.project.pk])).content.decode()
    assert "<b>eve</b>" not in page
    assert "&lt;b&gt;eve&lt;/b&gt;🦊" in page
