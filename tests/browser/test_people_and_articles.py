"""In Chromium: a manager invites someone who makes their account from the link; the article browser
searches and deletes; the account, people, articles and lifecycle pages fit 320 px. Screenshots are kept
in ANNOTATOR_SCREENSHOTS (the temporary directory by default) to be looked at."""

import os
import re
import tempfile
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from annotator.articles.models import Article
from annotator.projects.models import Membership, Role
from annotator.projects.services import add_member
from tests.factories import ArticleFactory, EntityTypeFactory, ProjectFactory

SCREENS = Path(os.environ.get("ANNOTATOR_SCREENSHOTS", tempfile.gettempdir()))
# Elements wider than a 320 px screen, outside the tables that scroll on their own.
STICKING_OUT = (
    "[...document.querySelectorAll('main *')].filter(e => !e.closest('.table-scroll, table')"
    " && e.getBoundingClientRect().right > 322).map(e => e.tagName + '.' + e.className)"
)


@pytest.fixture
def project(transactional_db):
    project = ProjectFactory(name="Newsroom", slug="newsroom")
    EntityTypeFactory(project=project, name="PERSON")
    user = get_user_model().objects.create_user("maria", password="correct horse battery staple")
    add_member(project=project, user=user, role=Role.MANAGER)
    ArticleFactory(project=project, title="Naryshkin in Minsk", text="Sergey Naryshkin visited Minsk.")
    ArticleFactory(project=project, title="Weather", text="Rain in Brest.", metadata={"source": "Belta"})
    return project


def test_invite_someone_browse_and_delete_articles_and_every_page_fits_320_px(page, log_in, project):
    log_in("maria")
    page.goto(f"/projects/{project.pk}/members/")
    page.get_by_role("button", name="Make an account or invite someone new").click()
    page.get_by_label("Username").fill("dora")
    page.get_by_label("Full name").fill("Dora Explorer")
    page.get_by_label("Role").select_option("curator")
    page.get_by_label("Send an invitation link").check()
    page.get_by_label("Full name").press("Enter")  # the keyboard submits the form
    expect(page.locator("#invitations tbody tr")).to_have_count(1)
    link = page.locator("#new-invitation code").inner_text()
    assert re.fullmatch(r"http://[^/]+/invitations/[\w-]+/", link)
    page.screenshot(path=str(SCREENS / "i14-people.png"), full_page=True)

    page.get_by_role("button", name="Log out maria").click()
    page.wait_for_url("**/accounts/login/")  # signed out before the link is opened
    page.goto(link)
    page.get_by_label("Password", exact=True).fill("a-long-passphrase-1")
    page.get_by_label("The password again").fill("a-long-passphrase-1")
    page.screenshot(path=str(SCREENS / "i14-invitation.png"), full_page=True)
    page.get_by_role("button", name="Make my account").click()
    page.wait_for_url(f"**/projects/{project.pk}/")
    assert Membership.objects.get(user__username="dora").role == Role.CURATOR
    page.get_by_role("button", name="Log out dora").click()
    page.wait_for_url("**/accounts/login/")

    log_in("maria")
    page.goto(f"/projects/{project.pk}/articles/")
    page.get_by_label("Search articles").fill("belta")
    page.get_by_label("Search articles").press("Enter")
    page.wait_for_url("**q=belta**")
    expect(page.locator("#articles tbody tr td:nth-child(2)")).to_have_text(["Weather · read"])
    page.get_by_label("Choose Weather").check()
    page.get_by_role("button", name="Delete the chosen…").click()
    page.locator("#deletion-counts").wait_for()
    page.screenshot(path=str(SCREENS / "i14-delete-articles.png"), full_page=True)
    page.get_by_role("button", name="Delete them").click()
    page.wait_for_url(f"**/projects/{project.pk}/articles/")
    assert list(Article.objects.values_list("title", flat=True)) == ["Naryshkin in Minsk"]

    page.set_viewport_size({"width": 320, "height": 800})
    for name, url in [
        ("account", "/account/"),
        ("people", f"/projects/{project.pk}/people/"),
        ("articles", f"/projects/{project.pk}/articles/"),
        ("lifecycle", f"/projects/{project.pk}/lifecycle/"),
    ]:
        page.goto(url)
        assert page.evaluate(STICKING_OUT) == [], name
        assert page.evaluate("document.documentElement.scrollWidth") <= 320, name
        page.screenshot(path=str(SCREENS / f"i14-{name}-320.png"), full_page=True)
