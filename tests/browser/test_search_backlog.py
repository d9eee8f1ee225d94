"""In Chromium: right after an import, the article browser lists the new articles, says how many are still
being indexed for search and finds them word by word; once the index job has run, the notice is gone."""

import json
import os
import re
import tempfile
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from annotator.articles.indexing import start_search_indexing
from annotator.interchange.formats.sources import BytesSource
from annotator.interchange.options import ImportOptions
from annotator.interchange.services import import_articles
from annotator.jobs.services import run_job
from annotator.projects.models import Role
from annotator.projects.services import add_member
from tests.browser.axe import assert_accessible
from tests.factories import ProjectFactory

SCREENS = Path(os.environ.get("ANNOTATOR_SCREENSHOTS", tempfile.gettempdir()))


@pytest.fixture
def imported(transactional_db, monkeypatch):
    project = ProjectFactory(name="Wire", slug="wire")
    user = get_user_model().objects.create_user("maria", password="correct horse battery staple")
    add_member(project=project, user=user, role=Role.MANAGER)
    records = [
        {"external_id": "w-1", "title": "Storm", "text": "Hail over Gomel on Sunday."},
        {"external_id": "w-2", "title": "Frost", "text": "Frost in Gomel and Mogilev."},
    ]
    data = ("\n".join(json.dumps(record) for record in records) + "\n").encode()
    # The test settings' task backend would run the index job at once; here it waits, as behind a busy queue.
    monkeypatch.setattr("annotator.articles.indexing.start_search_indexing", lambda **kwargs: None)
    import_articles(project=project, source=BytesSource("wire.jsonl", data), options=ImportOptions(format="jsonl"),
                    by=user)  # fmt: skip
    monkeypatch.undo()
    return project, user


def test_the_browser_says_what_search_does_not_see_yet(page, log_in, imported):
    project, user = imported
    log_in("maria")
    page.goto(f"/projects/{project.pk}/articles/")
    notice = page.locator("#search-backlog")
    assert notice.inner_text() == (
        "2 articles are still being indexed for search: a search reads them word by word meanwhile, a little slower."
    )
    assert notice.get_attribute("role") == "status"
    page.get_by_label("Search articles").fill("mogilev")
    page.get_by_label("Search articles").press("Enter")
    # A plain GET form: the new page may still be loading when press() returns, so wait for its rows.
    expect(page).to_have_url(re.compile(r"[?&]q=mogilev"))
    expect(page.locator("#articles tbody tr td:nth-child(2)")).to_have_text(["Frost · read"])
    page.screenshot(path=str(SCREENS / "i18bulk-indexing.png"), full_page=True)
    assert_accessible(page, "the articles page while indexing")
    job = start_search_indexing(project=project, by=user, queue=False)
    assert run_job(job).status == "succeeded"
    page.reload()
    expect(page.locator("#search-backlog")).to_have_count(0)
    expect(page.locator("#articles tbody tr td:nth-child(2)")).to_have_text(["Frost · read"])
