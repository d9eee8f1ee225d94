"""A study set up without the admin: create a project from a preset, shape its schema, write guidelines,
add an annotator, import, annotate with an attribute, merge a type, and export what came of it."""

import json
import os
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from annotator.annotations.models import Span, SpanAttribute
from annotator.projects.models import EntityType, GuidelineVersion, Project, RelationType
from tests import hostile
from tests.browser.test_annotate_page import CHAR_BOX

TEXT = "Anna took aspirin before she met the Acme board in Berlin."
SHOTS = Path(os.environ.get("ANNOTATOR_SCREENSHOTS", "var/screenshots/project-setup"))


@pytest.fixture
def people(transactional_db, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.ANNOTATOR_PROJECT_CREATORS = "everyone"  # a new manager, not staff, starts the study
    users = get_user_model().objects
    users.create_user("maria", password="correct horse battery staple")
    users.create_user("anna", password="correct horse battery staple")


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def log_in_as(page, username):
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("correct horse battery staple")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/projects/")


def drag_select(page, start, end):
    first = page.evaluate(CHAR_BOX, [start])
    last = page.evaluate(CHAR_BOX, [end - 1])
    page.mouse.move(first["left"] + 1, first["top"] + first["height"] / 2)
    page.mouse.down()
    page.mouse.move(last["right"] - 1, last["top"] + last["height"] / 2, steps=8)
    page.mouse.up()


WIDEST = """() => Array.from(document.querySelectorAll("body *"))
  .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1 && !e.closest(".table-scroll"))
  .slice(0, 5).map((e) => e.tagName + "." + e.className + " " + Math.round(e.getBoundingClientRect().right))"""


def no_sideways_scroll(page):
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_a_manager_sets_up_a_study_and_an_annotator_sets_an_attribute(watched_page, people, tmp_path):
    page = watched_page()
    log_in_as(page, "maria")
    page.get_by_role("button", name="New project").click()
    page.get_by_label("Name").fill("Clinical notes")
    page.get_by_label("CoNLL-2003: PER, ORG, LOC, MISC").check()
    shot(page, "01-new-project")
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Clinical notes")
    project = Project.objects.get(name="Clinical notes")
    assert [t.name for t in project.entity_types.all()] == ["PER", "ORG", "LOC", "MISC"]

    # A type with an attribute; its default colour is hard to read, so take the proposed one.
    page.get_by_role("link", name="Schema").click()
    page.get_by_role("button", name="Add an entity type").click()
    page.get_by_label("Name").fill("DRUG")
    page.get_by_label("Key").fill("d")
    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_role("link", name="Edit").first.wait_for()
    drug = EntityType.objects.get(project=project, name="DRUG")
    page.goto(f"/projects/{project.pk}/schema/types/{drug.pk}/")
    expect(page.locator("#legibility")).to_contain_text("Hard to read.")
    shot(page, "02-entity-type-contrast")
    page.locator("#legibility button").click()
    expect(page.get_by_text("Saved the entity type DRUG.")).to_be_visible()  # the save has answered
    drug.refresh_from_db()
    assert drug.colour != "#d0e4ff"
    page.goto(f"/projects/{project.pk}/schema/types/{drug.pk}/")
    expect(page.locator("#legibility")).not_to_contain_text("Hard to read.")
    page.get_by_role("button", name="Add an attribute").click()
    page.get_by_label("Name").fill("negated")
    page.get_by_label("Kind").select_option("boolean")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("link", name="negated")).to_be_visible()
    shot(page, "03-entity-type-attributes")

    # A relation type from people to organisations.
    page.goto(f"/projects/{project.pk}/schema/relations/new/")
    page.get_by_label("Name").fill("works_for")
    page.locator("fieldset", has_text="Head types").get_by_label("PER").check()
    page.locator("fieldset", has_text="Tail types").get_by_label("ORG").check()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".schema-table").last).to_contain_text("works_for")
    shot(page, "04-schema")
    works_for = RelationType.objects.get(project=project)
    assert ([t.name for t in works_for.head_types.all()], [t.name for t in works_for.tail_types.all()]) == (
        ["PER"],
        ["ORG"],
    )

    # Guidelines with a preview.
    page.goto(f"/projects/{project.pk}/guidelines/edit/")
    page.get_by_label("Guidelines").fill(
        "# Drugs\n\nMark every **drug**; set *negated* when it was not taken."
    )
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#guidelines-preview strong")).to_have_text("drug")
    shot(page, "05-guidelines-edit")
    page.get_by_role("button", name="Save as a new version").click()
    expect(page.get_by_role("heading", name="Guidelines, version 1")).to_be_visible()

    # The annotator joins; an article comes in.
    page.goto(f"/projects/{project.pk}/members/")
    page.get_by_role("textbox", name="Username").fill("anna")
    page.get_by_role("button", name="Add to the project").click()
    expect(page.get_by_text("anna is now annotator.")).to_be_visible()
    upload = tmp_path / "notes.jsonl"
    upload.write_text(json.dumps({"external_id": "note-1", "text": TEXT}) + "\n", encoding="utf-8")
    page.goto(f"/projects/{project.pk}/imports/")
    page.get_by_label("File").set_input_files(str(upload))
    page.get_by_label("Format").select_option("jsonl")
    page.get_by_role("button", name="Import").click()
    page.get_by_text("Imported 1 new article").wait_for()
    article = project.articles.get()

    # The annotator marks a drug and sets its attribute from the keyboard.
    annotator = watched_page()
    log_in_as(annotator, "anna")
    annotator.goto(f"/articles/{article.pk}/annotate/")
    annotator.locator("#text").wait_for()
    expect(annotator.locator(".guidelines-panel summary")).to_contain_text("Guidelines v1")
    start = TEXT.index("aspirin")
    drag_select(annotator, start, start + len("aspirin"))
    annotator.keyboard.press("d")
    expect(annotator.locator("#version-label")).to_have_text("2")
    annotator.keyboard.press("=")
    field = annotator.get_by_label("negated")
    expect(field).to_be_focused()
    field.select_option("true")
    shot(annotator, "06-annotate-attributes")
    annotator.get_by_role("button", name="Save attributes").click()
    expect(annotator.locator("#version-label")).to_have_text("3")
    expect(annotator.locator("#span-list .attribute-values")).to_have_text("negated: yes")
    span = Span.objects.get()
    assert (span.start, span.end, span.entity_type.name) == (start, start + 7, "DRUG")
    assert list(SpanAttribute.objects.values_list("attribute__name", "value")) == [("negated", True)]

    # The manager folds DRUG into MISC, after seeing what it affects.
    page.goto(f"/projects/{project.pk}/schema/types/{drug.pk}/remove/")
    expect(page.locator(".usage")).to_contain_text("Spans")
    page.get_by_label("Merge into another type").check()
    page.get_by_label("Merge into", exact=True).select_option(label="MISC")
    shot(page, "07-merge")
    page.get_by_role("button", name="Remove DRUG").click()
    expect(page.get_by_text("Merged DRUG into MISC: 1 spans moved")).to_be_visible()

    exported = page.request.get(
        f"/api/v1/projects/{project.pk}/export",
        params={"format": "jsonl", "set": "annotator", "annotator": "anna"},
    )
    record = json.loads(exported.text().splitlines()[0])
    assert [(e["label"], e["text"], e["attributes"]) for e in record["entities"]] == [
        ("MISC", "aspirin", {"negated": True})
    ]
    assert GuidelineVersion.objects.get(project=project).number == 1


