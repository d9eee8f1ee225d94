"""A whole review with the keyboard only, in chromium, and what the screen reader's live region says after
each action: move, resize by word, accept, reject, a new span from a keyboard selection, a relation, a
link, NIL, undo and submit. Screenshots of the page and of the shortcuts dialog go to var/screenshots."""

from pathlib import Path

from playwright.sync_api import expect

from annotator.annotations.models import AnnotationSet, EntityLink, Relation, SetStatus
from tests.browser.test_annotate_page import offsets_of, open_annotate, own_spans, wait_for_version
from tests.browser.test_annotate_page import world as world
from tests.browser.test_review_bugs import suggest

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


def said(page, text):
    expect(page.locator("#announce")).to_have_text(text)


def test_a_whole_review_from_the_keyboard(page, log_in, world):
    suggest(world, "Naryshkin", world["person"], score=0.9)
    suggest(world, "Minsk", world["gpe"], score=0.8)
    suggest(world, "Later", world["org"], score=0.3)
    open_annotate(page, log_in, world["article"])
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("Skip to the text")
    page.keyboard.press("Enter")
    expect(page.locator("#text")).to_be_focused()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.keyboard.press("?")
    expect(page.locator("#help")).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "shortcuts-dialog.png"))
    page.keyboard.press("Escape")
    expect(page.locator("#text")).to_be_focused()  # back where it was

    page.keyboard.press("]")
    said(page, "PERSON Naryshkin 0.90")
    page.keyboard.press("<")  # the start a word left: "Sergey Naryshkin"
    said(page, "Corrected to PERSON “Sergey Naryshkin”.")
    wait_for_version(page, 2)
    page.keyboard.press("]")
    said(page, "GPE Minsk 0.80")
    page.keyboard.press("Enter")
    said(page, "Accepted GPE “Minsk”. Now: ORG Later 0.30.")
    wait_for_version(page, 3)
    page.keyboard.press("Delete")
    said(page, "Rejected ORG “Later”.")
    wait_for_version(page, 4)

    # A new span from a selection made with the arrows, in the text (where the focus still is).
    expect(page.locator("#text")).to_be_focused()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")  # the third line: "Later, Lukashenko met Naryshkin."
    for _ in range(7):
        page.keyboard.press("ArrowRight")
    for _ in range(10):
        page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("p")
    said(page, "Added PERSON “Lukashenko”.")
    wait_for_version(page, 5)

    # A relation from it to Sergey Naryshkin.
    page.keyboard.press(";")
    said(page, "Relation: move to the tail entity with } and {, then press Enter, or click it. Esc cancels.")
    page.keyboard.press("{")
    said(page, "GPE Minsk")
    page.keyboard.press("{")
    said(page, "PERSON Sergey Naryshkin")
    page.keyboard.press("Enter")
    expect(page.locator("#relation-panel button[data-action=relate]")).to_be_focused()
    page.keyboard.press("1")
    said(page, "Related “Lukashenko” met_with “Sergey Naryshkin”.")
    wait_for_version(page, 6)

    # A link, chosen with the arrows in the link panel.
    page.keyboard.press("{")
    page.keyboard.press("{")
    said(page, "PERSON Sergey Naryshkin")
    page.keyboard.press("/")
    expect(page.locator("#kb-query")).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(page.locator(".candidate").first).to_be_focused()
    page.keyboard.press("Enter")
    said(page, "Linked PERSON “Sergey Naryshkin” to Sergey Naryshkin (naryshkin).")
    wait_for_version(page, 7)

    # NIL for Lukashenko: the panel's NIL button is the next Tab stop after the search box.
    page.keyboard.press("}")
    page.keyboard.press("}")
    said(page, "PERSON Lukashenko")
    page.keyboard.press("/")
    expect(page.locator("#kb-query")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("Not in the KB (NIL)")
    page.keyboard.press("Enter")
    said(page, "Linked PERSON “Lukashenko” to NIL (not in the KB).")
    wait_for_version(page, 8)
    page.screenshot(path=str(SCREENSHOTS / "annotate-page.png"), full_page=True)

    page.keyboard.press("Control+z")
    said(page, "Undone.")
    wait_for_version(page, 9)
    assert list(EntityLink.objects.values_list("span__surface", "kb_entity__kb_id")) == [
        ("Sergey Naryshkin", "naryshkin")
    ]
    assert own_spans(world) == [
        (*offsets_of("Sergey Naryshkin"), "PERSON"),
        (*offsets_of("Minsk"), "GPE"),
        (*offsets_of("Lukashenko"), "PERSON"),
    ]
    assert Relation.objects.get().relation_type.name == "met_with"

    page.keyboard.press("Control+Enter")
    page.wait_for_url(f"**/articles/{world['second'].pk}/annotate/")
    expect(page.get_by_text("Here is the next article.")).to_be_visible()
    own = AnnotationSet.objects.get(article=world["article"], annotator=world["user"])
    assert own.status == SetStatus.SUBMITTED


def test_the_type_picker_is_reached_with_tab_and_used_with_arrows(page, log_in, world):
    open_annotate(page, log_in, world["article"])
    page.locator("#text").focus()
    for _ in range(6):  # "Hello "
        page.keyboard.press("ArrowRight")
    page.keyboard.press("Shift+ArrowRight")  # the ZWJ family
    expect(page.locator("#type-picker")).to_be_visible()
    page.keyboard.press("Tab")
    expect(page.locator("#type-picker button").first).to_be_focused()
    page.keyboard.press("ArrowRight")
    expect(page.locator("#type-picker button", has_text="ORG")).to_be_focused()
    page.keyboard.press("Enter")
    wait_for_version(page, 2)
    assert own_spans(world) == [(6, 11, "ORG")]
    expect(page.locator("#text")).to_be_focused()
