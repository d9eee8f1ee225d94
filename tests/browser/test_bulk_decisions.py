"""Deciding many suggestions at once on the annotate page, in chromium: each is one version and one undo."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from annotator.annotations.models import EntityLink
from annotator.kb.models import KBEntity
from annotator.suggestions.models import Decision, SuggestionKind, Verdict
from tests.browser.axe import assert_accessible
from tests.browser.test_annotate_page import offsets_of, open_annotate, own_spans, wait_for_version
from tests.browser.test_annotate_page import world as world
from tests.browser.test_review_bugs import suggest

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


def test_accept_all_of_a_type_is_one_version_and_one_undo(page, log_in, world):
    suggest(world, "Minsk", world["gpe"], score=0.9)
    suggest(world, "Naryshkin", world["gpe"], score=0.4, occurrence=1)  # a wrong one, of the same type
    person = suggest(world, "Lukashenko", world["person"], score=0.8)
    open_annotate(page, log_in, world["article"])
    page.locator("#bulk summary").click()
    page.locator("#bulk-form select[name=entity_type]").select_option(label="GPE")
    page.locator("#bulk-form input[name=min_score]").fill("0.5")
    page.get_by_role("button", name="Accept all that match").click()
    wait_for_version(page, 2)
    expect(page.locator("#announce")).to_contain_text("Accepted 1 suggestion (GPE scoring 0.5 or more).")
    assert own_spans(world) == [(*offsets_of("Minsk"), "GPE")]
    page.locator("#bulk-form input[name=min_score]").fill("")
    page.get_by_role("button", name="Accept all that match").click()
    wait_for_version(page, 3)
    assert own_spans(world) == [(*offsets_of("Minsk"), "GPE"), (*offsets_of("Naryshkin", 1), "GPE")]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "bulk-accept.png"), full_page=True)
    page.keyboard.press("Control+z")  # one undo takes the whole bulk action back
    wait_for_version(page, 4)
    assert own_spans(world) == [(*offsets_of("Minsk"), "GPE")]
    assert not Decision.objects.filter(suggestion=person).exists()


def test_a_keyboard_selection_then_x_rejects_everything_inside_it(page, log_in, world):
    inside = [suggest(world, "Sergey", world["person"]), suggest(world, "Naryshkin", world["org"])]
    outside = suggest(world, "Minsk", world["gpe"])
    open_annotate(page, log_in, world["article"])
    page.locator("#text").focus()
    page.keyboard.press("ArrowDown")  # to the second line: "Sergey Naryshkin 🇧🇾 visited Minsk."
    page.keyboard.press("Home")
    for _ in range(3):
        page.keyboard.press("Control+Shift+ArrowRight")  # "Sergey Naryshkin 🇧🇾" by words
    page.keyboard.press("X")
    wait_for_version(page, 2)
    verdicts = dict(Decision.objects.values_list("suggestion_id", "verdict"))
    assert verdicts == {inside[0].pk: Verdict.REJECTED, inside[1].pk: Verdict.REJECTED}
    assert outside.pk not in verdicts
    expect(page.locator("#announce")).to_contain_text("Rejected 2 suggestions")


def test_shift_enter_accepts_a_mention_with_its_top_link(page, log_in, world):
    mention = suggest(world, "Sergey Naryshkin", world["person"])
    naryshkin = KBEntity.objects.get(kb_id="naryshkin")
    minsk = KBEntity.objects.get(kb_id="minsk")
    for rank, entity in enumerate([naryshkin, minsk]):
        suggest(
            world, "Sergey Naryshkin", world["person"], kind=SuggestionKind.LINK, kb_entity=entity, rank=rank
        )
    open_annotate(page, log_in, world["article"])
    page.keyboard.press("]")
    expect(page.locator(f'.row.current[data-item="g{mention.pk}"]')).to_be_visible()
    page.keyboard.press("Shift+Enter")
    wait_for_version(page, 2)
    assert own_spans(world) == [(*offsets_of("Sergey Naryshkin"), "PERSON")]
    assert list(EntityLink.objects.values_list("kb_entity__kb_id", flat=True)) == ["naryshkin"]
    expect(page.locator("#announce")).to_contain_text(
        "Accepted PERSON “Sergey Naryshkin” linked to Sergey Naryshkin (naryshkin)."
    )


def test_every_relation_can_be_drawn_at_once(page, log_in, world):
    from annotator.annotations import services
    from tests.browser.test_annotate_page import add_span

    naryshkin = add_span(world, offsets_of("Sergey Naryshkin"), world["person"])
    minsk = add_span(world, offsets_of("Minsk"), world["gpe"])
    lukashenko = add_span(world, offsets_of("Lukashenko"), world["person"])
    own = naryshkin.annotation_set
    own.refresh_from_db()
    for head, tail, kind in [(naryshkin, minsk, "visited"), (lukashenko, naryshkin, "met_with")]:
        services.create_relation(
            annotation_set=own, head=head, tail=tail, relation_type=world[kind], by=world["user"],
            expected_version=own.version,
        )  # fmt: skip
    open_annotate(page, log_in, world["article"])
    expect(page.locator("#arrows path.arc")).to_have_count(0)  # nothing current: nothing drawn
    toggle = page.get_by_role("button", name="Draw every relation")
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#arrows path.arc")).to_have_count(2)
    expect(page.locator("#arrows text")).to_have_text(["visited", "met_with"])
    toggle.click()
    expect(page.locator("#arrows path.arc")).to_have_count(0)


def test_dragging_an_edge_with_the_mouse_is_one_save(page, log_in, world):
    from annotator.annotations.models import Span
    from tests.browser.test_annotate_page import CHAR_BOX, add_span

    span = add_span(world, offsets_of("Naryshkin"), world["person"])
    open_annotate(page, log_in, world["article"])
    page.keyboard.press("}")
    mark = page.locator(f'#text mark[data-item="s{span.pk}"]').last.bounding_box()
    target = page.evaluate(CHAR_BOX, [offsets_of("visited")[1] - 1])  # the "d" of "visited"
    page.mouse.move(mark["x"] + mark["width"] - 1, mark["y"] + mark["height"] / 2)
    page.mouse.down()
    page.mouse.move(target["left"] + 4, target["top"] + target["height"] / 2, steps=12)
    page.mouse.move(target["right"] - 1, target["top"] + target["height"] / 2, steps=3)
    page.mouse.up()
    wait_for_version(page, 3)  # the span was version 2: one gesture, one save
    assert own_spans(world) == [(offsets_of("Naryshkin")[0], offsets_of("visited")[1], "PERSON")]
    assert Span.history.filter(id=span.pk).count() == 2  # made, then changed once


@pytest.mark.parametrize("width", [1280, 320])
def test_relation_labels_drawn_at_once_never_cover_each_other(page, log_in, world, width):
    """Three relations whose arcs rise over the same words: each label is raised above the ones already
    drawn (with its arc) instead of being written over them."""
    from annotator.annotations import services
    from tests.browser.test_annotate_page import add_span

    naryshkin = add_span(world, offsets_of("Sergey Naryshkin"), world["person"])
    minsk = add_span(world, offsets_of("Minsk"), world["gpe"])
    lukashenko = add_span(world, offsets_of("Lukashenko"), world["person"])
    own = naryshkin.annotation_set
    own.refresh_from_db()
    for head, tail, kind in [
        (naryshkin, minsk, "visited"),
        (lukashenko, minsk, "visited"),
        (lukashenko, naryshkin, "met_with"),
    ]:
        services.create_relation(
            annotation_set=own, head=head, tail=tail, relation_type=world[kind], by=world["user"],
            expected_version=own.version,
        )  # fmt: skip
        own.refresh_from_db()
    page.set_viewport_size({"width": width, "height": 800})
    open_annotate(page, log_in, world["article"])
    toggle = page.get_by_role("button", name="Draw every relation")
    toggle.focus()
    page.keyboard.press("Enter")  # the keyboard alone
    expect(toggle).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#arrows text")).to_have_count(3)
    assert_accessible(page, f"annotate page with every relation drawn at {width} px")
    boxes = page.eval_on_selector_all(
        "#arrows text",
        "labels => labels.map(label => { const b = label.getBBox(); return [b.x, b.y, b.width, b.height]; })",
    )

    def overlap(a, b):
        return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]

    assert [(a, b) for n, a in enumerate(boxes) for b in boxes[n + 1 :] if overlap(a, b)] == []
    # Arrows and labels stay off the words: no point of an arrow and no label falls inside the box of any
    # piece of the article's text (the text's fragments, marks and their type tags included).
    crossings = page.evaluate(ARROWS_OVER_TEXT)
    page.locator(".text-panel").screenshot(path=SCREENSHOTS / f"relation-labels-{width}.png")
    assert crossings == []


# The places where an arrow (sampled every 2px) or a label is drawn over the article's text (its text nodes'
# line boxes and its marks'), in the arrows' coordinates: [what, x, y, the box it covers].
ARROWS_OVER_TEXT = """() => {
  const svg = document.querySelector("#arrows");
  const origin = svg.getBoundingClientRect();
  const boxes = [];
  const text = document.querySelector("#text");
  const rects = Array.from(text.querySelectorAll("mark")).flatMap((mark) => Array.from(mark.getClientRects()));
  const walker = document.createTreeWalker(text, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const range = document.createRange();
    range.selectNodeContents(node);
    rects.push(...range.getClientRects());
  }
  for (const r of rects) {
    const [left, top] = [r.left - origin.left, r.top - origin.top];
    if (r.width > 1 && r.height > 1) boxes.push([left + 1, top + 1, left + r.width - 1, top + r.height - 1]);
  }
  const inside = (x, y) => boxes.find(([l, t, r, b]) => x > l && x < r && y > t && y < b);
  const found = [];
  for (const path of svg.querySelectorAll("path.arc")) {
    const length = path.getTotalLength();
    for (let at = 0; at <= length; at += 2) {
      const point = path.getPointAtLength(at);
      const box = inside(point.x, point.y);
      if (box) { found.push(["arrow", Math.round(point.x), Math.round(point.y), box.map(Math.round)]); break; }
    }
  }
  for (const label of svg.querySelectorAll("text")) {
    const b = label.getBBox();
    const [left, right, top, bottom] = [b.x + 1, b.x + b.width - 1, b.y + 2, b.y + b.height - 2];
    const corners = [[left, top], [right, top], [left, bottom], [right, bottom]];
    const hit = corners.find(([x, y]) => inside(x, y));
    if (hit) found.push([label.textContent, Math.round(hit[0]), Math.round(hit[1])]);
  }
  return found;
}"""
