"""Users' text in the app's sentences: shortened as written (no normalisation), isolated when it could
reorder the words around it."""

from django.template import Context, Template

from annotator.core.text import isolate, shorten

DECOMPOSED = "Zoe\u0308 cafe\u0301"  # "Zoë café" with combining marks: 10 code points


def test_text_within_the_limit_is_returned_as_written_not_normalised():
    assert shorten(DECOMPOSED, 10) == DECOMPOSED  # truncatechars would return the NFC form, 8 code points


def test_a_cut_ends_in_an_ellipsis_within_the_limit():
    assert shorten("Sergey Naryshkin", 8) == "Sergey …"
    assert len(shorten("Sergey Naryshkin", 8)) == 8


def test_a_cut_never_separates_a_combining_mark_from_its_letter():
    # Cutting at 4 would keep "Zoe" and drop the diaeresis on its "e"; the cut moves before the "e".
    assert shorten(DECOMPOSED, 4) == "Zo…"
    assert shorten(DECOMPOSED, 5) == "Zoe\u0308…"


def test_the_template_filter_shortens_and_still_escapes():
    template = Template("{% load user_text %}{{ value|shorten:6 }}")
    rendered = template.render(Context({"value": "<b>Zoe\u0308</b>"}))
    assert rendered == "&lt;b&gt;Zo…"


def test_a_left_to_right_name_goes_into_a_sentence_unchanged():
    assert isolate("news.jsonl") == "news.jsonl"
    assert (
        isolate("Zoe\u0308 \U0001f469\u200d\U0001f469\u200d\U0001f467.csv")
        == "Zoe\u0308 \U0001f469\u200d\U0001f469\u200d\U0001f467.csv"
    )


def test_a_name_with_an_override_or_right_to_left_letters_is_isolated():
    assert isolate("x\u202egnp.exe") == "\u2068x\u202egnp.exe\u2069"
    assert isolate("تقرير.jsonl") == "\u2068تقرير.jsonl\u2069"
    assert isolate("\u2067a\u2069") == "\u2068\u2067a\u2069\u2069"
