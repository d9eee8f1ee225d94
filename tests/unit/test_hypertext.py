"""Label Studio HyperText regions placed in the text an HTML document shows, every placement checked."""

from annotator.interchange.formats.hypertext import HyperText


def place(html, **value):
    return HyperText(html).place(value)


def test_the_text_is_what_the_html_shows_with_a_line_break_after_each_block():
    html = (
        "<html><head></head><body><h1>Minsk</h1><p>Naryshkin &amp; Lukashenko<br/>met.</p>tail</body></html>"
    )
    assert HyperText(html).text == "Minsk\nNaryshkin & Lukashenko\nmet.\ntail"


def test_regions_are_placed_by_xpath_from_the_root_or_the_body_or_by_global_offsets():
    html = "<html><body><p>One <i>two</i> three</p><p>four</p></body></html>"
    xpath = {"start": "/p[1]/text()[2]", "end": "/p[1]/text()[2]"}
    assert place(html, **xpath, startOffset=1, endOffset=6, text="three") == (8, 13)
    assert place(html, start="/text()[1]", end="/text()[1]", startOffset=0, endOffset=3, text="One") is None
    assert place(
        "plain text", start="/text()[1]", end="/text()[1]", startOffset=6, endOffset=10, text="text"
    ) == (
        6,
        10,
    )
    # Global offsets count the DOM's text content ("One two threefour"): "four" is at 13, here at 14.
    assert place(html, globalOffsets={"start": 13, "end": 17}, text="four") == (14, 18)


def test_a_placement_that_does_not_give_back_the_region_s_text_is_refused():
    html = "<p>Minsk and Vitebsk</p>"
    assert (
        place(html, start="/p[1]/text()[1]", end="/p[1]/text()[1]", startOffset=0, endOffset=5, text="Minsx")
        is None
    )
    assert place(html, start="/p[1]/text()[1]", end="/p[1]/text()[1]", startOffset=0, endOffset=5) is None
    assert (
        place(html, start="/p[9]/text()[1]", end="/p[1]/text()[1]", startOffset=0, endOffset=5, text="Minsk")
        is None
    )
