"""A long article in Chromium: the page opens before its suggestions exist, then fills them in by itself."""

import re

from playwright.sync_api import expect

from annotator.jobs.models import Job, JobStatus
from tests.browser.test_annotate_page import open_annotate, world  # noqa: F401 - the fixture


def test_a_long_article_shows_its_suggestions_when_the_job_that_computes_them_ends(
    page,
    log_in,
    world,  # noqa: F811 - the fixture imported above
    settings,
):
    settings.ANNOTATOR_SUGGEST_ON_OPEN = True
    settings.ANNOTATOR_SUGGEST_INLINE_MAX_CHARS = 10  # the article is "long"
    open_annotate(page, log_in, world["article"])
    # Tests run tasks in-process: the job ran as the page opened; the page still found it queued.
    assert Job.objects.get().status == JobStatus.SUCCEEDED
    expect(page.locator("#text mark.sugg", has_text="Minsk")).to_have_count(1, timeout=15_000)
    expect(page.locator("#suggesting")).to_have_count(0)
    row = page.locator("#suggestion-list .row.kind-entity", has_text="Minsk")
    expect(row).to_have_count(1)
    expect(page.locator("#count-suggestions")).not_to_have_text(re.compile(r"^0$"))
