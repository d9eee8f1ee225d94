"""A manager pre-annotates the demo project from the suggesters page, watches a job's progress, and sets
the label map and learning loop from the keyboard."""

import os
import tempfile
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from annotator.articles.models import Article
from annotator.jobs.models import Job, JobKind, JobStatus
from annotator.projects.demo import load_demo
from annotator.projects.models import Role
from annotator.projects.services import add_member
from annotator.suggestions.models import Suggestion
from tests.browser.axe import assert_accessible
from tests.browser.polls import polls_held


@pytest.fixture
def demo(transactional_db):
    project = load_demo().project
    manager = get_user_model().objects.create_user("manager", password="correct horse battery staple")
    add_member(project=project, user=manager, role=Role.MANAGER)
    return project


def test_a_manager_pre_annotates_the_demo_and_reads_the_suggestions(page, log_in, demo):
    log_in("manager")
    page.get_by_role("link", name="Russia–Belarus intelligence (demo)").click()
    page.get_by_role("link", name="Suggesters").click()
    page.get_by_role("heading", name="Suggesters", level=1).wait_for()
    expect(page.get_by_text("No pre-annotation or training job yet.")).to_be_visible()
    page.get_by_label("Pre-annotate articles with the active suggester").select_option("")
    page.get_by_role("button", name="Pre-annotate").click()
    page.get_by_text("Pre-annotation started").wait_for()
    page.wait_for_load_state()  # the page whole, not only as far as the parser has come
    job_row = page.locator("#job-list tbody tr").first
    assert "Succeeded" in job_row.text_content()
    assert "Pre-annotated 2 articles: 258 suggestions added, 0 replaced." in job_row.text_content()
    version = page.locator("article.suggester-version").first
    assert "rules 4" in version.locator("header").text_content()
    assert "active" in version.locator("header").text_content()
    cells = [cell.strip() for cell in version.locator("tr.total").first.locator("td, th").all_text_contents()]
    assert cells[:3] == ["entity", "ALL", "132"]  # suggested entities; no curated gold yet, so no P/R/F1
    assert Suggestion.objects.count() == 258

    article = Article.objects.get(external_id="000_125af6e3d0378b0b")
    response = page.request.get(f"/api/v1/articles/{article.pk}/suggestions?kind=entity&page_size=200")
    assert response.status == 200
    first = response.json()["results"][0]
    assert (first["text"], first["entity_type"], first["source"]) == ("MINSK", "GPE", "kb-ruler")


def test_the_jobs_region_follows_a_running_job_until_it_ends(page, log_in, demo):
    job = Job.objects.create(
        project=demo, kind=JobKind.PREANNOTATE, status=JobStatus.RUNNING, progress_done=1, progress_total=4,
        message="Pre-annotating 4 articles with rules 1.",
    )  # fmt: skip
    log_in("manager")
    page.goto(f"/projects/{demo.pk}/suggesters/")
    assert page.locator("#job-list progress").get_attribute("value") == "1"
    Job.objects.filter(pk=job.pk).update(progress_done=3)
    # Polled every 2 s: the default limit (15 s) leaves a loaded machine room for a few polls.
    expect(page.locator("#job-list progress")).to_have_attribute("value", "3")
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.SUCCEEDED, progress_done=4, message="Pre-annotated 4 articles."
    )
    expect(page.get_by_text("Pre-annotated 4 articles.")).to_be_visible()
    assert page.locator("#job-list").get_attribute("hx-trigger") is None  # finished: polling stops


SCREENS = Path(os.environ.get("ANNOTATOR_SCREENSHOTS", tempfile.gettempdir()))


