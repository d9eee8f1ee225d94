"""Playwright driving Debian's chromium (never a downloaded browser) against Django's live server.

Every page a test opens is watched: a console error (CSP violations are console errors), a JavaScript
dialog (alert, confirm) or a request to another origin fails the test.
"""

import os
import shutil
from urllib.parse import urlsplit

import pytest
from django.db import connections
from playwright.sync_api import expect, sync_playwright

# Playwright's sync API runs an event loop in the test thread; Django's ORM refuses to run inside one
# unless told that this is deliberate.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

# Assertions wait for the page; a loaded 2-core CI host can be slow, so give them room (they pass at once
# when the page is right, so a long limit costs nothing). Actions and navigations too: a click can wait on
# a request that runs a job in the live server (pre-annotation with spaCy), beside another test process.
expect.set_options(timeout=30_000)
ACTION_TIMEOUT_MS = 60_000

CHROMIUM = os.environ.get("ANNOTATOR_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these, chromium calls home at start; the machine's closed network refuses it noisily.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # A wheel scrolls at once, not over an animation: a position read after it is where the page stays.
    "--disable-smooth-scrolling",
]


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"No chromium at {CHROMIUM}: install Debian's package (apt-get install chromium).")
    # While Playwright runs, its event loop is this thread's running loop between its calls, and Django
    # keeps this thread's connections apart from those before and after (asgiref's Local holds them per
    # context while a loop runs): every test of the process from here on uses a second set. Each set is
    # closed as its time ends. The second set's last connection (left by a test in a transaction, or by a
    # flush) stayed out of the pool once Playwright had stopped, where no close could reach it: a session
    # on the test database at the end of the run, which the teardown guard then had to end.
    connections.close_all()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()
            connections.close_all()


class PageProblems(list):
    """What went wrong on the pages of one test, reported all at once at its end.

    A test that provokes an error on purpose (a refused save logs "Failed to load resource: ... 409")
    declares it with `expect(...)`; anything else still fails the test.
    """

    def __init__(self) -> None:
        super().__init__()
        self.expected: list[str] = []

    def expect(self, fragment: str) -> None:
        self.expected.append(fragment)

    def unexpected(self) -> list[str]:
        return [problem for problem in self if not any(fragment in problem for fragment in self.expected)]


def watch(page, origin: str) -> PageProblems:
    """Record on `page` every console error, page error, dialog and request to a host other than `origin`."""
    problems = PageProblems()
    page.on(
        "console", lambda message: message.type == "error" and problems.append(f"console: {message.text}")
    )
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))

    def on_dialog(dialog):
        problems.append(f"dialog ({dialog.type}): {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on(
        "request",
        lambda request: (
            urlsplit(request.url).netloc not in (origin, "")
            and not request.url.startswith(("data:", "about:"))
            and problems.append(f"request left the site: {request.url}")
        ),
    )
    page.problems = problems
    return problems


@pytest.fixture
def watched_page(browser, live_server):
    """Open watched pages in new browser contexts (`**context_options` as for `browser.new_context`);
    the test fails at its end if any of them had a problem it did not expect."""
    opened = []

    def open_page(**context_options):
        context = browser.new_context(
            base_url=live_server.url, viewport={"width": 1280, "height": 900}, **context_options
        )
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        page = context.new_page()
        opened.append((context, watch(page, urlsplit(live_server.url).netloc)))
        return page

    yield open_page
    for context, _ in opened:
        context.close()
    unexpected = [problem for _, problems in opened for problem in problems.unexpected()]
    assert not unexpected, "\n".join(unexpected)


@pytest.fixture
def page(watched_page):
    return watched_page()


@pytest.fixture
def log_in(page):
    """Log in through the real form, as a person would."""

    def log_in_as(username, password="correct horse battery staple"):
        page.goto("/accounts/login/")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url("**/projects/")

    return log_in_as
