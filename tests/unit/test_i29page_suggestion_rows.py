"""`entity_suggestion_row` put together from pieces kept per process writes what it wrote before (the row
from its values in one f-string, kept here as the reference), byte for byte, on hostile text, at the
filter's 300-character cut and for any text."""

from html import escape

from hypothesis import given
from hypothesis import strategies as st

from annotator.core.text import shorten
from annotator.review.rows import entity_suggestion_row
from tests import hostile

_BUTTONS = (
    '<span class="row-actions"><button type="button" class="ok" data-action="accept" aria-label="Accept" '
    'tabindex="-1">&#10003;</button><button type="button" class="no" data-action="reject" aria-label="Reject" '
    'tabindex="-1">&#10005;</button></span>'
)


def reference_row(item, start, end, type_id, name, surface, score, source, block_id):
    """The row as the code before this change wrote it (general case: no pieces kept)."""
    short = min(60, (300 - len("entity  ") - 2 * len(name)) // 2)
    if len(surface) <= short:
        shown, key = escape(surface), escape(f"entity {name.lower()} ") + escape(surface).lower()
    else:
        shown = escape(shorten(surface, 60))
        key = escape(f"entity {name.lower()} {surface.lower()}"[:300])
    return (
        f'<div class="row suggestion kind-entity" tabindex="-1" data-item="{item}" data-kind="entity" '
        f'data-start="{start}" data-end="{end}" data-filter="{key}"><a class="row-main" href="#{block_id}" '
        f'tabindex="-1"><span class="entity-chip et-{type_id}">{escape(name)}</span> '
        f'<span class="surface">{shown}</span> '
        f'<span class="score" title="{escape(source)}">{score}</span></a>{_BUTTONS}</div>'
    )


WORDS = f"{hostile.ZWJ_FAMILY} {hostile.RLO}txt.exe {hostile.ARABIC}"
SURFACES = ["Minsk", hostile.SCRIPT, hostile.SVG, hostile.TEMPLATE, hostile.COMBINING, "İstanbul" * 7,
            "x" * 60, "y" * 61, "e\u0301" * 40, WORDS]  # fmt: skip
NAMES = ["PERSON", hostile.PERSON, hostile.GPE, hostile.ORG, "İ" * 120, "T" * 119, "T" * 120]
SOURCES = ["kb-ruler", hostile.SCRIPT, hostile.IMG]


def test_a_row_is_exactly_this():
    row = entity_suggestion_row("g9", 3, 8, 2, "GPE", "Minsk", "0.80", "kb-ruler", "blk-1")
    assert row == (
        '<div class="row suggestion kind-entity" tabindex="-1" data-item="g9" data-kind="entity" '
        'data-start="3" data-end="8" data-filter="entity gpe minsk"><a class="row-main" href="#blk-1" '
        'tabindex="-1"><span class="entity-chip et-2">GPE</span> <span class="surface">Minsk</span> '
        f'<span class="score" title="kb-ruler">0.80</span></a>{_BUTTONS}</div>'
    )


def test_rows_are_the_reference_rows_on_hostile_text_and_at_the_filter_s_cut():
    for name in NAMES:
        for surface in SURFACES:
            for source in SOURCES:
                values = ("g7", 3, 3 + len(surface), 2, name, surface, "0.95", source, "blk-3")
                expected = reference_row(*values)
                assert entity_suggestion_row(*values) == expected
                assert entity_suggestion_row(*values) == expected  # the second from the kept pieces
                other_block = (*values[:-1], "blk-4")
                assert entity_suggestion_row(*other_block) == reference_row(*other_block)


@given(st.text(max_size=80), st.text(min_size=1, max_size=64), st.text(max_size=40))
def test_rows_are_the_reference_rows_for_any_text(surface, name, source):
    values = ("g1", 0, len(surface), 5, name, surface, "1.00", source, "blk-0")
    assert entity_suggestion_row(*values) == reference_row(*values)
