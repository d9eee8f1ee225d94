"""A manager imports articles in the browser: upload, the live progress bar, the result, the error report."""

import json

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from annotator.articles.models import Article
from annotator.jobs.models import Job, JobKind, JobStatus
from annotator.projects.models import Role
from annotator.projects.services import add_member
from tests.factories import EntityTypeFactory, ProjectFactory

HOSTILE_NAME = "<img src=x onerror=alert(1)> {{ 7|add:1 }} gnp.exe.jsonl"


@pytest.fixture
def project(transactional_db, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    project = ProjectFactory(name="Newsroom", slug="newsroom")
    EntityTypeFactory(project=project, name="PERSON")
    user = get_user_model().objects.create_user("maria", password="correct horse battery staple")
    add_member(project=project, user=user, role=Role.MANAGER)
    return project


def test_a_manager_uploads_a_file_and_sees_what_was_imported(page, log_in, project, tmp_path):
    path = tmp_path / "wire.jsonl"
    lines = [
        {"external_id": "w1", "text": "Sergey Naryshkin visited Minsk 🇧🇾.",
         "entities": [{"start": 0, "end": 16, "label": "PERSON"}]},
        {"external_id": "w2", "text": "Second article.\r\nWith a CRLF."},
    ]  # fmt: skip
    path.write_text(
        "\n".join(json.dumps(line, ensure_ascii=False) for line in lines) + "\n", encoding="utf-8"
    )
    log_in("maria")
    page.get_by_role("link", name="Newsroom").click()
    page.get_by_role("link", name="Imports").click()
    page.get_by_label("File").set_input_files(str(path))
    page.get_by_label("Format").select_option("jsonl")
    page.get_by_role("textbox", name="Imported set name").fill("wire 2024")
    page.get_by_role("button", name="Import").click()
    # The test settings run the job as soon as it is queued; the page shows how it ended.
    page.get_by_text("Imported 2 new articles; 1 span, 0 relations, 0 links.").wait_for()
    expect(page.locator("#job-status .job-status")).to_have_text("Succeeded")
    expect(page.locator("progress")).to_have_attribute("value", "100")
    assert Article.objects.get(external_id="w2").text == "Second article.\nWith a CRLF."
    page.get_by_role("link", name="Imports").click()
    expect(page.locator(".import-list tbody tr")).to_have_count(1)  # waits for the page the link opens


def test_the_progress_bar_follows_a_running_import_without_reloading(page, log_in, project):
    job = Job.objects.create(
        project=project, kind=JobKind.IMPORT_ARTICLES, status=JobStatus.RUNNING, progress_done=30,
        progress_total=100, message="Read 3,000 articles from big.jsonl.",
        params={"format": "jsonl", "file_name": "big.jsonl"},
    )  # fmt: skip
    log_in("maria")
    page.goto(f"/projects/{project.pk}/imports/{job.pk}/")
    assert page.locator("progress").get_attribute("value") == "30"
    page.evaluate("window.notReloaded = true")
    Job.objects.filter(pk=job.pk).update(progress_done=70, message="Read 7,000 articles from big.jsonl.")
    # Polled every second: the default limit (15 s) leaves a loaded machine room for a few polls.
    expect(page.get_by_text("Read 7,000 articles from big.jsonl.")).to_be_visible()
    expect(page.locator("progress")).to_have_attribute("value", "70")
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.SUCCEEDED,
        progress_done=100,
        message="Imported 10,000 new articles.",
        result={"created": 10000},
    )
    expect(page.get_by_text("Imported 10,000 new articles.")).to_be_visible()
    assert page.evaluate("window.notReloaded") is True  # htmx swapped the section in place
    assert page.locator("#job-status").get_attribute("hx-trigger") is None  # and stopped polling


