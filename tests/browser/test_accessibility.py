"""WCAG 2.1 AA in chromium, with the Content-Security-Policy on: axe-core on every logged-in page and in
every panel of the annotate page, focus rings and suggestion underlines measured against the page, and
no sideways scrolling on a 320 px wide screen."""

import pytest
from playwright.sync_api import expect

from annotator.annotations import services
from annotator.annotations.services import get_or_create_own_set
from annotator.api.tokens import create_token
from annotator.articles.models import Article
from annotator.kb.models import KBEntity, KnowledgeBase
from annotator.projects.models import (
    AttributeKind,
    EntityType,
    EntityTypeAttribute,
    Project,
    RelationType,
    Role,
)
from annotator.projects.services import add_member, update_guidelines
from annotator.suggestions.engine import RULES_VERSION
from annotator.suggestions.models import SuggesterVersion, Suggestion, SuggestionKind
from tests.browser.axe import assert_accessible, violations

PASSWORD = "correct horse battery staple"
TEXT = "Sergey Naryshkin visited Minsk on April 15.\nLater, Alexander Lukashenko met Naryshkin in Minsk."
# Colours people pick: pale ones that vanish on white (yellow, light grey), and dark ones.
COLOURS = {"PERSON": "#ffd6a5", "GPE": "#9bf6ff", "DATE": "#fdffb6", "ORG": "#1d3557", "NORP": "#eeeeee"}


@pytest.fixture
def site(transactional_db, django_user_model):
    project = Project.objects.create(name="News", slug="news", annotators_per_article=1)
    types = {
        name: EntityType.objects.create(
            project=project, name=name, key=name[0].lower(), colour=colour, position=position
        )
        for position, (name, colour) in enumerate(COLOURS.items())
    }
    for position, (name, kind, choices) in enumerate(
        [("negated", AttributeKind.BOOLEAN, []), ("role", AttributeKind.CHOICE, ["host", "guest"]),
         ("note", AttributeKind.TEXT, [])]
    ):  # fmt: skip
        EntityTypeAttribute.objects.create(
            entity_type=types["PERSON"], name=name, kind=kind, choices=choices, position=position
        )
    visited = RelationType.objects.create(project=project, name="visited")
    visited.head_types.set([types["PERSON"]])
    visited.tail_types.set([types["GPE"]])
    kb = KnowledgeBase.objects.create(project=project, name="KB")
    entity = KBEntity.objects.create(knowledge_base=kb, kb_id="naryshkin", name="Sergey Naryshkin")
    article = Article.objects.create(project=project, title="Naryshkin in Minsk", text=TEXT, external_id="n1")
    update_guidelines(project=project, text="# Guidelines\n\nAnnotate *people*.", by=None)
    maria = django_user_model.objects.create_user("maria", password=PASSWORD)
    add_member(project=project, user=maria, role=Role.MANAGER)
    create_token(user=maria, name="laptop")
    own = get_or_create_own_set(article=article, user=maria)
    person = services.create_span(
        annotation_set=own, start=0, end=16, entity_type=types["PERSON"], by=maria, expected_version=1
    )
    minsk = services.create_span(
        annotation_set=own, start=25, end=30, entity_type=types["GPE"], by=maria, expected_version=2
    )
    services.create_relation(
        annotation_set=own, head=person, tail=minsk, relation_type=visited, by=maria, expected_version=3
    )
    version = SuggesterVersion.objects.create(
        project=project, name="rules", kind="rules", version=RULES_VERSION
    )
    for name, (start, end) in {
        "DATE": (34, 42),
        "PERSON": (51, 71),
        "NORP": (75, 84),
        "ORG": (88, 93),
    }.items():
        Suggestion.objects.create(
            article=article, suggester_version=version, kind=SuggestionKind.ENTITY, start=start, end=end,
            entity_type=types[name], score=0.8, source="ner",
        )  # fmt: skip
    return {"project": project, "article": article, "entity": entity, "types": types}


def pages(site):
    project, article = site["project"].pk, site["article"].pk
    return [
        "/projects/",
        f"/projects/{project}/",
        f"/projects/{project}/settings/",
        f"/projects/{project}/members/",
        f"/projects/{project}/guidelines/",
        f"/projects/{project}/imports/",
        f"/projects/{project}/exports/",
        f"/projects/{project}/suggesters/",
        f"/projects/{project}/gold/curate/",
        f"/projects/{project}/agreement/",
        f"/projects/{project}/agreement/articles/",
        f"/projects/{project}/kb/",
        f"/projects/{project}/kb/entities/{site['entity'].pk}/",
        f"/projects/{project}/kb/entities/new/",
        f"/projects/{project}/kb/import/",
        f"/articles/{article}/",
        f"/articles/{article}/annotate/",
        f"/articles/{article}/curate/",
        f"/articles/{article}/history/",
        "/account/tokens/",
    ]


def log_in_as_maria(page):
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("maria")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/projects/")


def test_every_logged_in_page_passes_axe(page, site):
    log_in_as_maria(page)
    problems = []
    for url in pages(site):
        page.goto(url)
        problems += [f"{url}: {problem}" for problem in violations(page)]
    assert not problems, "\n".join(problems)


