"""The annotate page's text rendering: blocks cover the text exactly, marks nest and cross, all is escaped."""

import re
from html import unescape

from hypothesis import given
from hypothesis import strategies as st

from annotator.review.rendering import Mark, blocks_touching, render_block, split_blocks

TAGS = re.compile(r"<[^>]+>")


def visible_text(html: str) -> str:
    return unescape(TAGS.sub("", html))


def mark(item, start, end, type_id=1, label="PERSON", **fields):
    return Mark(item=item, start=start, end=end, type_id=type_id, label=label, **fields)


@given(st.text(alphabet=st.sampled_from("ab \n\n👩‍👧é\u202e<&>"), max_size=3000), st.integers(5, 400))
def test_blocks_cover_the_text_exactly_and_cut_after_line_breaks_when_they_can(text, size):
    blocks = split_blocks(text, size)
    assert "".join(text[b.start : b.end] for b in blocks) == text
    assert [b.index for b in blocks] == list(range(len(blocks)))
    for block in blocks[:-1]:
        assert block.end > block.start
        if block.ends_line:
            assert text[block.end - 1] == "\n"


def test_a_long_text_is_cut_at_paragraphs_and_lines():
    paragraph = "word " * 300 + "\n"
    blocks = split_blocks(paragraph * 10, 2000)
    assert len(blocks) > 1
    assert all(block.ends_line and block.starts_line for block in blocks)
    assert not any(block.is_flow for block in blocks)


def test_a_text_without_line_breaks_flows_across_its_blocks():
    blocks = split_blocks("word " * 2000, 2000)
    assert len(blocks) > 1
    assert all(block.is_flow for block in blocks)
    assert all(block.end == 10000 or ("word " * 2000)[block.end - 1] == " " for block in blocks)


@given(
    st.text(alphabet=st.sampled_from("ab\n👩‍👧<&\"'"), min_size=1, max_size=300),
    st.lists(st.tuples(st.integers(0, 300), st.integers(1, 40)), max_size=20),
)
def test_rendering_keeps_the_text_whatever_the_marks(text, raw_marks):
    marks = [
        mark(f"s{i}", start, min(start + length, len(text)))
        for i, (start, length) in enumerate(raw_marks)
        if start < len(text)
    ]
    html = "".join(render_block(text, block, marks) for block in split_blocks(text, 50))
    assert visible_text(html) == text


def test_nested_spans_sit_inside_the_span_that_contains_them():
    text = "Foreign Intelligence Service (SVR)"
    html = render_block(
        text, split_blocks(text)[0], [mark("s1", 0, 28, 2, "ORG"), mark("s2", 8, 20, 2, "ORG")]
    )
    assert html == (
        '<div class="blk" id="blk-0" data-s="0" data-e="34">'
        '<mark class="m et-2 d0 span" data-item="s1" data-label="ORG">Foreign </mark>'
        '<mark class="m et-2 d0 span" data-item="s1"><mark class="m et-2 d1 span" data-item="s2" data-label="ORG">'
        "Intelligence</mark></mark>"
        '<mark class="m et-2 d0 span" data-item="s1"> Service</mark> (SVR)</div>'
    )


def test_crossing_spans_and_suggestions_are_split_into_segments():
    text = "abcdefghij"
    marks = [mark("s1", 0, 6), mark("g7", 4, 9, 3, "ORG 0.82", suggestion=True)]
    html = render_block(text, split_blocks(text)[0], marks)
    assert html == (
        '<div class="blk" id="blk-0" data-s="0" data-e="10">'
        '<mark class="m et-1 d0 span" data-item="s1" data-label="PERSON">abcd</mark>'
        '<mark class="m et-1 d0 span" data-item="s1"><mark class="m et-3 d1 sugg" data-item="g7" '
        'data-label="ORG 0.82">ef</mark></mark>'
        '<mark class="m et-3 d0 sugg" data-item="g7">ghi</mark>j</div>'
    )