def test_a_bad_file_with_a_hostile_name_gets_its_report_shown_as_text(page, log_in, project, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(
        b'{"text": "ok"}\n{"text": "x", "entities": [{"start": 0, "end": 9, "label": "PERSON"}]}\n'
        b'{"text": "xy", "entities": [{"start": 0, "end": 1, "label": "<b>PERSON</b>"}]}\n[1]\n'
    )
    log_in("maria")
    page.goto(f"/projects/{project.pk}/imports/")
    page.get_by_label("File").set_input_files(
        {"name": HOSTILE_NAME, "mimeType": "application/octet-stream", "buffer": path.read_bytes()}
    )
    page.get_by_role("button", name="Import").click()
    page.get_by_role("heading", name="What is wrong").wait_for()
    page.wait_for_load_state()  # the report's page whole, not only as far as the parser has come
    rows = page.locator(".error-report tbody tr")
    assert rows.count() == 3
    assert rows.nth(0).locator("td").all_text_contents() == [
        HOSTILE_NAME, "2", "entities[0].start", "The span [0, 9) ends after the text, which has 1 characters.",
    ]  # fmt: skip
    assert "Unknown entity type '<b>PERSON</b>'" in rows.nth(1).text_content()
    assert page.locator(".error-report b, .error-report img, .file-name img").count() == 0
    assert page.locator("hgroup .file-name").text_content().startswith(HOSTILE_NAME)
    assert Article.objects.count() == 0


def test_an_import_with_warnings_shows_them_counted_and_listed_and_strict_refuses(
    page, log_in, project, tmp_path
):
    """The import page in a real browser: warnings counted by kind and listed (hostile member names shown as
    text), the Strict box reached from the keyboard, and the report readable at 320 px."""
    import os
    import tempfile
    import zipfile
    from pathlib import Path

    screens = Path(os.environ.get("ANNOTATOR_SCREENSHOTS", tempfile.gettempdir()))
    path = tmp_path / "mixed.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a1.txt", "Minsk is a city.")
        archive.writestr("<img src=x onerror=alert(1)>.png", b"\x89PNG\r\n\x1a\n")
        archive.writestr("run.py", "print('hi')")
    log_in("maria")
    page.goto(f"/projects/{project.pk}/imports/")
    page.get_by_label("File").set_input_files(str(path))
    page.get_by_label("Format").select_option("text")
    page.get_by_role("button", name="Import").click()
    page.get_by_role("heading", name="Imported with warnings").wait_for()
    page.wait_for_load_state()  # the report's page whole, not only as far as the parser has come
    assert page.locator(".warning-counts li").inner_text() == "2 × archive member skipped"
    assert page.locator(".warning-report tbody tr").count() == 2
    assert page.get_by_text("mixed.zip:<img src=x onerror=alert(1)>.png").is_visible()
    page.screenshot(path=str(screens / "import-warnings.png"), full_page=True)
    page.set_viewport_size({"width": 320, "height": 900})
    page.reload()
    sticking_out = page.evaluate(
        "[...document.querySelectorAll('#job-status *')].filter(e => !e.closest('table')"
        " && e.getBoundingClientRect().right > 322).map(e => e.tagName + '.' + e.className)"
    )
    assert sticking_out == []
    assert page.evaluate("[...document.querySelectorAll('main table')].every(t => t.clientWidth <= 320)")
    page.screenshot(path=str(screens / "import-warnings-320.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    Article.objects.filter(external_id="a1").delete()
    page.goto(f"/projects/{project.pk}/imports/")
    page.get_by_label("File").set_input_files(str(path))
    page.get_by_label("Format").select_option("text")
    page.get_by_label("Format").focus()
    strict = page.get_by_label("Strict: refuse the import if anything would be skipped or changed")
    for _ in range(10):  # Tab to the box, as a keyboard user would
        if page.evaluate("document.activeElement.name") == "strict":
            break
        page.keyboard.press("Tab")
    page.keyboard.press("Space")
    expect(strict).to_be_checked()
    page.get_by_role("button", name="Import").click()
    page.get_by_text("2 problems in mixed.zip; nothing was imported.").wait_for()
    assert not Article.objects.filter(external_id="a1").exists()
