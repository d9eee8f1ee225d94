"""A person's first minutes: log in, find the demo project, open an article, read it as stored."""

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from annotator.articles.models import Article
from annotator.projects.demo import load_demo
from annotator.projects.models import Role
from annotator.projects.services import add_member
from tests.factories import ArticleFactory

HOSTILE_TEXT = (
    '<script>alert("text")</script><img src=x onerror=alert(1)>\n'
    "{{ 7|add:1 }} \u202egnp.exe \U0001f469\u200d\U0001f469\u200d\U0001f467 <iframe src=https://example.org>"
)


@pytest.fixture
def demo(transactional_db):
    report = load_demo()
    user = get_user_model().objects.create_user("reader", password="correct horse battery staple")
    add_member(project=report.project, user=user, role=Role.ANNOTATOR)
    return report.project


def test_log_in_open_the_demo_project_and_read_an_article_as_stored(page, log_in, demo):
    log_in("reader")
    page.get_by_role("link", name="Russia–Belarus intelligence (demo)").click()
    page.get_by_role("heading", name="Articles").wait_for()
    expect(page.get_by_role("link", name="All 2")).to_be_visible()
    page.get_by_role("link", name="Russia, Belarus Spy Agencies Join Forces").click()  # the annotate page
    article = Article.objects.get(external_id="003_766ee5fd7c71a526")
    # Loaded whole: a long text read while the parser is still in it would be cut short.
    page.wait_for_url(f"**/articles/{article.pk}/annotate/")
    assert page.locator("#text").text_content() == article.text  # byte for byte: leading space, line breaks
    page.goto(article.get_absolute_url())  # the read-only page renders the whole text at once
    assert page.locator(".article-text").text_content() == article.text
    box = page.locator(".article-text").bounding_box()
    assert box["height"] > 1000  # the PDF's hard line breaks are rendered as line breaks


def test_wrong_password_is_refused_in_the_browser(page, demo):
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("reader")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_have_text("Your username and password did not match. Try again.")


def test_hostile_article_text_runs_nothing_and_is_shown_literally(page, log_in, demo):
    article = ArticleFactory(project=demo, title=HOSTILE_TEXT.replace("\n", " "), text=HOSTILE_TEXT)
    log_in("reader")
    page.goto(f"/articles/{article.pk}/")
    assert page.locator(".article-text").text_content() == HOSTILE_TEXT
    assert page.locator(".article-text script, .article-text img, .article-text iframe").count() == 0
    assert page.get_by_role("heading", level=1).text_content() == HOSTILE_TEXT.replace("\n", " ")
    # The page fixture fails the test on any dialog, console error or request to another origin.


def test_logging_out_ends_the_session(page, log_in, demo):
    log_in("reader")
    page.get_by_role("button", name="Log out reader").click()
    page.wait_for_url("**/accounts/login/")
    page.goto("/projects/")
    assert "/accounts/login/" in page.url
