"""A manager exports gold in the browser: a download at once, and a DocBin prepared in the background."""

from pathlib import Path

import orjson
import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from annotator.interchange.formats.base import Limits, ProblemLog
from annotator.interchange.formats.docbin import DocBinReader
from annotator.interchange.formats.sources import BytesSource
from annotator.interchange.options import ImportOptions
from annotator.interchange.services import import_articles
from annotator.projects.models import Role
from annotator.projects.services import add_member
from tests.browser.axe import assert_accessible
from tests.browser.polls import polls_held
from tests.factories import ProjectFactory

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
HOSTILE = "<img src=x onerror=alert(1)> {{ 7|add:1 }} مرحبا 🇧🇾"


@pytest.fixture
def project(transactional_db, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.ANNOTATOR_EXPORT_INLINE_MAX_ARTICLES = 1
    project = ProjectFactory(name=HOSTILE, slug="newsroom")
    user = get_user_model().objects.create_user("maria", password="correct horse battery staple")
    add_member(project=project, user=user, role=Role.MANAGER)
    lines = [
        {"external_id": "w1", "title": HOSTILE, "text": "Sergey Naryshkin visited Minsk 🇧🇾.\r\nThen Vitebsk.",
         "entities": [{"start": 0, "end": 16, "label": "PERSON"}, {"start": 25, "end": 30, "label": "GPE"}]},
        {"external_id": "w2", "text": "Second article.", "entities": []},
    ]  # fmt: skip
    data = b"\n".join(orjson.dumps(line) for line in lines)
    options = ImportOptions(format="jsonl", set_kind="gold", create_types=True)
    import_articles(project=project, source=BytesSource("w.jsonl", data), options=options, by=user)
    return project


def test_a_manager_downloads_gold_and_gets_a_docbin_from_a_background_job(page, log_in, project, tmp_path):
    log_in("maria")
    page.get_by_role("link", name=HOSTILE).click()
    page.get_by_role("link", name="Export").click()
    expect(page.locator("h1")).to_have_text("Export")  # the project page's h1 until the link's page loads
    with page.expect_download() as info:
        page.get_by_role("button", name="Export").click()
    download = info.value
    assert download.suggested_filename.startswith("img-srcx-onerroralert1-7add1")
    lines = [orjson.loads(line) for line in Path(download.path()).read_bytes().splitlines()]
    assert [(line["external_id"], len(line["entities"])) for line in lines] == [("w1", 2), ("w2", 0)]
    assert lines[0]["title"] == HOSTILE

    page.get_by_label("Format").select_option("spacy")
    page.get_by_role("button", name="Export").click()
    expect(page.get_by_role("button", name="Download")).to_be_visible()
    expect(page.locator("#job-status .job-status")).to_have_text("Succeeded")
    expect(page.locator("progress")).to_have_attribute("value", "100")
    with page.expect_download() as info:
        page.get_by_role("button", name="Download").click()
    data = Path(info.value.path()).read_bytes()
    problems = ProblemLog()
    records = list(DocBinReader().read(BytesSource("x.spacy", data, Limits()), problems))
    assert [(r.external_id, r.title, [(s.start, s.end, s.label) for s in r.spans]) for r in records] == [
        ("w1", HOSTILE, [(0, 16, "PERSON"), (25, 30, "GPE")]),
        ("w2", "", []),
    ]
    page.get_by_role("link", name="Export", exact=True).click()
    expect(page.locator(".import-list tbody tr")).to_have_count(1)  # waits for the page the link opens


def test_a_running_export_is_cancelled_from_its_page_by_keyboard(
    page, log_in, project, settings, live_server
):
    from django.urls import reverse

    from annotator.jobs import registry
    from annotator.jobs.chunks import plan_chunks, run_chunk
    from annotator.jobs.models import Job, JobKind, JobStatus
    from annotator.jobs.progress import Progress
    from annotator.jobs.services import create_job

    settings.ANNOTATOR_JOB_CHUNK_ARTICLES = 1
    maria = get_user_model().objects.get(username="maria")
    job = create_job(kind=JobKind.EXPORT, project=project, params={"format": "jsonl"}, by=maria)
    Job.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING)
    job.refresh_from_db()
    handler = registry.handler_for(JobKind.EXPORT)
    chunks = plan_chunks(job, handler, Progress(job))
    run_chunk(chunks[0].pk, handler)  # one part done; the other waits for a worker that never comes

    log_in("maria")
    with polls_held(page):  # the job's status stays put while it is looked at
        page.goto(live_server.url + reverse("exports:detail", args=[project.pk, job.pk]))
        assert page.locator("#job-status").text_content().split() == [
            "Running",
            "1",
            "of",
            "2",
            "parts",
            "done.",
            "50%",
        ]
        for width in (1280, 320):
            page.set_viewport_size({"width": width, "height": 800})
            page.screenshot(path=SCREENSHOTS / f"export-cancel-{width}.png", full_page=True)
            assert_accessible(page, f"the job page with its cancel button at {width} px")
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "Cancel this export":
            break
    else:
        pytest.fail("Tab never reached the cancel button")
    page.keyboard.press("Enter")
    page.get_by_text("Export cancelled. It leaves no file.").wait_for()
    expect(page.locator("#job-status .job-status")).to_have_text("Cancelled")
    expect(page.get_by_role("button", name="Cancel this export")).to_have_count(0)
    page.screenshot(path=SCREENSHOTS / "export-cancelled-320.png", full_page=True)
    assert Job.objects.get(pk=job.pk).status == JobStatus.CANCELLED
    assert not (settings.DATA_DIR / "exports" / f"export-{job.pk}.parts").exists()
