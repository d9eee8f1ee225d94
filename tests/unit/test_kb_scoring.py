"""Candidate scoring, without a database: each signal, and scores that stay in [0, 1]."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from annotator.kb import scoring


def test_name_similarity_is_one_for_equal_forms_and_the_indel_ratio_otherwise():
    assert scoring.name_similarity("naryshkin", "naryshkin") == 1.0
    assert scoring.name_similarity("naryshkn", "naryshkin") == pytest.approx(16 / 17)  # 2 * 8 / (8 + 9)
    assert scoring.name_similarity("kgb", "usa") == 0.0


@pytest.mark.parametrize(
    ("wanted", "entity_type", "fit"),
    [("PERSON", "PERSON", 1.0), ("PERSON", "ORG", 0.0), (None, "ORG", 0.5), ("ORG", "", 0.5), ("", "", 0.5)],
)
def test_type_fit(wanted, entity_type, fit):
    assert scoring.type_fit(wanted, entity_type) == fit


def test_context_words_fold_case_drop_stopwords_and_stem_long_words():
    words = scoring.context_words("The Belarusian President met the KGB chief in Minsk, 2021.")
    assert words == {"belaru", "presid", "met", "kgb", "chief", "minsk", "2021"}


def test_context_overlap_is_the_share_of_the_description_found_in_the_context():
    context = scoring.context_words("Lukashenko, the Belarusian president, spoke in Minsk.")
    assert scoring.context_overlap(context, "President of Belarus since 1994.") == pytest.approx(2 / 3)
    assert scoring.context_overlap(context, "") == 0.0
    assert scoring.context_overlap(frozenset(), "President of Belarus") == 0.0


def test_scores_with_and_without_context():
    assert scoring.score(similarity=1.0, prior=0.7, fit=1.0, overlap=None) == round(0.6 + 0.175 + 0.15, 4)
    assert scoring.score(similarity=1.0, prior=0.7, fit=1.0, overlap=0.5) == round(
        0.85 * 0.925 + 0.15 * 0.5, 4
    )


unit = st.floats(min_value=0, max_value=1)


@given(unit, unit, st.sampled_from([0.0, 0.5, 1.0]), st.one_of(st.none(), unit))
def test_scores_stay_between_zero_and_one(similarity, prior, fit, overlap):
    assert 0.0 <= scoring.score(similarity=similarity, prior=prior, fit=fit, overlap=overlap) <= 1.0
