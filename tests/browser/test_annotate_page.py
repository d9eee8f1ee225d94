"""The annotate page in Debian's chromium, driven the way a person drives it: mouse and keyboard."""

import re
from contextlib import contextmanager

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from annotator.annotations.models import EntityLink, Relation, SetStatus, Span
from annotator.annotations.services import create_span, get_or_create_own_set
from annotator.articles.models import Article
from annotator.core.offsets import normalize_newlines
from annotator.kb.models import KBEntity, KnowledgeBase
from annotator.kb.services import EntityRecord, upsert_entity
from annotator.projects.models import EntityType, Project, RelationType, Role
from annotator.projects.services import add_member
from annotator.suggestions.engine import RULES_VERSION
from annotator.suggestions.models import Decision, SuggesterVersion, Suggestion, SuggestionKind, Verdict

# A CRLF source with emoji (a ZWJ family, a flag) before the names, so that UTF-16 and code points differ.
SOURCE = "Hello 👩‍👩‍👧 world\r\nSergey Naryshkin 🇧🇾 visited Minsk.\r\nLater, Lukashenko met Naryshkin."
TEXT = normalize_newlines(SOURCE).text
PASSWORD = "correct horse battery staple"

CHAR_BOX = """
([offset]) => {
  // The screen box of the character at a code-point offset of the article text.
  const walker = document.createTreeWalker(document.getElementById("text"), NodeFilter.SHOW_TEXT);
  let seen = 0;
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const chars = Array.from(node.data);
    if (seen + chars.length > offset) {
      const unit = chars.slice(0, offset - seen).join("").length;
      const range = document.createRange();
      range.setStart(node, unit);
      range.setEnd(node, unit + chars[offset - seen].length);
      const box = range.getBoundingClientRect();
      return { left: box.left, right: box.right, top: box.top, height: box.height };
    }
    seen += chars.length;
  }
  return null;
}
"""


@pytest.fixture
def world(transactional_db):
    project = Project.objects.create(name="News", slug="news")
    person = EntityType.objects.create(project=project, name="PERSON", key="p", colour="#ffd6a5", position=0)
    org = EntityType.objects.create(project=project, name="ORG", key="o", colour="#caffbf", position=1)
    gpe = EntityType.objects.create(project=project, name="GPE", key="g", colour="#9bf6ff", position=2)
    visited = RelationType.objects.create(project=project, name="visited")
    visited.head_types.set([person])
    visited.tail_types.set([gpe])
    met_with = RelationType.objects.create(project=project, name="met_with", directed=False)
    met_with.head_types.set([person])
    met_with.tail_types.set([person])
    kb = KnowledgeBase.objects.create(project=project, name="KB")
    for kb_id, name, kind in [("naryshkin", "Sergey Naryshkin", "PERSON"), ("minsk", "Minsk", "GPE")]:
        upsert_entity(knowledge_base=kb, record=EntityRecord(kb_id=kb_id, name=name, type=kind, prior=0.5))
    article = Article.objects.create(project=project, external_id="a1", title="Naryshkin in Minsk", text=TEXT)
    second = Article.objects.create(
        project=project, external_id="a2", title="The second article", text="Next one."
    )
    user = get_user_model().objects.create_user("alice", password=PASSWORD)
    add_member(project=project, user=user, role=Role.ANNOTATOR)
    return {
        "project": project, "person": person, "org": org, "gpe": gpe, "visited": visited, "met_with": met_with,
        "article": article, "second": second, "user": user,
    }  # fmt: skip


def open_annotate(page, log_in, article):
    log_in("alice")
    page.goto(f"/articles/{article.pk}/annotate/")
    page.locator("#text").wait_for()


def wait_for_version(page, version):
    # Locator waits, not wait_for_function: the page's CSP forbids evaluating strings, as it should.
    expect(page.locator("#version-label")).to_have_text(str(version))


@contextmanager
def time_stands_still(page):
    """The page's clock (timers, animation frames) stands still inside: the keys pressed there act at one
    instant of the page's time, however slowly a loaded machine sends them, and a timer the page sets
    there (a save that waits for the keys to rest, a retry) fires only after. The page's clock must be
    Playwright's (`page.clock.install()` before the page opened)."""
    # pause_at takes seconds and only a time ahead of the page's: a minute ahead (timers already due go off
    # in the jump) is ahead however long a loaded machine takes between reading the time and pausing.
    page.clock.pause_at(page.evaluate("() => Date.now()") / 1000 + 60)
    yield
    page.clock.resume()


