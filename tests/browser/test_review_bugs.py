"""Regression tests for the review pages' bugs that changed the wrong data (issue 16), in chromium.

Each failed before its fix: a keyboard resize that saved onto the next suggestions, Enter on a focused
button taken as "accept the current suggestion", Take repeated into new gold versions, a GET that made
gold, a submitted set that looked editable, imported sets nowhere, a suggestion inside an accepted span.
"""

import json

from playwright.sync_api import expect

from annotator.annotations import services
from annotator.annotations.models import AnnotationSet, SetKind, SetStatus, Span
from annotator.annotations.services import get_or_create_own_set
from annotator.kb.models import KBEntity
from annotator.suggestions.engine import RULES_VERSION
from annotator.suggestions.models import Decision, SuggesterVersion, Suggestion, SuggestionKind, Verdict
from tests.browser.test_annotate_page import (
    offsets_of,
    open_annotate,
    own_spans,
    time_stands_still,
    wait_for_version,
)
from tests.browser.test_annotate_page import world as world
from tests.browser.test_curation_page import world as curation  # noqa: F401 - the curation page's fixture

# The annotate fixture's text: "Hello <family> world\nSergey Naryshkin <flag> visited Minsk.\nLater, Lukashenko met"…


def suggest(world, word, entity_type, score=0.9, occurrence=0, kind=SuggestionKind.ENTITY, **extra):
    version, _ = SuggesterVersion.objects.get_or_create(
        project=world["project"], name="rules", kind="rules", version=RULES_VERSION
    )
    start, end = offsets_of(word, occurrence)
    return Suggestion.objects.create(
        article=world["article"], suggester_version=version, kind=kind, start=start, end=end,
        entity_type=entity_type, score=score, source="ner", **extra,
    )  # fmt: skip


def test_a_keyboard_resize_stays_on_its_item_and_saves_once(page, log_in, world):
    naryshkin = suggest(world, "Naryshkin", world["person"])
    minsk = suggest(world, "Minsk", world["gpe"])
    lukashenko = suggest(world, "Lukashenko", world["person"])
    page.clock.install()
    open_annotate(page, log_in, world["article"])
    page.keyboard.press("]")
    expect(page.locator(f'.row.current[data-item="g{naryshkin.pk}"]')).to_be_visible()
    # Quickly, as the page counts time: both presses within the pause that ends a gesture (a loaded
    # machine may take longer between two presses than a person's hand; the page's clock waits for them).
    with time_stands_still(page):
        for _ in range(2):  # by words: "Sergey Naryshkin", then "world\nSergey Naryshkin"
            page.keyboard.press("<")
    wait_for_version(page, 2)  # one gesture, one save
    start, end = offsets_of("world\nSergey Naryshkin")
    assert own_spans(world) == [(start, end, "PERSON")]
    assert dict(Decision.objects.values_list("suggestion_id", "verdict")) == {naryshkin.pk: Verdict.CORRECTED}
    span = Span.objects.get()
    expect(page.locator(f'#text mark.current[data-item="s{span.pk}"]')).to_have_count(1)  # still on it
    page.keyboard.press(">")  # the start right by a word, past the line break: "Sergey Naryshkin"
    wait_for_version(page, 3)
    assert own_spans(world) == [(*offsets_of("Sergey Naryshkin"), "PERSON")]
    page.keyboard.press("Alt+,")  # the end left by a character: "Sergey Naryshki"
    wait_for_version(page, 4)
    assert own_spans(world) == [
        (offsets_of("Sergey Naryshkin")[0], offsets_of("Sergey Naryshkin")[1] - 1, "PERSON")
    ]
    assert not Decision.objects.filter(suggestion__in=[minsk, lukashenko]).exists()  # never touched
    expect(page.locator("#announce")).to_have_text("Changed to PERSON “Sergey Naryshki”.")


def test_enter_on_a_focused_button_or_link_is_that_controls_own(page, log_in, world):
    first = suggest(world, "Naryshkin", world["person"])
    second = suggest(world, "Minsk", world["gpe"])
    open_annotate(page, log_in, world["article"])
    page.keyboard.press("]")
    expect(page.locator(f'.row.current[data-item="g{first.pk}"]')).to_be_visible()
    page.locator(f'#suggestion-list .row[data-item="g{second.pk}"] button[data-action=reject]').focus()
    page.keyboard.press("Enter")
    wait_for_version(page, 2)
    assert dict(Decision.objects.values_list("suggestion_id", "verdict")) == {second.pk: Verdict.REJECTED}
    page.get_by_role("button", name="Shortcuts").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#help")).to_be_visible()
    page.keyboard.press("Escape")
    page.get_by_role("link", name="History").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/history/")
    assert dict(Decision.objects.values_list("suggestion_id", "verdict")) == {second.pk: Verdict.REJECTED}


