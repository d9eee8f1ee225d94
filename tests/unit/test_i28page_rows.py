"""The annotate page's fast row builders write what the general ones write, byte for byte.

`plain_span_row` (a span without a link or attribute values, from its values, pieces kept per process) is
what `general_span_row` writes for the same span; the span picker's options with their labels kept per
process are what the template loop wrote (see test_span_options.py for that loop)."""

from hypothesis import given
from hypothesis import strategies as st

from annotator.review.rows import general_span_row, plain_span_row, span_row
from annotator.review.state import KBName, LinkRow, Named, SpanRow
from annotator.review.templatetags.span_options import span_options
from tests import hostile

SURFACES = [
    "Minsk",
    hostile.SCRIPT,
    hostile.SVG,
    hostile.TEMPLATE,
    f"{hostile.ZWJ_FAMILY} {hostile.RLO}txt.exe {hostile.ARABIC}",
    hostile.COMBINING,
    "İstanbul" * 7,  # 56 code points, 63 in lower case ("İ" lowers to two)
    "x" * 60,
    "y" * 61,
    "e\u0301" * 40,
    "",
]
NAMES = ["PERSON", hostile.PERSON, hostile.GPE, hostile.ORG, "İ" * 120, "T" * 119, "T" * 120]


def _span(surface, name, *, pk=7, has_attributes=False, link=None):
    return SpanRow(pk, 3, 3 + len(surface), 2, Named(2, name), surface, link, False, has_attributes)


def test_a_plain_span_row_is_exactly_this():
    row = span_row(_span("Sergey <Naryshkin>", "PERSON"), "blk-0")
    assert row == (
        '<div class="row span" tabindex="-1" data-item="s7" data-type="2" data-start="3" data-end="21" '
        'data-filter="person sergey &lt;naryshkin&gt; "><a class="row-main" href="#blk-0" tabindex="-1">'
        '<span class="entity-chip et-2">PERSON</span> <span class="surface">Sergey &lt;Naryshkin&gt;</span>'
        '</a><span class="row-actions"><button type="button" data-action="link" aria-label="Link to the KB" '
        'tabindex="-1">&#128279;</button><button type="button" class="no" data-action="delete" '
        'aria-label="Delete" tabindex="-1">&#10005;</button></span></div>'
    )


def test_plain_span_rows_are_the_general_rows_on_hostile_text_and_at_the_filter_s_cut():
    for name in NAMES:
        for surface in SURFACES:
            for has_attributes in (False, True):
                span = _span(surface, name, has_attributes=has_attributes)
                fast = plain_span_row(
                    span.pk, span.start, span.end, 2, name, surface, has_attributes, "blk-3"
                )
                assert fast == general_span_row(span, "blk-3")
                assert fast == span_row(span, "blk-3")  # twice: the second from the kept pieces
                assert fast == plain_span_row(span.pk, span.start, span.end, 2, name, surface, has_attributes,
                                              "blk-3")  # fmt: skip


@given(st.text(max_size=80), st.text(min_size=1, max_size=160))
def test_plain_span_rows_are_the_general_rows_for_any_text(surface, name):
    span = _span(surface, name)
    assert plain_span_row(7, span.start, span.end, 2, name, surface, False, "blk-0") == general_span_row(
        span, "blk-0"
    )


def test_spans_with_a_link_or_attribute_values_take_the_general_row():
    linked = _span("Minsk", "GPE", link=LinkRow(4, 9, KBName(hostile.IMG, "Q<1>")))
    row = span_row(linked, "blk-0")
    assert row == general_span_row(linked, "blk-0")
    assert '<span class="link-state">&#8594; &lt;img data-pwned' in row
    assert "<code>Q&lt;1&gt;</code>" in row
    nil = _span("Minsk", "GPE", link=LinkRow(4, None, None))
    assert '<span class="link-state nil">NIL</span>' in span_row(nil, "blk-0")


def test_span_options_read_the_same_the_second_time():
    spans = [
        _span(surface, name, pk=i)
        for i, (surface, name) in enumerate(zip(SURFACES, (NAMES * 2)[: len(SURFACES)], strict=True))
    ]
    first = span_options(spans)
    assert span_options(spans) == first
    assert f'<option value="1">{hostile.PERSON.replace("<", "&lt;").replace(">", "&gt;")} “' in first
    assert "<script>" not in first
