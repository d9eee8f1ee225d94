"""A long article in Chromium: the page opens before its suggestions exist, then fills them in by itself."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from annotator.annotations.models import Span
from annotator.annotations.services import create_span, get_or_create_own_set
from annotator.articles.models import Article
from annotator.jobs.models import Job, JobStatus
from annotator.review.rendering import split_blocks
from annotator.suggestions.engine import RULES_VERSION
from annotator.suggestions.models import (
    Decision,
    SuggesterKind,
    SuggesterVersion,
    Suggestion,
    SuggestionKind,
    Verdict,
)
from tests.browser.test_annotate_page import (  # noqa: F401 - the fixture
    CHAR_BOX,
    drag_select,
    open_annotate,
    wait_for_version,
    world,
)


def test_a_long_article_shows_its_suggestions_when_the_job_that_computes_them_ends(
    page,
    log_in,
    world,  # noqa: F811 - the fixture imported above
    settings,
):
    settings.ANNOTATOR_SUGGEST_ON_OPEN = True
    settings.ANNOTATOR_SUGGEST_INLINE_MAX_CHARS = 10  # the article is "long"
    open_annotate(page, log_in, world["article"])
    # Tests run tasks in-process: the job ran as the page opened; the page still found it queued.
    assert Job.objects.get().status == JobStatus.SUCCEEDED
    expect(page.locator("#text mark.sugg", has_text="Minsk")).to_have_count(1)  # polled every 2 s
    expect(page.locator("#suggesting")).to_have_count(0)
    row = page.locator("#suggestion-list .row.kind-entity", has_text="Minsk")
    expect(row).to_have_count(1)
    expect(page.locator("#count-suggestions")).not_to_have_text(re.compile(r"^0$"))


# A 1,400-line article (31 blocks): the page shows 8 blocks annotated, the rest as text that loads as it
# comes into view. A GPE suggestion on "Minsk" every 50 lines (about one per block), a PERSON span on the
# first line, a line for a new span late in the article and hostile text in the last block.
LINE = "Sergey Naryshkin visited Minsk on April 15.\n"  # 44 code points; "Minsk" at 25-30
LATE = 1300
LATE_LINE = "Roman Protasevich 🇧🇾 flew to Vilnius.\n"
HOSTILE = (
    "<script>alert(1)</script><img src=x onerror=alert(2)> {{ 7|add:1 }} 👩‍👩‍👧 \u05e9\u05dc\u05d5\u05dd\n"
)
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


@pytest.fixture
def long_world(world, settings):  # noqa: F811 - the fixture imported above
    settings.ANNOTATOR_SUGGEST_ON_OPEN = False
    lines = [LATE_LINE if n == LATE else LINE for n in range(1399)] + [HOSTILE]
    text = "".join(lines)
    article = world["article"]
    Article.objects.filter(pk=article.pk).update(text=text)
    article.refresh_from_db()
    own = get_or_create_own_set(article=article, user=world["user"])
    create_span(
        annotation_set=own, start=0, end=16, entity_type=world["person"], by=world["user"], expected_version=1
    )
    made_by = SuggesterVersion.objects.create(
        project=world["project"],
        name="rules",
        kind=SuggesterKind.RULES,
        version=RULES_VERSION,
        is_active=True,
    )
    starts = [sum(len(line) for line in lines[:n]) for n in range(0, 1399, 50) if n != LATE]
    Suggestion.objects.bulk_create(
        Suggestion(article=article, suggester_version=made_by, kind=SuggestionKind.ENTITY, start=s + 25,
                   end=s + 30, entity_type=world["gpe"], score=0.9, source="test")
        for s in starts
    )  # fmt: skip
    blocks = split_blocks(text)
    return {**world, "text": text, "blocks": blocks, "late": text.index("Roman Protasevich"), "minsk": starts}


def lazy_blocks(page):
    return page.locator("#text .blk[data-lazy]")


@pytest.mark.parametrize("width", [1280, 320])
def test_blocks_load_as_they_scroll_into_view_with_their_marks_and_rows(page, log_in, long_world, width):
    page.set_viewport_size({"width": width, "height": 800})
    open_annotate(page, log_in, long_world["article"])
    expect(page.locator("#text .blk")).to_have_count(31)
    expect(lazy_blocks(page)).to_have_count(31 - 8)
    # The whole text is there from the start: the browser's find-in-page reaches the last line, and
    # hostile text is shown as text.
    assert page.locator("#text").text_content() == long_world["text"]
    assert page.locator("#text script, #text img").count() == 0
    target = page.locator("#blk-20")
    expect(target.locator("mark")).to_have_count(0)
    scroll_to(page, 20)
    expect(target).not_to_have_attribute("data-lazy", "1")
    expect(target.locator("mark.sugg", has_text="Minsk")).not_to_have_count(0)
    expect(page.locator("#suggestions-blk-20 .row.kind-entity")).not_to_have_count(0)
    expect(page.locator("#suggestions-blk-20")).not_to_have_attribute("data-lazy", "1")
    # Blocks far from the screen stay text until they are needed.
    expect(page.locator("#blk-30")).to_have_attribute("data-lazy", "1")
    page.locator("#filter").fill("")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"long-article-scrolled-{width}.png"))


@pytest.mark.parametrize("width", [1280, 320])
def test_a_span_is_made_by_selecting_text_in_a_late_block_and_across_a_block_boundary(
    page, log_in, long_world, width
):
    page.set_viewport_size({"width": width, "height": 800})
    open_annotate(page, log_in, long_world["article"])
    late = long_world["late"]
    scroll_to(page, block_index(long_world, late))
    bring_into_view(page, late)
    drag_select(page, late, late + len("Roman Protasevich"))
    page.keyboard.press("p")
    wait_for_version(page, 3)
    span = Span.objects.get(start=late)
    assert (span.end, span.surface, span.entity_type.name) == (late + 17, "Roman Protasevich", "PERSON")
    expect(page.locator(f'#text mark[data-item="s{span.pk}"]')).to_have_text("Roman Protasevich")
    # Across the boundary of blocks 15 and 16: "April 15." at the end of one, "Sergey" at the start of the next.
    boundary = long_world["blocks"][16].start
    start, end = boundary - 10, boundary + 6
    scroll_to(page, 16)
    bring_into_view(page, start)
    expect(page.locator("#blk-16")).not_to_have_attribute("data-lazy", "1")
    drag_select(page, start, end)
    page.keyboard.press("p")
    wait_for_version(page, 4)
    across = Span.objects.get(start=start)
    assert (across.end, across.surface) == (end, "April 15.\nSergey")
    expect(page.locator(f'#text mark[data-item="s{across.pk}"]')).to_have_count(2)  # one in each block
    page.screenshot(path=str(SCREENSHOTS / f"long-article-late-span-{width}.png"))


@pytest.mark.parametrize("width", [1280, 320])
def test_keys_step_into_blocks_that_have_not_loaded(page, log_in, long_world, width):
    page.set_viewport_size({"width": width, "height": 800})
    open_annotate(page, log_in, long_world["article"])
    page.locator("#text").focus()
    # "[" from nothing goes to the last suggestion, in the last blocks, which load for it.
    page.keyboard.press("[")
    last = Suggestion.objects.get(start=long_world["minsk"][-1] + 25)
    expect(page.locator(f'#text mark.current[data-item="g{last.pk}"]')).to_have_count(1)
    expect(page.locator(f'#suggestion-list .row.current[data-item="g{last.pk}"]')).to_have_count(1)
    page.keyboard.press("Enter")
    wait_for_version(page, 3)
    assert Decision.objects.get(suggestion=last).verdict == Verdict.ACCEPTED
    # "]" from the first suggestion walks on past the first blocks, loading each as it gets there.
    page.locator("#text").focus()
    page.evaluate("() => window.scrollTo(0, 0)")
    firsts = sorted(Suggestion.objects.exclude(pk=last.pk), key=lambda s: s.start)
    page.locator(f'#suggestion-list .row[data-item="g{firsts[0].pk}"] .row-main').click()
    for suggestion in firsts[1:12]:
        page.keyboard.press("]")
        expect(page.locator(f'#text mark.current[data-item="g{suggestion.pk}"]')).to_have_count(1)
    assert block_index(long_world, firsts[11].start) > 8
    expect(page.locator(f'#text mark.current[data-item="g{firsts[11].pk}"]')).to_be_in_viewport()
    page.screenshot(path=str(SCREENSHOTS / f"long-article-keys-{width}.png"))


def block_index(long_world, offset):
    return next(block.index for block in long_world["blocks"] if block.start <= offset < block.end)


def scroll_to(page, index):
    """Scroll block `index` to the middle of the screen (by id: the block is replaced when it loads)."""
    page.evaluate(
        "(index) => document.getElementById(`blk-${index}`).scrollIntoView({ block: 'center' })", index
    )


def bring_into_view(page, offset):
    """Scroll (with the wheel, as a person does) until the character at `offset` sits still on the screen,
    in a block whose annotations have loaded."""
    previous = None
    for _ in range(30):
        top = page.evaluate(CHAR_BOX, [offset])["top"]
        if not 150 <= top <= 500:
            page.mouse.wheel(0, top - 300)
        elif top == previous:
            block = page.locator(f"#blk-{page.evaluate(BLOCK_AT, [offset])}")
            expect(block).not_to_have_attribute("data-lazy", "1")
            if page.evaluate(CHAR_BOX, [offset])["top"] == top:
                return
        previous = top
        page.wait_for_timeout(300)
    raise AssertionError(f"Could not scroll offset {offset} into view")


BLOCK_AT = """([offset]) => Array.from(document.querySelectorAll("#text .blk"))
  .find((block) => Number(block.dataset.s) <= offset && offset < Number(block.dataset.e)).id.slice(4)"""


@pytest.mark.parametrize("width", [1280, 320])
def test_the_filter_finds_rows_in_blocks_that_have_not_loaded(page, log_in, long_world, width):
    """The side lists hold the rows of the blocks loaded so far: the filter asks the server which blocks
    match, loads them, and shows their rows; it says when more parts match than it loaded."""
    own = Span.objects.get().annotation_set
    late = long_world["late"]
    far = create_span(
        annotation_set=own, start=late, end=late + 17, entity_type=world_type(long_world, "PERSON"),
        by=long_world["user"], expected_version=own.version,
    )  # fmt: skip
    page.set_viewport_size({"width": width, "height": 800})
    open_annotate(page, log_in, long_world["article"])
    far_block = block_index(long_world, late)
    expect(page.locator(f"#blk-{far_block}")).to_have_attribute("data-lazy", "1")

    page.locator("#filter").fill("protasevich")
    row = page.locator(f'#span-list .row[data-item="s{far.pk}"]')
    expect(row).to_be_visible()
    expect(page.locator(f"#blk-{far_block}")).not_to_have_attribute("data-lazy", "1")
    expect(page.locator("#span-list .row:not([hidden])")).to_have_count(1)
    expect(page.locator("#filter-note")).to_be_hidden()  # every match is loaded
    page.screenshot(path=str(SCREENSHOTS / f"long-article-filter-{width}.png"))

    # "minsk" matches a suggestion in nearly every block: the page loads them all (8 blocks a request).
    page.locator("#filter").fill("minsk")
    expect(page.locator("#suggestion-list .row.kind-entity:not([hidden])")).to_have_count(
        len(long_world["minsk"])
    )
    expect(page.locator("#filter-note")).to_be_hidden()
    # Text nobody wrote matches nothing, here or further on.
    page.locator("#filter").fill("vilnius-nowhere")
    expect(page.locator(".rows .row:not([hidden])")).to_have_count(0)
    expect(page.locator("#filter-note")).to_be_hidden()


def world_type(long_world, name):
    return {"PERSON": long_world["person"], "GPE": long_world["gpe"]}[name]
