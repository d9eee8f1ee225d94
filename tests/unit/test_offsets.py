"""The offsets contract: code points everywhere, UTF-16 only at the browser, \\n only in stored text."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from annotator.core.offsets import (
    OFFSET_MAX,
    OffsetError,
    Utf16Index,
    check_offsets,
    check_text,
    normalize_newlines,
    parse_offset,
    whole_number,
)

# Text drawn from every plane, with the characters that break naive offset code over-represented.
TRICKY = ["👩‍👩‍👧", "🇧🇾", "e\u0301", "\u202e", "שלום", "مرحبا", "\r\n", "\r", "\n", "𝔘", "🙂", "\t", "Ω"]
texts = st.lists(
    st.one_of(st.sampled_from(TRICKY), st.characters(exclude_categories=["Cs"], exclude_characters="\x00")),
    max_size=60,
).map("".join)


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


# Code point <-> UTF-16


@given(texts)
def test_every_code_point_offset_round_trips_through_utf16(text):
    index = Utf16Index(text)
    for offset in range(len(text) + 1):
        utf16 = index.to_utf16(offset)
        assert utf16 == utf16_units(text[:offset])
        assert index.from_utf16(utf16) == offset


@given(texts)
def test_offsets_inside_a_surrogate_pair_are_refused(text):
    index = Utf16Index(text)
    inside_pairs = set()
    position = 0
    for char in text:
        if ord(char) > 0xFFFF:
            inside_pairs.add(position + 1)
        position += utf16_units(char)
    assert index.utf16_length == utf16_units(text)
    for utf16 in range(index.utf16_length + 1):
        if utf16 in inside_pairs:
            with pytest.raises(OffsetError, match="between the two halves of a surrogate pair"):
                index.from_utf16(utf16)
        else:
            assert index.to_utf16(index.from_utf16(utf16)) == utf16


def test_zwj_family_counts_five_code_points_and_eight_utf16_units():
    text = "A 👩‍👩‍👧 B"
    index = Utf16Index(text)
    start, end = 2, 7  # woman, ZWJ, woman, ZWJ, girl
    assert text[start:end] == "👩‍👩‍👧"
    assert (index.to_utf16(start), index.to_utf16(end)) == (2, 10)
    assert (index.from_utf16(2), index.from_utf16(10)) == (2, 7)
    assert text[index.from_utf16(11) :] == "B"


def test_combining_marks_are_separate_code_points_and_are_not_normalised():
    text = "Cafe\u0301 Minsk"  # 'é' as e + COMBINING ACUTE ACCENT, as a user typed it
    assert text[0:5] == "Cafe\u0301"
    assert Utf16Index(text).to_utf16(5) == 5  # both are in the BMP: one unit each
    assert normalize_newlines(text).text == text  # no NFC: the user's text stays as it is


def test_rtl_text_keeps_logical_offsets():
    text = "Lukashenko (\u05dc\u05d5\u05e7\u05e9\u05e0\u05e7\u05d5) said"
    start = text.index("\u05dc")
    assert text[start : start + 7] == "\u05dc\u05d5\u05e7\u05e9\u05e0\u05e7\u05d5"
    assert Utf16Index(text).to_utf16(start) == start


@pytest.mark.parametrize("offset", [-1, 6])
def test_code_point_offsets_outside_the_text_are_refused(offset):
    with pytest.raises(OffsetError, match=rf"Offset {offset} is outside the text \(0 to 5\)"):
        Utf16Index("Minsk").to_utf16(offset)


# Line endings


@given(texts)
def test_normalised_text_has_no_carriage_returns_and_nothing_else_changes(text):
    normalized = normalize_newlines(text)
    assert "\r" not in normalized.text
    assert normalized.text == text.replace("\r\n", "\n").replace("\r", "\n")


@given(texts, st.data())
def test_spans_keep_their_text_across_newline_normalisation(text, data):
    normalized = normalize_newlines(text)
    # Span boundaries anywhere but between the \r and \n of a pair (no source format puts one there).
    boundaries = [
        i for i in range(len(text) + 1) if not (0 < i < len(text) and text[i - 1 : i + 1] == "\r\n")
    ]
    start = data.draw(st.sampled_from(boundaries))
    end = data.draw(st.sampled_from([b for b in boundaries if b >= start]))
    mapped = normalized.text[normalized.to_normalized(start) : normalized.to_normalized(end)]
    assert mapped == text[start:end].replace("\r\n", "\n").replace("\r", "\n")
    assert normalized.to_source(normalized.to_normalized(start)) == start


@given(texts)
def test_every_normalised_offset_maps_back_to_a_source_offset_that_maps_to_it(text):
    normalized = normalize_newlines(text)
    for offset in range(len(normalized.text) + 1):
        assert normalized.to_normalized(normalized.to_source(offset)) == offset


def test_crlf_source_offsets_are_remapped_exactly():
    source = "Naryshkin\r\nmet\r\nLukashenko\rin Minsk"
    normalized = normalize_newlines(source)
    assert normalized.text == "Naryshkin\nmet\nLukashenko\nin Minsk"
    assert normalized.removed == (9, 14)
    start, end = source.index("Lukashenko"), source.index("Lukashenko") + 10
    assert (start, end) == (16, 26)
    assert (normalized.to_normalized(start), normalized.to_normalized(end)) == (14, 24)
    assert normalized.text[14:24] == "Lukashenko"
    assert normalized.to_normalized(10) == 9  # between \r and \n: the \n that remains
    assert normalized.to_source(9) == 9  # and the \n maps back to where its pair began


# Texts and spans the contract refuses


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ab\x00c", "The text contains a NUL character at offset 2 (line 1)."),
        ("line one\nbad \ud800 here", "The text contains a lone surrogate (U+D800) at offset 13 (line 2)."),
        ("\udfff", "The text contains a lone surrogate (U+DFFF) at offset 0 (line 1)."),
    ],
)
def test_nul_and_lone_surrogates_are_refused_with_their_place(text, message):
    with pytest.raises(OffsetError, match=re.escape(message)):
        check_text(text)


def test_emoji_rtl_and_combining_text_is_accepted():
    check_text("".join(TRICKY))


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (-1, 3, "Offsets cannot be negative (got start=-1, end=3)."),
        (3, 3, "A span needs start < end (got start=3, end=3)."),
        (4, 2, "A span needs start < end (got start=4, end=2)."),
        (2, 6, "The span [2, 6) ends after the text, which has 5 characters."),
    ],
)
def test_bad_spans_are_refused_with_a_reason(start, end, message):
    with pytest.raises(OffsetError, match=re.escape(message)):
        check_offsets(text_length=5, start=start, end=end)


# Offsets sent in requests


@given(st.integers() | st.sampled_from([2**31, 2**53, 2**63, 2**64, -1, OFFSET_MAX]))
def test_an_integer_offset_is_taken_exactly_when_a_database_column_holds_it(number):
    if 0 <= number <= OFFSET_MAX:
        assert parse_offset(number, name="start", text=False) == number
        assert parse_offset(str(number), name="start", text=True) == number
    else:
        for value, text in [(number, False), (str(number), True)]:
            with pytest.raises(OffsetError, match=r"^'start' must be a whole number from 0 to 2147483647"):
                parse_offset(value, name="start", text=text)


@given(st.text(max_size=40) | st.floats() | st.booleans() | st.none() | st.lists(st.integers(), max_size=2))
def test_anything_else_is_an_offset_error_or_a_whole_number(value):
    for text in (False, True):
        try:
            number = parse_offset(value, name="end", text=text)
        except OffsetError as error:
            message = str(error)
        else:
            assert type(number) is int
            assert 0 <= number <= OFFSET_MAX
            continue
        assert message.startswith("'end' must be ")


def test_strings_are_offsets_only_in_form_data_and_only_in_ascii_digits():
    with pytest.raises(OffsetError, match=r"^'start' must be a JSON integer, not a string \(got '0'\)\.$"):
        parse_offset("0", name="start", text=False)
    assert parse_offset(12.0, name="start", text=False) == 12  # JSON Schema's integer includes 12.0
    for value in ["²", "١٢", "1_0", " 5", "+5", "5.0", "", "0x10"]:
        with pytest.raises(OffsetError, match="written with the digits 0-9"):
            parse_offset(value, name="start", text=True)
    assert [whole_number(text) for text in ["0042", "²", "-3", str(2**63 - 1), str(2**63), "9" * 101]] == [
        42,
        None,
        None,
        2**63 - 1,
        None,
        None,
    ]