def drag_select(page, start, end):
    """Select [start, end) of the article text with a real mouse drag."""
    first = page.evaluate(CHAR_BOX, [start])
    last = page.evaluate(CHAR_BOX, [end - 1])
    page.mouse.move(first["left"] + 1, first["top"] + first["height"] / 2)
    page.mouse.down()
    page.mouse.move(last["right"] - 1, last["top"] + last["height"] / 2, steps=8)
    page.mouse.up()


def own_spans(world):
    own = get_or_create_own_set(article=world["article"], user=world["user"])
    return list(
        Span.objects.filter(annotation_set=own)
        .order_by("start")
        .values_list("start", "end", "entity_type__name")
    )


def add_span(world, start_end, entity_type):
    own = get_or_create_own_set(article=world["article"], user=world["user"])
    return create_span(
        annotation_set=own, start=start_end[0], end=start_end[1], entity_type=entity_type, by=world["user"],
        expected_version=own.version,
    )  # fmt: skip


def offsets_of(word, occurrence=0):
    start = [m.start() for m in re.finditer(re.escape(word), TEXT)][occurrence]
    return start, start + len(word)


def test_a_mouse_drag_over_emoji_and_crlf_text_gives_exact_code_point_offsets(page, log_in, world):
    open_annotate(page, log_in, world["article"])
    start, end = offsets_of("Naryshkin 🇧🇾 visited")
    assert (start, end) == (25, 45)  # code points; in the browser the same place is UTF-16 units 28 to 50
    drag_select(page, start, end)
    expect(page.locator("#type-picker")).to_be_visible()  # shown by a timer the mouse-up sets
    page.keyboard.press("p")
    wait_for_version(page, 2)
    assert own_spans(world) == [(25, 45, "PERSON")]
    assert Span.objects.get().surface == "Naryshkin 🇧🇾 visited"
    expect(page.locator("#announce")).to_have_text("Added PERSON “Naryshkin 🇧🇾 visited”.")


def test_a_double_click_selection_is_trimmed_to_the_word(page, log_in, world):
    open_annotate(page, log_in, world["article"])
    start, end = offsets_of("Lukashenko")
    box = page.evaluate(CHAR_BOX, [start + 3])
    page.mouse.dblclick(box["left"] + 2, box["top"] + box["height"] / 2)
    page.locator("#type-picker button", has_text="PERSON").click()
    wait_for_version(page, 2)
    assert own_spans(world) == [(start, end, "PERSON")]


def test_text_selected_with_the_keyboard_becomes_a_span(page, log_in, world):
    open_annotate(page, log_in, world["article"])
    page.locator("#text").focus()
    for _ in range(6):  # "Hello " by characters
        page.keyboard.press("ArrowRight")
    page.keyboard.press("Shift+ArrowRight")  # the ZWJ family: one grapheme, five code points
    page.keyboard.press("g")
    wait_for_version(page, 2)
    assert own_spans(world) == [(6, 11, "GPE")]


def test_suggestions_are_accepted_and_rejected_from_the_keyboard(page, log_in, world):
    version = SuggesterVersion.objects.create(
        project=world["project"], name="rules", kind="rules", version=RULES_VERSION
    )
    good = Suggestion.objects.create(
        article=world["article"], suggester_version=version, kind=SuggestionKind.ENTITY,
        start=offsets_of("Sergey Naryshkin")[0], end=offsets_of("Sergey Naryshkin")[1],
        entity_type=world["person"], score=0.93, source="kb-ruler",
    )  # fmt: skip
    bad = Suggestion.objects.create(
        article=world["article"], suggester_version=version, kind=SuggestionKind.ENTITY,
        start=offsets_of("Later")[0], end=offsets_of("Later")[1], entity_type=world["org"], score=0.31, source="ner",
    )  # fmt: skip
    open_annotate(page, log_in, world["article"])
    expect(page.locator(f'#text mark.sugg[data-item="g{good.pk}"]').first).to_have_attribute(
        "data-label", "PERSON 0.93"
    )
    page.keyboard.press("]")
    expect(page.locator(f'.row.current[data-item="g{good.pk}"]')).to_be_visible()
    page.keyboard.press("Enter")
    wait_for_version(page, 2)
    expect(page.locator(f'.row.current[data-item="g{bad.pk}"]')).to_be_visible()  # the next one is current
    page.keyboard.press("Delete")
    wait_for_version(page, 3)
    verdicts = dict(Decision.objects.values_list("suggestion_id", "verdict"))
    assert verdicts == {good.pk: Verdict.ACCEPTED, bad.pk: Verdict.REJECTED}
    assert own_spans(world) == [(*offsets_of("Sergey Naryshkin"), "PERSON")]
    expect(page.locator("#suggestion-list .row")).to_have_count(0)


