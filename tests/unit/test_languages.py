"""The project languages are exactly those whose blank spaCy pipeline tokenizes with what we install."""

import spacy

from annotator.projects.languages import LANGUAGES


def test_every_listed_language_has_a_working_blank_pipeline():
    for code, _name in LANGUAGES:
        nlp = spacy.blank(code)
        assert len(nlp("Text, with words.")) >= 3, code


def test_codes_are_unique_and_english_is_there():
    codes = [code for code, _ in LANGUAGES]
    assert len(codes) == len(set(codes))
    assert "en" in codes
