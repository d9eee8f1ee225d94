"""The KB in a real browser: search as you type, link mentions from an entity's page, import and watch the job."""

import re

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from annotator.annotations.models import EntityLink
from annotator.annotations.services import create_span, get_or_create_gold_set
from annotator.articles.models import Article
from annotator.jobs.models import Job, JobStatus
from annotator.kb.models import KBEntity
from annotator.projects.demo import load_demo
from annotator.projects.models import EntityType, Role
from annotator.projects.services import add_member
from tests.browser.axe import assert_accessible
from tests.browser.polls import polls_held

HOSTILE = '<img src=x onerror=alert(1)><script>alert("kb")</script> {{ 7|add:1 }} \u202egnp.exe'


@pytest.fixture
def demo(transactional_db):
    project = load_demo().project
    manager = get_user_model().objects.create_user("maria", password="correct horse battery staple")
    add_member(project=project, user=manager, role=Role.MANAGER)
    return project


@pytest.fixture
def unlinked_naryshkins(demo):
    """Every "Naryshkin" of the demo articles as a PERSON span of gold, none linked yet."""
    person = EntityType.objects.get(project=demo, name="PERSON")
    spans = []
    for article in Article.objects.filter(project=demo).order_by("external_id"):
        gold = get_or_create_gold_set(article=article)
        for match in re.finditer("Naryshkin", article.text):
            spans.append(
                create_span(
                    annotation_set=gold,
                    start=match.start(),
                    end=match.end(),
                    entity_type=person,
                    by=None,
                    expected_version=gold.version,
                )
            )
    return spans


def test_search_the_kb_as_you_type_and_link_every_mention_from_the_entitys_page(
    page, log_in, demo, unlinked_naryshkins
):
    assert len(unlinked_naryshkins) >= 3
    log_in("maria")
    page.goto(f"/projects/{demo.pk}/")
    page.get_by_role("link", name="Knowledge base").click()
    page.wait_for_url("**/kb/")
    page.wait_for_load_state()  # htmx (a deferred script) listens from here on
    page.get_by_role("searchbox", name="Search the knowledge base").fill("Naryshkn")  # a typo
    results = page.locator("#entity-list")
    expect(results.get_by_role("link")).to_have_count(1)  # the list swapped in by htmx
    assert results.get_by_role("link").text_content() == "Sergey Naryshkin"
    assert page.url.endswith("/kb/")  # htmx swapped the list in place

    results.get_by_role("link", name="Sergey Naryshkin").click()
    page.get_by_role("heading", name="Sergey Naryshkin", level=1).wait_for()
    # The box that selects them all works through the page's JS module, which runs once the page is parsed.
    page.wait_for_load_state()
    expect(page.get_by_text("No mention is linked to Sergey Naryshkin yet.")).to_be_visible()
    page.get_by_role("checkbox", name="Select every unlinked mention").check()  # the page's JS module
    boxes = page.locator('input[name="spans"][data-group="unlinked"]')
    expect(boxes).to_have_count(len(unlinked_naryshkins))
    for n in range(len(unlinked_naryshkins)):
        expect(boxes.nth(n)).to_be_checked()
    page.get_by_role("button", name="Apply to the selected mentions").click()

    count = len(unlinked_naryshkins)
    page.get_by_text(f"{count} mentions linked to Sergey Naryshkin, in 2 annotation sets.").wait_for()
    expect(page.get_by_role("heading", name=f"Linked mentions {count}")).to_be_visible()
    expect(page.get_by_text("No unlinked mention has one of its names.")).to_be_visible()
    naryshkin = KBEntity.objects.get(kb_id="sergey-naryshkin")
    assert EntityLink.objects.filter(span__in=unlinked_naryshkins, kb_entity=naryshkin).count() == count


def test_relink_a_mention_to_another_entity_picked_by_typing(page, log_in, demo, unlinked_naryshkins):
    log_in("maria")
    naryshkin = KBEntity.objects.get(kb_id="sergey-naryshkin")
    page.goto(f"/projects/{demo.pk}/kb/entities/{naryshkin.pk}/")
    page.locator('input[name="spans"][data-group="unlinked"]').first.check()
    page.get_by_role("radio", name="Link to another entity:").check()
    page.get_by_role("searchbox", name="Find the other entity").fill("Lukashenka")
    page.get_by_role("radio", name=re.compile("^Alexander Lukashenko")).wait_for()
    page.get_by_role("button", name="Apply to the selected mentions").click()
    page.get_by_text("1 mention linked to Alexander Lukashenko, in 1 annotation set.").wait_for()
    assert EntityLink.objects.get(span=unlinked_naryshkins[0]).kb_entity.kb_id == "alexander-lukashenko"