SIDEWAYS = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
WIDEST = """() => {
  // The innermost elements that reach past the right edge of the screen, to say what is too wide.
  const edge = document.documentElement.clientWidth;
  const wide = [...document.querySelectorAll("body *")].filter((e) => e.getBoundingClientRect().right > edge + 1);
  return wide.filter((e) => !wide.some((other) => other !== e && e.contains(other))).slice(0, 4)
    .map((e) => `${e.tagName.toLowerCase()}${e.id ? "#" + e.id : ""}.${[...e.classList].join(".")}`);
}"""


# Pages whose tables scroll inside themselves at 320 px (a scrolling box must take the keyboard), and the
# annotate page: axe runs there again at 320 px. Every page is checked for sideways scrolling.
NARROW_AXE = ("/suggesters/", "/agreement/", "/kb/entities/", "/history/", "/account/tokens/", "/annotate/")


def test_no_page_scrolls_sideways_at_320_px_and_axe_passes_there(page, site):
    page.set_viewport_size({"width": 320, "height": 640})
    log_in_as_maria(page)
    wide = []
    for url in pages(site):
        page.goto(url)
        if (overflow := page.evaluate(SIDEWAYS)) > 0:
            wide.append(f"{url}: {overflow} px too wide ({', '.join(page.evaluate(WIDEST))})")
        if any(part in url for part in NARROW_AXE):  # where the layout changes most at 320 px
            wide += [f"{url} at 320 px: {problem}" for problem in violations(page)]
    assert not wide, "\n".join(wide)


def test_every_panel_of_the_annotate_page_passes_axe(page, site):
    log_in_as_maria(page)
    page.goto(f"/articles/{site['article'].pk}/annotate/")
    page.locator("#text").focus()
    page.keyboard.press("Shift+ArrowRight")  # a keyboard selection opens the type picker
    expect(page.locator("#type-picker")).to_be_visible()
    assert_accessible(page, "the type picker")
    page.keyboard.press("Escape")
    page.keyboard.press("}")
    page.keyboard.press("/")
    expect(page.locator("#kb-query")).to_be_focused()
    page.locator("#link-panel summary").click()  # the new KB entity form
    assert_accessible(page, "the link panel")
    page.keyboard.press("Escape")
    page.locator("#text").focus()
    page.keyboard.press("=")  # on the same span: Sergey Naryshkin, a PERSON
    expect(page.get_by_label("negated")).to_be_focused()
    assert_accessible(page, "the attributes panel")
    page.keyboard.press("Escape")
    page.locator("#text").focus()
    page.keyboard.press(";")
    page.keyboard.press("}")
    page.keyboard.press("Enter")
    expect(page.locator("#relation-panel button[data-action=relate]")).to_be_visible()
    assert_accessible(page, "the relation panel")
    page.keyboard.press("Escape")
    page.locator("#bulk summary").click()
    expect(page.locator("#bulk-form select[name=entity_type]")).to_be_visible()
    assert_accessible(page, "the form that decides many suggestions at once")
    page.locator("#text").focus()
    page.keyboard.press("?")
    expect(page.locator("#help")).to_be_visible()
    assert_accessible(page, "the shortcuts dialog")
    page.keyboard.press("Escape")
    page.get_by_label("Add a comment").fill("Is <b>this</b> a PERSON?")
    page.get_by_role("button", name="Comment").click()
    expect(page.locator("#comments .comment-text")).to_have_text("Is <b>this</b> a PERSON?")
    assert_accessible(page, "the comments")


CONTRAST = """
([a, b]) => {
  const rgb = (colour) => colour.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const luminance = (colour) => {
    const [r, g, b] = rgb(colour).map((v) => {
      const c = v / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const [light, dark] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (light + 0.05) / (dark + 0.05);
}
"""
RING = """(element) => {
  const pageBackground = () => {
    // The first opaque background from the body up (Pico paints the root element); white by default.
    for (const node of [document.body, document.documentElement]) {
      const colour = getComputedStyle(node).backgroundColor;
      if (colour !== "rgba(0, 0, 0, 0)" && colour !== "transparent") return colour;
    }
    return "rgb(255, 255, 255)";
  };
  const style = getComputedStyle(element);
  return { colour: style.outlineColor, width: parseFloat(style.outlineWidth), style: style.outlineStyle,
           page: pageBackground() };
}"""


def test_focus_rings_and_suggestion_underlines_stand_out_3_to_1(page, site):
    log_in_as_maria(page)
    page.goto(f"/articles/{site['article'].pk}/annotate/")
    rings = []
    for _ in range(12):  # the first Tab stops: skip links, header links and buttons, the toolbar, the text
        page.keyboard.press("Tab")
        ring = page.evaluate(RING, page.evaluate_handle("document.activeElement"))
        name = page.evaluate("() => document.activeElement.textContent.trim().slice(0, 30)")
        ratio = page.evaluate(CONTRAST, [ring["colour"], ring["page"]])
        rings.append((name, ring["style"], ring["width"], round(ratio, 2)))
    weak = [ring for ring in rings if ring[1] == "none" or ring[2] < 2 or ring[3] < 3]
    assert not weak, f"focus rings under 3:1 or thinner than 2 px: {weak}"
    underlines = page.evaluate("""() => [...document.querySelectorAll("#text mark.sugg")].map((mark) => [
        mark.dataset.label, getComputedStyle(mark).borderBottomColor, getComputedStyle(mark).borderBottomStyle])""")
    assert len(underlines) == 4  # one suggestion of each pale and dark colour
    for label, colour, style in underlines:
        assert style == "dashed"
        assert page.evaluate(CONTRAST, [colour, "rgb(255, 255, 255)"]) >= 3, label