def test_the_new_pages_fit_320_px_and_show_hostile_names_as_text(watched_page, people):
    from annotator.projects.creation import create_project
    from annotator.projects.models import EntityTypeAttribute
    from annotator.projects.presets import preset_schema
    from annotator.projects.services import update_guidelines

    maria = get_user_model().objects.get(username="maria")
    project = create_project(name=hostile.PROJECT_NAME[:200], by=maria, schema=preset_schema("news"))
    person = EntityType.objects.get(project=project, name="PERSON")
    person.name, person.description = hostile.PERSON, hostile.TYPE_DESCRIPTION
    person.save()
    EntityTypeAttribute.objects.create(
        entity_type=person, name=hostile.ORG, kind="choice", choices=[hostile.SCRIPT, hostile.IMG]
    )
    RelationType.objects.filter(project=project, name="met_with").update(name=hostile.MET)
    update_guidelines(project=project, text=hostile.GUIDELINES, by=maria)
    page = watched_page()
    page.set_viewport_size({"width": 320, "height": 800})
    log_in_as(page, "maria")
    pages = {
        "new-project": "/projects/new/",
        "schema": f"/projects/{project.pk}/schema/",
        "entity-type": f"/projects/{project.pk}/schema/types/{person.pk}/",
        "attribute": f"/projects/{project.pk}/schema/types/{person.pk}/attributes/new/",
        "relation-type": f"/projects/{project.pk}/schema/relations/new/",
        "remove": f"/projects/{project.pk}/schema/types/{person.pk}/remove/",
        "guidelines-edit": f"/projects/{project.pk}/guidelines/edit/",
    }
    for name, url in pages.items():
        page.goto(url)
        shot(page, f"320-{name}")
        assert page.locator("[data-pwned]").count() == 0, name
        assert page.evaluate("() => window.__pwned === undefined"), name
        assert no_sideways_scroll(page), (name, page.evaluate(WIDEST))
    page.goto(pages["schema"])
    expect(page.locator(".schema-table").first).to_contain_text(hostile.PERSON)
