"""Agreement measures against values computed by hand and textbook examples."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from annotator.agreement.measures import (
    NOT_LINKED,
    OUTSIDE,
    LinkTally,
    Overlap,
    alpha_nominal_from_value_counts,
    binary_value_counts,
    cohen_kappa,
    count_tokens,
    krippendorff_alpha_nominal,
    link_tally,
    match_exact,
    match_overlapping,
    overlap_by_label,
    relation_overlap,
    token_labels,
    tokenize,
    tokenize_around,
)

PER, ORG = 1, 2


# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers, 12 units,
# nominal alpha = 0.743 (None marks a missing value).
RELIABILITY_DATA = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
]


def by_unit(rows):
    return list(zip(*rows, strict=True))


def test_krippendorffs_four_observer_example_gives_0_743():
    assert krippendorff_alpha_nominal(by_unit(RELIABILITY_DATA)) == pytest.approx(0.743, abs=5e-4)


def test_krippendorffs_binary_two_observer_example_gives_0_095():
    # Same paper, section A: two observers, ten units, binary data.
    observer_a = [0, 1, 0, 0, 0, 0, 0, 0, 1, 0]
    observer_b = [1, 1, 1, 0, 0, 1, 0, 0, 0, 0]
    assert krippendorff_alpha_nominal(by_unit([observer_a, observer_b])) == pytest.approx(0.095, abs=5e-4)


def test_alpha_is_one_on_perfect_agreement_and_undefined_on_one_value_or_no_pairable_unit():
    assert krippendorff_alpha_nominal([(1, 1, 1), (2, 2, None), (3, 3, 3)]) == 1.0
    assert krippendorff_alpha_nominal([(1, 1), (1, 1), (1, None)]) is None  # a single category
    assert krippendorff_alpha_nominal([(1, None), (None, 2)]) is None  # nothing pairable
    assert krippendorff_alpha_nominal([]) is None


def test_alpha_of_coders_agreeing_by_chance_is_about_zero():
    # Two coders who pick 1 or 2 independently and evenly: n = 200, o_cc = 100, n_1 = n_2 = 100, so
    # alpha = 1 - 199 * 100 / 20000 = 0.005 (the small-sample correction keeps it just above 0).
    units = [(1, 1)] * 25 + [(1, 2)] * 25 + [(2, 1)] * 25 + [(2, 2)] * 25
    assert krippendorff_alpha_nominal(units) == pytest.approx(0.005)
    assert cohen_kappa({pair: 25 for pair in [(1, 1), (1, 2), (2, 1), (2, 2)]}) == 0.0


def test_alpha_of_systematic_disagreement_is_negative_by_the_formula():
    # Two units, two coders, always disagreeing: n = 4, o_cc = 0, n_c = 2 and 2:
    # alpha = 1 - 3 * 4 / (16 - 8) = -0.5.
    assert krippendorff_alpha_nominal([(1, 2), (2, 1)]) == pytest.approx(-0.5)


def test_alpha_from_value_counts_matches_the_unit_rows_and_gives_per_label_binary_alpha():
    counts = {(1, 1): 3, (1, 2): 1, (2, 2): 2, (0, 0): 4}
    rows = [(1, 1)] * 3 + [(1, 2)] + [(2, 2)] * 2 + [(0, 0)] * 4
    assert alpha_nominal_from_value_counts(counts) == pytest.approx(krippendorff_alpha_nominal(rows))
    binary = binary_value_counts(counts, 1)
    assert binary == {(True, True): 3, (False, True): 1, (False, False): 6}
    # n = 20, o_cc = 6 + 12 = 18, n_True = 7, n_False = 13: 1 - 19 * 2 / (400 - 49 - 169).
    assert alpha_nominal_from_value_counts(binary) == pytest.approx(1 - 19 * 2 / 182)


def test_cohens_kappa_of_the_textbook_two_by_two_table():
    # Yes/yes 20, yes/no 5, no/yes 10, no/no 15: p_o = 0.7, p_e = 0.5, kappa = 0.4.
    table = {("yes", "yes"): 20, ("yes", "no"): 5, ("no", "yes"): 10, ("no", "no"): 15}
    assert cohen_kappa(table) == pytest.approx(0.4)


def test_cohens_kappa_perfect_chance_and_undefined():
    assert cohen_kappa({(1, 1): 10, (2, 2): 5}) == 1.0
    assert cohen_kappa({(1, 1): 25, (1, 2): 25, (2, 1): 25, (2, 2): 25}) == 0.0  # chance agreement
    assert cohen_kappa({(1, 2): 5, (2, 1): 5}) == -1.0
    assert cohen_kappa({(OUTSIDE, OUTSIDE): 40}) is None  # one category: undefined, not 1.0
    assert cohen_kappa({}) is None


def test_exact_matching_needs_same_offsets_and_label():
    left = [(0, 5, PER), (10, 15, ORG), (20, 25, PER)]
    right = [(10, 15, PER), (0, 5, PER), (20, 26, PER)]
    assert match_exact(left, right) == [(0, 1)]
    figures = overlap_by_label(left, right, match_exact(left, right))
    assert figures == {PER: Overlap(1, 2, 3), ORG: Overlap(0, 1, 0)}
    assert sum(figures.values(), Overlap()).f1 == pytest.approx(2 / 6)


def test_overlap_matching_is_one_to_one_longest_overlap_first_and_within_a_label():
    left = [(0, 6, PER), (10, 20, ORG)]
    right = [(3, 8, PER), (0, 5, PER), (12, 14, PER)]
    pairs = match_overlapping(left, right)
    assert pairs == [(0, 1)]  # 5 characters shared beat 3; the ORG/PER pair does not match
    figures = overlap_by_label(left, right, pairs)
    assert figures == {PER: Overlap(1, 1, 3), ORG: Overlap(0, 1, 0)}
    assert figures[PER].f1 == pytest.approx(0.5)


def test_overlap_matching_prefers_the_identical_span_and_touching_spans_do_not_overlap():
    left = [(0, 5, PER), (5, 9, PER)]
    right = [(0, 9, PER), (0, 5, PER)]
    assert sorted(match_overlapping(left, right)) == [(0, 1), (1, 0)]
    assert match_overlapping([(0, 5, PER)], [(5, 9, PER)]) == []


def test_f1_edge_cases():
    assert Overlap(0, 0, 0).f1 is None  # nothing on either side: n/a, not perfect
    assert Overlap(0, 3, 0).f1 == 0.0  # one side empty
    assert Overlap(4, 4, 4).f1 == 1.0
    assert Overlap(1, 2, 3).disagreements == 3


def test_tokens_are_word_runs_and_single_punctuation_in_code_points():
    text = "Naryshkin’s SVR 🇧🇾 met «KGB» chiefs."
    tokens = tokenize(text)
    assert [text[s:e] for s, e in zip(tokens.starts, tokens.ends, strict=True)] == [
        "Naryshkin", "’", "s", "SVR", "🇧", "🇾", "met", "«", "KGB", "»", "chiefs", ".",
    ]  # fmt: skip
    assert list(tokens.covered_by(3, 13)) == [0, 1, 2, 3]  # partly covered tokens count
    assert list(tokens.covered_by(15, 16)) == []  # only a space


def test_token_labels_take_the_shortest_covering_span():
    tokens = tokenize("Belarusian State Security Committee chief")
    labels = token_labels(tokens, [(0, 35, ORG), (0, 10, PER)])
    assert labels == {0: PER, 1: ORG, 2: ORG, 3: ORG}
    assert token_labels(tokens, []) == {}


def test_relation_agreement_is_conditioned_on_matched_heads_and_tails():
    visited, met = 7, 8
    # Left spans 1, 2, 3 matched right spans 11, 12, 13; left span 4 has no match.
    span_pairs = {1: 11, 2: 12, 3: 13}
    left = [(1, 2, visited), (1, 3, met), (4, 2, visited), (2, 3, visited)]
    right = [(11, 12, visited), (13, 11, met), (12, 13, met), (14, 12, visited)]
    figures = relation_overlap(left, right, span_pairs, symmetric={met})
    # visited: left (1,2) and (2,3) are eligible, right (11,12) only; (4,2) and (14,12) are left out.
    # met is symmetric: left (1,3) matches right (13,11); right (12,13) has no counterpart.
    assert figures == {visited: Overlap(1, 2, 1), met: Overlap(1, 1, 2)}
    assert relation_overlap([], [], {}, set()) == {}


def test_link_agreement_counts_nil_as_a_value_and_one_sided_links_apart():
    tally = link_tally([(5, 5), (5, 6), (None, None), (None, 5), (NOT_LINKED, 5), (NOT_LINKED, NOT_LINKED)])
    assert tally == LinkTally(agreed=2, compared=4, one_sided=1)
    assert tally.agreement == 0.5
    assert link_tally([]).agreement is None


@st.composite
def text_and_spans(draw):
    text = draw(st.text(alphabet=st.sampled_from("ab_9 é\u05d0🇧,.\n\u0301-"), min_size=1, max_size=40))
    spans = []
    for _ in range(draw(st.integers(0, 4))):
        start = draw(st.integers(0, len(text) - 1))
        end = draw(st.integers(start + 1, len(text)))
        spans.append((start, end, draw(st.sampled_from([PER, ORG]))))
    return text, spans


@given(text_and_spans())
def test_tokens_around_spans_label_exactly_as_the_whole_texts_tokens(case):
    text, spans = case
    whole = tokenize(text)
    around = tokenize_around(text, spans)

    def by_offsets(tokens, labels):
        return {(tokens.starts[i], tokens.ends[i]): label for i, label in labels.items()}

    assert by_offsets(around, token_labels(around, spans)) == by_offsets(whole, token_labels(whole, spans))
    assert count_tokens(text) == len(whole)
    assert [text[s:e] for s, e in zip(whole.starts, whole.ends, strict=True)] == re.findall(
        r"\w+|[^\w\s]", text
    )