def test_upload_a_kb_file_and_watch_a_running_job_update_itself(page, log_in, demo, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path
    path = tmp_path / "people.jsonl"
    path.write_text('{"id": "tertel", "name": "Ivan Tertel", "aliases": ["Tertel"], "type": "PERSON"}\n')
    log_in("maria")
    page.goto(f"/projects/{demo.pk}/kb/import/")
    page.get_by_label("File").set_input_files(str(path))
    page.get_by_label(re.compile("^Knowledge base")).select_option(label="Demo KB")
    page.get_by_role("button", name="Import").click()
    page.get_by_text("Imported 1 entities into Demo KB: 1 new, 0 updated, 0 unchanged.").wait_for()
    expect(page.locator("#job-progress progress")).to_have_attribute("value", "100")

    kb_id = KBEntity.objects.get(kb_id="tertel").knowledge_base_id
    job = Job.objects.create(
        project=demo, kind="import_kb", status=JobStatus.RUNNING, progress_done=10, progress_total=100,
        params={"file_label": "big.json.gz", "knowledge_base_id": kb_id},
        message="Importing: 1,000 entities read.",
    )  # fmt: skip
    page.goto(f"/projects/{demo.pk}/kb/import/{job.pk}/")
    assert page.locator("#job-progress progress").get_attribute("value") == "10"
    Job.objects.filter(pk=job.pk).update(progress_done=60, message="Importing: 6,000 entities read.")
    # Polled every second, not reloaded; the default limit (15 s) leaves a loaded machine room for a few polls.
    expect(page.get_by_text("Importing: 6,000 entities read.")).to_be_visible()
    expect(page.locator("#job-progress progress")).to_have_attribute("value", "60")
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.FAILED, message="1 error in big.json.gz; nothing was imported.",
        errors=[{"file": "big.json.gz", "line": 12, "field": "labels", "message": HOSTILE}],
    )  # fmt: skip
    expect(page.get_by_role("cell", name=HOSTILE)).to_be_visible()
    expect(page.locator("#job-progress[hx-trigger]")).to_have_count(0)  # it stopped polling


def test_hostile_kb_text_runs_nothing(page, log_in, demo):
    KBEntity.objects.filter(kb_id="minsk").update(name=HOSTILE, description=HOSTILE)
    minsk = KBEntity.objects.get(kb_id="minsk")
    minsk.aliases.create(text=HOSTILE)
    log_in("maria")
    page.goto(f"/projects/{demo.pk}/kb/entities/{minsk.pk}/")
    assert page.get_by_role("heading", level=1).text_content() == HOSTILE
    page.goto(f"/projects/{demo.pk}/kb/?q=Minsk")
    assert page.locator("#entity-list").get_by_role("link", name=HOSTILE).is_visible()
    assert page.locator("main img, main script:not([src])").count() == 0
    # The page fixture fails the test on any dialog (alert), console error or request to another origin.


def test_a_running_kb_import_is_cancelled_from_its_page_by_keyboard(
    page, log_in, demo, settings, tmp_path, live_server
):
    import json
    from pathlib import Path

    from django.urls import reverse

    from annotator.jobs import registry
    from annotator.jobs.chunks import plan_chunks, run_chunk
    from annotator.jobs.models import JobKind
    from annotator.jobs.progress import Progress
    from annotator.kb.imports import start_kb_import
    from annotator.kb.models import KnowledgeBase

    screenshots = Path(__file__).resolve().parents[2] / "var" / "screenshots"
    settings.DATA_DIR = tmp_path
    settings.ANNOTATOR_KB_IMPORT_CHUNK_MB = 300 / 2**20
    path = tmp_path / "people.jsonl"
    path.write_text("".join(json.dumps({"id": f"p{n}", "name": f"Person {n}"}) + "\n" for n in range(30)))
    target = KnowledgeBase.objects.create(project=demo, name="People")
    maria = get_user_model().objects.get(username="maria")
    job = start_kb_import(knowledge_base=target, path=path, file_label="people.jsonl", by=maria, queue=False)
    Job.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING)
    job.refresh_from_db()
    handler = registry.handler_for(JobKind.IMPORT_KB)
    chunks = plan_chunks(job, handler, Progress(job))
    run_chunk(chunks[0].pk, handler)

    log_in("maria")
    with polls_held(page):  # the job's progress stays put while it is looked at
        page.goto(live_server.url + reverse("kb:job", args=[demo.pk, job.pk]))
        expect(page.locator("#job-progress")).to_contain_text(f"Running 1 of {len(chunks)} parts done.")
        for width in (1280, 320):
            page.set_viewport_size({"width": width, "height": 800})
            page.screenshot(path=screenshots / f"kb-import-cancel-{width}.png", full_page=True)
            assert_accessible(page, f"the job page with its cancel button at {width} px")
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "Cancel this import":
            break
    else:
        pytest.fail("Tab never reached the cancel button")
    page.keyboard.press("Enter")
    page.get_by_text("Import cancelled. Nothing of it was written.").wait_for()
    page.screenshot(path=screenshots / "kb-import-cancelled-320.png", full_page=True)
    assert Job.objects.get(pk=job.pk).status == JobStatus.CANCELLED
    assert target.entities.count() == 0
