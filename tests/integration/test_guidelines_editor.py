"""Editing the guidelines: Markdown with a safe preview, each save a new version, the API the same."""

import re

import pytest
from django.urls import reverse

from annotator.projects.models import GuidelineVersion, Role
from tests import hostile
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_preview_then_save_makes_a_version_and_the_annotate_page_shows_it(client, news):
    client.force_login(news.manager)
    url = reverse("projects:guidelines_edit", args=[news.project.pk])
    preview = client.post(url, {"text": hostile.GUIDELINES, "action": "preview"}, HTTP_HX_REQUEST="true")
    page = preview.content.decode()
    assert preview.status_code == 200
    assert not re.search(r"<\w+ data-pwned", page)
    assert "<script>window" not in page
    assert "<h1>Guide " in page
    assert not GuidelineVersion.objects.exists()
    saved = client.post(url, {"text": "# One\n\nMark *names*.", "action": "save"}, follow=True)
    assert "Saved as version 1." in saved.content.decode()
    client.post(url, {"text": "# Two", "action": "save"})
    assert list(GuidelineVersion.objects.values_list("number", "text", "created_by")) == [
        (2, "# Two", news.manager.pk),
        (1, "# One\n\nMark *names*.", news.manager.pk),
    ]
    same = client.post(url, {"text": "# Two", "action": "save"}, follow=True)
    assert "Nothing changed: the guidelines stay at version 2." in same.content.decode()
    client.force_login(news.annotator)
    annotate = client.get(reverse("review:annotate", args=[news.article.pk])).content.decode()
    assert "Guidelines v2" in annotate
    assert "<h1>Two</h1>" in annotate


def test_the_api_reads_and_writes_versions(client, news):
    url = reverse("api:guidelines", args=[news.project.pk])
    client.force_login(news.annotator)
    assert client.get(url).status_code == 204
    assert client.put(url, {"text": "x"}, content_type="application/json").status_code == 403
    client.force_login(news.manager)
    first = client.put(url, {"text": "# Rules"}, content_type="application/json").json()
    assert (first["number"], first["text"], first["created_by"]) == (1, "# Rules", "maria")
    assert client.put(url, {"text": "# Rules 2"}, content_type="application/json").json()["number"] == 2
    client.force_login(news.annotator)
    assert client.get(url).json()["number"] == 2


@pytest.mark.parametrize("role", [Role.ANNOTATOR, Role.CURATOR])
def test_only_managers_edit(client, news, role, outsider):
    user = UserFactory(username="someone")
    MembershipFactory(project=news.project, user=user, role=role)
    client.force_login(user)
    url = reverse("projects:guidelines_edit", args=[news.project.pk])
    assert client.post(url, {"text": "x", "action": "save"}).status_code == 403
    assert (
        "Edit the guidelines"
        not in client.get(reverse("projects:guidelines", args=[news.project.pk])).content.decode()
    )
    client.force_login(outsider)
    assert client.get(url).status_code == 404
    assert not GuidelineVersion.objects.exists()