def test_links_relations_and_out_of_band_blocks_are_marked():
    text = "Minsk"
    html = render_block(text, split_blocks(text)[0], [mark("s1", 0, 5, linked="nil", related=True)], oob=True)
    assert html == (
        '<div class="blk" id="blk-0" data-s="0" data-e="5" hx-swap-oob="true">'
        '<mark class="m et-1 d0 span link-nil rel" data-item="s1" data-label="PERSON">Minsk</mark></div>'
    )


def test_user_text_and_labels_are_escaped():
    text = '<script>alert("x")</script> {{ 7 }} & <img src=x onerror=alert(1)>'
    label = '"><script>alert(1)</script>'
    html = render_block(text, split_blocks(text)[0], [mark("s1", 0, 8, label=label)])
    assert "<script>" not in html
    assert "<img" not in html
    assert 'data-label="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in html
    assert visible_text(html) == text


def test_blocks_touching_finds_every_block_a_range_overlaps():
    text = ("x" * 99 + "\n") * 10
    blocks = split_blocks(text, 200)
    assert [(b.start, b.end) for b in blocks][:3] == [(0, 200), (200, 400), (400, 600)]
    assert [b.index for b in blocks_touching(blocks, [(150, 250)])] == [0, 1]
    assert [b.index for b in blocks_touching(blocks, [(200, 200)])] == [1]  # an empty range touches its block
    assert [b.index for b in blocks_touching(blocks, [(0, 1), (999, 1000)])] == [0, 4]


def _segment_by_segment(text, block, marks):
    """The rendering as it was first written, one segment at a time: the reference the faster one keeps."""
    from html import escape
    from itertools import pairwise

    inside = [m for m in marks if m.start < block.end and m.end > block.start]
    cuts = {block.start, block.end}
    by_start = {}
    for m in inside:
        cuts.add(max(m.start, block.start))
        cuts.add(min(m.end, block.end))
        by_start.setdefault(max(m.start, block.start), []).append(m)
    active, parts = [], [f'<div class="blk{" flow" if block.is_flow else ""}" id="{block.dom_id}" '
                         f'data-s="{block.start}" data-e="{block.end}">']  # fmt: skip
    for left, right in pairwise(sorted(cuts)):
        active = [m for m in active if m.end > left] + by_start.get(left, [])
        segment = escape(text[left:right], quote=False)
        layers = sorted(active, key=lambda m: (m.start - m.end, m.start, m.item))
        opening = "".join(
            f'<mark class="{m.classes(depth)}" data-item="{m.item}"'
            + (f' data-label="{escape(m.label)}"' if m.start == left else "")
            + ">"
            for depth, m in enumerate(layers)
        )
        parts.append(opening + segment + "</mark>" * len(layers))
    return "".join(parts) + "</div>"


@given(
    st.text(alphabet=st.sampled_from("ab \n👩‍👧<&>\"'é"), min_size=1, max_size=400),
    st.lists(
        st.tuples(
            st.integers(0, 400),
            st.integers(1, 60),
            st.booleans(),
            st.sampled_from(["", "kb", "nil"]),
            st.booleans(),
            st.sampled_from(["PERSON", "ORG 0.82", '<b>"x"</b> & 1']),
        ),
        max_size=25,
    ),
    st.integers(20, 200),
)
def test_marks_alone_are_written_whole_and_the_html_is_what_segment_by_segment_rendering_writes(
    text, raw_marks, size
):
    marks = [
        mark(f"{'g' if suggestion else 's'}{i}", start, min(start + length, len(text)), 1 + i % 3, label,
             suggestion=suggestion, linked=linked, related=related)
        for i, (start, length, suggestion, linked, related, label) in enumerate(raw_marks)
        if start < len(text)
    ]  # fmt: skip
    for block in split_blocks(text, size):
        assert render_block(text, block, marks) == _segment_by_segment(text, block, marks)