def test_change_a_type_and_a_boundary_then_undo(page, log_in, world):
    span = add_span(world, offsets_of("Sergey Naryshkin"), world["gpe"])
    open_annotate(page, log_in, world["article"])
    page.keyboard.press("}")
    expect(page.locator(f'#text mark.current[data-item="s{span.pk}"]')).not_to_have_count(0)
    page.keyboard.press("p")
    wait_for_version(page, 3)
    page.keyboard.press("Alt+>")  # move the start right by one character: "ergey Naryshkin"
    wait_for_version(page, 4)
    start, end = offsets_of("Sergey Naryshkin")
    assert own_spans(world) == [(start + 1, end, "PERSON")]
    page.keyboard.press("Control+z")
    wait_for_version(page, 5)
    assert own_spans(world) == [(start, end, "PERSON")]
    page.locator("#undo-button").click()
    wait_for_version(page, 6)
    assert own_spans(world) == [(start, end, "GPE")]


def test_a_relation_offers_only_the_types_the_schema_allows(page, log_in, world):
    naryshkin = add_span(world, offsets_of("Sergey Naryshkin"), world["person"])
    minsk = add_span(world, offsets_of("Minsk"), world["gpe"])
    open_annotate(page, log_in, world["article"])
    page.keyboard.press("}")
    page.keyboard.press(";")
    page.keyboard.press("}")
    page.keyboard.press("Enter")
    panel = page.locator("#relation-panel")
    # Every button offered, its text with white space collapsed (to_have_text's comparison).
    expect(panel.locator("button[data-action=relate]")).to_have_text(["1 visited →"])
    page.keyboard.press("1")
    wait_for_version(page, 4)
    relation = Relation.objects.select_related("head", "tail", "relation_type").get()
    assert (relation.head, relation.relation_type.name, relation.tail) == (naryshkin, "visited", minsk)
    row = page.locator(".row.relation")
    expect(row.locator(".row-main")).to_have_text("Sergey Naryshkin —visited→ Minsk")  # white space collapsed
    page.keyboard.press("{")  # back to Naryshkin: its relation is drawn as an arrow
    expect(page.locator("#arrows path.arc")).to_have_count(1)


def test_link_one_span_to_a_candidate_and_another_to_nil(page, log_in, world):
    naryshkin = add_span(world, offsets_of("Sergey Naryshkin"), world["person"])
    lukashenko = add_span(world, offsets_of("Lukashenko"), world["person"])
    open_annotate(page, log_in, world["article"])
    page.keyboard.press("}")
    page.keyboard.press("/")
    page.locator("#kb-query").wait_for()
    candidate = page.locator(".candidate", has_text="Sergey Naryshkin")
    candidate.wait_for()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    wait_for_version(page, 4)
    page.keyboard.press("}")
    page.keyboard.press("/")
    page.locator("#kb-query").fill("Lukashenko")
    page.locator(".candidates", has_text="No entity of the KB goes by “Lukashenko”.").wait_for()
    page.get_by_role("button", name="Not in the KB (NIL)").click()
    wait_for_version(page, 5)
    links = {link.span_id: link.kb_entity for link in EntityLink.objects.all()}
    assert links == {naryshkin.pk: KBEntity.objects.get(kb_id="naryshkin"), lukashenko.pk: None}
    expect(page.locator(f'#text mark.link-nil[data-item="s{lukashenko.pk}"]')).not_to_have_count(0)


def test_submit_and_land_on_the_next_article(page, log_in, world):
    open_annotate(page, log_in, world["article"])
    page.keyboard.press("Control+Enter")
    page.wait_for_url(f"**/articles/{world['second'].pk}/annotate/")
    expect(page.get_by_role("heading", level=1)).to_have_text("The second article")
    assert get_or_create_own_set(article=world["article"], user=world["user"]).status == SetStatus.SUBMITTED


def test_a_second_tab_gets_the_conflict_and_can_reload_and_reapply(page, log_in, world, browser, live_server):
    open_annotate(page, log_in, world["article"])
    other = browser.new_context(base_url=live_server.url, storage_state=page.context.storage_state())
    try:
        second_tab_conflict(page, other.new_page(), world)
    finally:
        other.close()  # also when the test fails: no page of it stays open on the live server