def test_a_manager_maps_labels_and_sets_the_learning_loop_with_the_keyboard(page, log_in, demo):
    """The label map and the learning settings, reached and saved from the keyboard; the page at 320 px."""
    log_in("manager")
    page.goto(f"/projects/{demo.pk}/suggesters/")
    norp = page.get_by_label("NORP becomes")
    expect(norp).to_have_value("NORP")  # the demo's schema has NORP: the list's label keeps its name
    norp.focus()
    norp.select_option("-")  # dropped
    page.keyboard.press("Tab")
    page.get_by_role("button", name="Save the label map").focus()
    page.keyboard.press("Enter")
    page.get_by_text("The label map saved.").wait_for()
    expect(page.get_by_label("NORP becomes")).to_have_value("-")
    after = page.get_by_label("First training after (annotated articles)")
    after.fill("12")
    after.press("Enter")  # submits the form
    page.get_by_text("The learning settings saved.").wait_for()
    expect(page.get_by_text("The project's model trains by itself at 12 annotated articles.")).to_be_visible()
    page.screenshot(path=str(SCREENS / "suggesters-settings.png"), full_page=True)
    page.set_viewport_size({"width": 320, "height": 900})
    page.reload()
    # Nothing of the page's own content is wider than the screen; wide tables scroll inside themselves.
    # (The site header's links are base.html's, outside this page.)
    sticking_out = page.evaluate(
        "[...document.querySelectorAll('main *')].filter(e => !e.closest('table')"
        " && e.getBoundingClientRect().right > 322).map(e => e.tagName + '.' + e.className)"
    )
    assert sticking_out == []
    # Each table scrolls inside its own box (.table-scroll, which a keyboard can focus), never the page.
    assert page.evaluate(
        "[...document.querySelectorAll('main table')].every(t => t.closest('.table-scroll, .overflow-auto')"
        " && t.closest('.table-scroll, .overflow-auto').clientWidth <= 320)"
    )
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    page.screenshot(path=str(SCREENS / "suggesters-320.png"), full_page=True)
    page.goto(f"/projects/{demo.pk}/gold/curate/")
    page.get_by_role("heading", name="Curate gold in bulk").wait_for()
    page.screenshot(path=str(SCREENS / "curate-gold-320.png"), full_page=True)


def test_a_running_pre_annotation_is_cancelled_from_the_jobs_list_by_keyboard(page, log_in, demo, settings):
    """Tab to the running job's Cancel button while the list polls (the button keeps the focus across
    swaps), Enter: the job is cancelled, the part already done keeps its suggestions."""
    from annotator.jobs import registry
    from annotator.jobs.chunks import plan_chunks, run_chunk
    from annotator.jobs.progress import Progress
    from annotator.jobs.services import create_job

    settings.ANNOTATOR_JOB_CHUNK_ARTICLES = 1
    manager = get_user_model().objects.get(username="manager")
    job = create_job(kind=JobKind.PREANNOTATE, project=demo, params={}, by=manager)
    Job.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING)
    job.refresh_from_db()
    handler = registry.handler_for(JobKind.PREANNOTATE)
    chunks = plan_chunks(job, handler, Progress(job))
    run_chunk(chunks[0].pk, handler)  # one article done; the other part waits for a worker that never comes
    kept = Suggestion.objects.count()
    assert kept > 0

    log_in("manager")
    with polls_held(page):  # the job list stays put while it is looked at
        page.goto(f"/projects/{demo.pk}/suggesters/")
        for width in (1280, 320):
            page.set_viewport_size({"width": width, "height": 800})
            page.screenshot(path=SCREENS / f"suggesters-cancel-{width}.png", full_page=True)
            assert_accessible(page, f"the suggesters page with a running job's cancel button at {width} px")
            page.locator("#job-list").screenshot(path=SCREENS / f"suggesters-jobs-{width}.png")
    for _ in range(80):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == f"cancel-job-{job.pk}":
            break
    else:
        pytest.fail("Tab never reached the job's cancel button")
    # At least one poll of the jobs list swaps the button out and in again: the list the page has now is
    # marked, and the mark is gone once a poll has put a new list in its place.
    page.evaluate("() => { document.getElementById('job-list').dataset.before = 'poll'; }")
    expect(page.locator("#job-list")).not_to_have_attribute("data-before", "poll")
    assert page.evaluate("document.activeElement.id") == f"cancel-job-{job.pk}"
    page.keyboard.press("Enter")
    page.get_by_text("Pre-annotation cancelled.").wait_for()
    row = page.locator("#job-list tbody tr").first
    expect(row).to_contain_text("Cancelled with 1 of 2 parts done.")
    expect(page.get_by_role("button", name=f"Cancel job {job.pk}")).to_have_count(0)
    assert Job.objects.get(pk=job.pk).status == JobStatus.CANCELLED
    assert Suggestion.objects.count() == kept