def test_a_submitted_set_is_read_only_and_can_be_reopened(page, log_in, world):
    suggestion = suggest(world, "Minsk", world["gpe"])
    own = get_or_create_own_set(article=world["article"], user=world["user"])
    services.submit_set(annotation_set=own, by=world["user"], expected_version=own.version)
    open_annotate(page, log_in, world["article"])
    expect(page.locator("#undo-button")).to_be_disabled()
    expect(page.locator(f'.row[data-item="g{suggestion.pk}"] button[data-action=accept]')).to_be_hidden()
    page.keyboard.press("]")
    page.keyboard.press("Enter")
    expect(page.locator("#announce")).to_have_text(
        "Read only: this set is submitted. Reopen it to change it."
    )
    page.get_by_role("button", name="Reopen to edit").click()
    expect(page.get_by_text("Reopened: you can change this set again, then submit it.")).to_be_visible()
    # The page comes back without the button; keys work once its script runs (at the load event: the
    # message above shows while the page is still being parsed, before the deferred script has run).
    expect(page.get_by_role("button", name="Reopen to edit")).to_have_count(0)
    page.wait_for_load_state("load")
    own.refresh_from_db()
    assert (own.status, own.version) == (SetStatus.IN_PROGRESS, 3)
    page.keyboard.press("]")
    page.keyboard.press("Enter")
    wait_for_version(page, 4)
    assert own_spans(world) == [(*offsets_of("Minsk"), "GPE")]


def test_a_suggestion_inside_an_accepted_span_of_its_type_goes_and_the_link_panel_lists_entities_once(
    page, log_in, world
):
    outer = suggest(world, "Sergey Naryshkin", world["person"], score=0.9)
    inner = suggest(world, "Naryshkin", world["person"], score=0.8)
    other_type = suggest(world, "Naryshkin", world["org"], score=0.7)
    naryshkin = KBEntity.objects.get(kb_id="naryshkin")
    for score in (0.9, 0.6):  # two suggesters agree: still one entry
        suggest(
            world,
            "Sergey Naryshkin",
            world["person"],
            score=score,
            kind=SuggestionKind.LINK,
            kb_entity=naryshkin,
        )
    open_annotate(page, log_in, world["article"])
    page.keyboard.press("]")
    page.keyboard.press("Enter")
    wait_for_version(page, 2)
    expect(page.locator(f'.row[data-item="g{inner.pk}"]')).to_have_count(0)
    expect(page.locator(f'#text mark[data-item="g{inner.pk}"]')).to_have_count(0)
    expect(page.locator(f'.row[data-item="g{other_type.pk}"]')).to_have_count(1)  # another type: still asked
    assert outer.pk != inner.pk
    page.keyboard.press("}")
    page.keyboard.press("/")
    page.locator("#link-panel .candidate").first.wait_for()
    expect(page.locator("#link-panel .candidate", has_text="Sergey Naryshkin")).to_have_count(1)


def test_taking_what_gold_holds_changes_nothing_and_a_get_writes_nothing(page, log_in, curation):  # noqa: F811
    article = curation["article"]
    log_in("carol")
    page.goto(f"/articles/{article.pk}/curate/")
    expect(page.locator("#gold-version")).to_have_text("1")
    assert not AnnotationSet.objects.filter(article=article, kind=SetKind.GOLD).exists()
    row = page.locator("#span-items tr", has_text="Minsk")
    row.get_by_role("button", name="Take").first.click()
    expect(page.locator("#gold-version")).to_have_text("2")
    row = page.locator("#span-items tr", has_text="Minsk")
    expect(row.get_by_role("button", name="Take")).to_have_count(0)  # both versions are what gold holds
    expect(row.locator(".in-gold")).to_have_count(2)
    # The same form posted again (a second tab, a double click): a no-op that says so.
    minsk = Span.objects.filter(annotation_set__annotator__username="alice", start=25).get()
    response = page.request.post(
        f"/articles/{article.pk}/curate/take/",
        form={"version": "2", "item": "span", "id": str(minsk.pk)},
        headers={**json.loads(page.locator("body").get_attribute("hx-headers")), "HX-Request": "true"},
    )
    assert response.status == 200
    assert "Gold already holds this entity as it is: nothing changed." in response.text()
    assert AnnotationSet.objects.get(article=article, kind=SetKind.GOLD).version == 2


def test_imported_sets_are_read_and_taken_from(page, log_in, curation):  # noqa: F811
    article = curation["article"]
    imported = AnnotationSet.objects.create(article=article, kind=SetKind.IMPORTED, name="spacy <b>run</b>")
    Span.objects.create(
        annotation_set=imported, start=34, end=42, entity_type=curation["types"]["DATE"], surface="April 15"
    )
    Span.objects.create(
        annotation_set=imported, start=7, end=16, entity_type=curation["types"]["PERSON"], surface="Naryshkin"
    )
    log_in("carol")
    page.goto(article.get_absolute_url())
    expect(page.get_by_role("heading", name="spacy <b>run</b> (imported)")).to_be_visible()
    page.goto(f"/articles/{article.pk}/curate/")
    expect(page.locator("#span-items thead")).to_contain_text("spacy <b>run</b> (imported)")
    row = page.locator("#span-items tr", has_text="Naryshkin").filter(has_text="imported-only")
    row.get_by_role("button", name="Take").click()
    expect(page.locator("#gold-version")).to_have_text("2")
    gold = AnnotationSet.objects.get(article=article, kind=SetKind.GOLD)
    assert list(Span.objects.filter(annotation_set=gold).values_list("start", "end")) == [(7, 16)]