def second_tab_conflict(page, second_tab, world):
    second_tab.goto(f"/articles/{world['article'].pk}/annotate/")
    second_tab.locator("#text").wait_for()
    drag_select(page, *offsets_of("Minsk"))
    page.keyboard.press("g")
    wait_for_version(page, 2)
    page.problems.expect("409")
    drag_select(second_tab, *offsets_of("Lukashenko"))
    second_tab.keyboard.press("p")
    banner = second_tab.locator("#conflict")
    banner.get_by_text("you had version 1, it is now at version 2").wait_for()
    assert own_spans(world) == [(*offsets_of("Minsk"), "GPE")]  # nothing of the stale save was written
    banner.get_by_role("button", name="Reload, then apply my change again").click()
    wait_for_version(second_tab, 3)
    assert own_spans(world) == [(*offsets_of("Minsk"), "GPE"), (*offsets_of("Lukashenko"), "PERSON")]
    expect(second_tab.locator("#conflict")).to_have_text("")


def test_a_failed_save_is_shown_and_retried_not_dropped(page, log_in, world):
    page.clock.install()
    open_annotate(page, log_in, world["article"])
    attempts = []

    def flaky(route):
        attempts.append(route.request.url)
        if len(attempts) == 1:
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/annotate/do/create-span/", flaky)
    page.problems.expect("net::ERR_CONNECTION_RESET")
    drag_select(page, *offsets_of("Minsk"))
    # The retry waits 1 s on the page's clock: held still until the test has read the message, which a
    # slow look on a loaded machine could otherwise miss.
    with time_stands_still(page):
        page.keyboard.press("g")
        expect(page.locator("#save-status")).to_contain_text(
            "Not saved yet: new entity (the server could not be reached)"
        )
        assert len(attempts) == 1
    wait_for_version(page, 2)
    assert len(attempts) == 2
    assert own_spans(world) == [(*offsets_of("Minsk"), "GPE")]
    expect(page.locator("#save-status")).to_have_text("")


def test_the_help_overlay_lists_the_shortcuts_and_the_schema_keys(page, log_in, world):
    open_annotate(page, log_in, world["article"])
    page.keyboard.press("?")
    help_dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(help_dialog).to_be_visible()
    text = help_dialog.text_content()
    for expected in [
        "Next / previous suggestion",
        "Undo the last action",
        "PERSON: annotate the selected text",
    ]:
        assert expected in text
    page.keyboard.press("Escape")
    expect(help_dialog).to_be_hidden()


def test_a_page_of_hostile_text_runs_nothing_and_shows_it_literally(page, log_in, world):
    hostile = (
        '<script>alert("t")</script><img src=x onerror=alert(1)> hx-get="/admin/" {{ 7|add:1 }} '
        '\u202egnp.exe <a href="javascript:alert(2)">x</a> <div hx-post="/accounts/logout/" hx-trigger="load">'
    )
    article = Article.objects.create(
        project=world["project"], title=hostile, text=f"{hostile}\nSergey Naryshkin"
    )
    EntityType.objects.filter(pk=world["org"].pk).update(name="<img src=y onerror=alert(3)>")
    own = get_or_create_own_set(article=article, user=world["user"])
    create_span(
        annotation_set=own, start=0, end=30, entity_type=world["org"], by=world["user"], expected_version=1
    )
    log_in("alice")
    logouts = []
    page.on("request", lambda request: "/accounts/logout/" in request.url and logouts.append(request.url))
    page.goto(f"/articles/{article.pk}/annotate/")
    assert page.locator("#text").text_content() == article.text
    assert page.get_by_role("heading", level=1).text_content() == hostile
    assert page.locator("#text script, #text img, #text a, #text div[hx-post], .rows img").count() == 0
    assert (
        page.locator("#text mark[data-label]").first.get_attribute("data-label")
        == "<img src=y onerror=alert(3)>"
    )
    # htmx acts on hx-trigger="load" as the page loads: once the network is quiet, any request the injected
    # hx-post made has been seen.
    page.wait_for_load_state("networkidle")
    assert logouts == []
    page.goto("/projects/")  # still logged in: the injected hx-post to logout never ran
    assert "/accounts/login/" not in page.url


def test_the_side_list_filters_and_each_row_jumps_to_its_place(page, log_in, world):
    naryshkin = add_span(world, offsets_of("Sergey Naryshkin"), world["person"])
    minsk = add_span(world, offsets_of("Minsk"), world["gpe"])
    open_annotate(page, log_in, world["article"])
    page.locator("#filter").fill("gpe")
    expect(page.locator(f'.row[data-item="s{naryshkin.pk}"]')).to_be_hidden()
    expect(page.locator(f'.row[data-item="s{minsk.pk}"]')).to_be_visible()
    page.locator(f'.row[data-item="s{minsk.pk}"] .row-main').click()
    expect(page.locator(f'#text mark.current[data-item="s{minsk.pk}"]')).to_have_count(1)
    expect(page.locator("#announce")).to_have_text("GPE Minsk")
    page.locator("#filter").fill("")
    expect(page.locator(f'.row[data-item="s{naryshkin.pk}"]')).to_be_visible()
