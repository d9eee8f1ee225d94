"""The name rules (`nlp/names.py`) alone and inside the default suggester: exact spans for every rule,
with the shipped lists and the merge under a CoNLL schema; hostile text (right-to-left scripts, emoji,
all capitals) finds nothing it should not and keeps code-point offsets."""

import pytest

from annotator.suggestions import gazetteer, labels, nlp
from annotator.suggestions.nlp import Candidate, Merge, Pattern
from annotator.suggestions.nlp.names import find_names

CONLL = frozenset({"PER", "ORG", "LOC", "MISC"})
SPOKEN = ["DATE", "EVENT", "GPE", "LOC", "NORP", "ORG", "PERSON"]  # what the lists and rules speak
CONLL_MERGE = Merge(label_map=labels.effective_map(SPOKEN, CONLL, {}), types=CONLL)


def names(text, listed=(), **options):
    return [(text[c.start : c.end], c.label, c.source) for c in find_names(text, listed, **options)]


@pytest.fixture(scope="module")
def default():
    """The default suggester: blank English, the shipped lists, the token rules and the name rules."""
    suggester = nlp.build_suggester()
    suggester.ensure_patterns("lists", gazetteer.shipped_patterns)
    return suggester


def suggest(suggester, text, merge=CONLL_MERGE):
    (analysis,) = suggester.analyse([text], merge=merge)
    return [(text[e.start : e.end], e.label, e.source) for e in analysis.entities]


def test_a_person_after_a_title_written_capitalised_or_lowercase():
    assert names("Russian President Boris Yeltsin met striker Ronaldo and Mr. Smith's aide.") == [
        ("Boris Yeltsin", "PERSON", "rule:person"),
        ("Ronaldo", "PERSON", "rule:person"),
        ("Smith", "PERSON", "rule:person"),
    ]
    # A title followed by no name, or by an organisation's words, names no one.
    assert names("The Prime Minister of Spain said the President Council met.") == [
        ("President Council", "ORG", "rule:org")
    ]


def test_a_given_name_or_an_initial_then_capitalised_words_and_the_surname_again_alone():
    text = "Bill Clinton and J. Quackenbush met. Later Clinton left; Quackenbush stayed."
    assert names(text) == [
        ("Bill Clinton", "PERSON", "rule:person"),
        ("J. Quackenbush", "PERSON", "rule:person"),
        ("Clinton", "PERSON", "rule:person"),
        ("Quackenbush", "PERSON", "rule:person"),
    ]
    # Non-ASCII capitals and particles inside a name.
    assert names("Ángel Di María and Ludwig van Beethoven.", guesses=False) == [
        ("Ángel Di María", "PERSON", "rule:person"),
        ("Ludwig van Beethoven", "PERSON", "rule:person"),
    ]


def test_an_age_names_a_person_written_after_or_before():
    assert names("Quackenbush, 34, said the 30-year-old Zhivkova had left.") == [
        ("Quackenbush", "PERSON", "rule:person"),
        ("Zhivkova", "PERSON", "rule:person"),
    ]


def test_organisations_and_events_by_their_last_or_first_word():
    text = "Acme Widgets Inc. and the Bank of England backed the Socialist Party at the U.S. Open."
    assert names(text) == [
        ("Acme Widgets Inc.", "ORG", "rule:org"),
        ("Bank of England", "ORG", "rule:org"),
        ("Socialist Party", "ORG", "rule:org"),
        ("U.S. Open", "EVENT", "rule:event"),
    ]


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ("LISBON 1996-08-22\nPortugal's president said", "LISBON"),
        ("LISBON (Reuters) - Portugal's president said", "LISBON"),
        ("Lisbon, Aug 22 - Portugal's president said", "Lisbon"),
        ("Some text.\nNEW YORK, Aug 22 - Shares rose", "NEW YORK"),
    ],
)
def test_a_dateline_at_the_start_of_a_line_is_a_place(text, place):
    assert names(text)[0] == (place, "GPE", "rule:place")


def test_headlines_in_capitals_are_not_datelines_and_name_no_one():
    assert names("SOCCER - JAPAN GET UPSET WIN\nBILL CLINTON VISITED PARIS") == []


def test_a_city_before_a_score_or_heading_a_table_row_is_the_club_a_country_stays_the_country(default):
    text = "Marseille 2 Lyon 1\nGermany 2 France 1\nBarcelona 4 3 1 0 9 4 10\nBALTIMORE 63 59 .516 2"
    assert suggest(default, text) == [
        ("Marseille", "ORG", "rule:team"),
        ("Lyon", "ORG", "rule:team"),
        ("Germany", "LOC", "list:countries"),
        ("France", "LOC", "list:countries"),
        ("Barcelona", "ORG", "rule:team"),
        ("BALTIMORE", "ORG", "rule:team"),
    ]
    # Without a score, the city is the city.
    assert suggest(default, "She moved to Marseille in 1990.") == [("Marseille", "LOC", "list:cities")]


def test_list_words_inside_longer_names_do_not_claim_them(default):
    text = "Bayern Munich beat the Socialist Party of Montenegro in East Berlin."
    assert suggest(default, text) == [
        ("Bayern Munich", "ORG", "rule:club-shape"),  # a place inside a name: a club (a guess)
        ("Socialist Party of Montenegro", "ORG", "rule:org"),
        ("East Berlin", "LOC", "rule:place"),  # "East" keeps it a place, and "in" says it is one
    ]


def test_a_list_match_of_a_type_the_project_lacks_never_hides_a_name_rules_entity(default):
    text = "Bayern Munich signed Mario Gomez."
    no_places = frozenset({"PER", "ORG"})
    assert suggest(default, text, Merge(label_map=CONLL_MERGE.label_map, types=no_places)) == [
        ("Bayern Munich", "ORG", "rule:club-shape"),
        ("Mario Gomez", "PER", "rule:person"),
    ]
    # And the other way round: without ORG, the club claims nothing and the list's city appears.
    no_orgs = frozenset({"PER", "LOC"})
    assert suggest(default, text, Merge(label_map=CONLL_MERGE.label_map, types=no_orgs)) == [
        ("Munich", "LOC", "list:cities"),
        ("Mario Gomez", "PER", "rule:person"),
    ]


def test_the_shape_of_a_name_is_a_guess_made_only_without_a_model():
    text = "On Sunday Vinko Marinovic scored twice for Hajduk Split."
    assert names(text) == [
        ("Vinko Marinovic", "PERSON", "rule:name-shape"),
        ("Hajduk Split", "PERSON", "rule:name-shape"),
    ]
    assert names(text, guesses=False) == []
    # Capitalised words around a listed city are a club, not a person.
    split = text.index("Split")
    listed = [Candidate(split, split + 5, "GPE", "list:cities")]
    assert names(text, listed) == [
        ("Hajduk Split", "ORG", "rule:club-shape"),
        ("Vinko Marinovic", "PERSON", "rule:name-shape"),
    ]


def test_a_model_in_add_mode_keeps_the_clear_rules_and_drops_the_guesses(tmp_path):
    import spacy

    pipeline = spacy.blank("en")
    pipeline.add_pipe("entity_ruler").add_patterns([{"label": "PERSON", "pattern": "Washington Irving"}])
    pipeline.to_disk(tmp_path / "model")
    suggester = nlp.build_suggester(model=str(tmp_path / "model"), model_source="pipeline:fake")
    suggester.ensure_patterns("lists", lambda: [Pattern("GPE", "Washington", "list:cities")])
    assert suggest(suggester, "Washington Irving met Vinko Marinovic and President Quackenbush.") == [
        ("Washington Irving", "PER", "pipeline:fake"),
        ("Quackenbush", "PER", "rule:person"),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("قال الرئيس إن الاجتماع انتهى", []),  # Arabic: no case, no names by shape
        ("אמר ראש הממשלה", []),
        ("قال Bill Clinton اليوم", [("Bill Clinton", "PERSON", "rule:person")]),
        (
            "🎉🇵🇹 Bill Clinton 👍 met Mr Quackenbush 🙂",
            [
                ("Bill Clinton", "PERSON", "rule:person"),
                ("Quackenbush", "PERSON", "rule:person"),
            ],
        ),
        ("BILL CLINTON MET MR QUACKENBUSH IN LISBON", []),
        ("", []),
        ("Mr", []),
        ("'s Inc. of the", []),
    ],
)
def test_hostile_text(text, expected):
    assert names(text) == expected


def test_offsets_are_code_points_in_the_text_as_given_with_emoji_and_line_breaks(default):
    text = "🎉 LISBON 1996-08-22\n👍 Bill Clinton met Mr Quackenbush in Lisbon."
    found = default.analyse([text], merge=CONLL_MERGE)
    (analysis,) = found
    assert [(e.start, e.end, text[e.start : e.end], e.label) for e in analysis.entities] == [
        (2, 8, "LISBON", "LOC"),
        (22, 34, "Bill Clinton", "PER"),
        (42, 53, "Quackenbush", "PER"),
        (57, 63, "Lisbon", "LOC"),
    ]


def test_the_lists_and_rules_labels_map_to_conll_types_by_name():
    assert CONLL_MERGE.label_map == {
        "DATE": "",
        "EVENT": "MISC",
        "GPE": "LOC",
        "LOC": "LOC",
        "NORP": "MISC",
        "ORG": "ORG",
        "PERSON": "PER",
    }


def test_a_country_in_brackets_after_a_name_is_a_nationality_not_an_acronym(default):
    text = (
        "Lance Armstrong (U.S.) won; the Committee for Road Safety (CRS) and the European Union (EU) agreed."
    )
    assert suggest(default, text) == [
        ("Lance Armstrong", "PER", "rule:name-shape"),
        ("U.S.", "LOC", "list:countries"),
        ("Committee for Road Safety", "ORG", "rule:name-acronym"),
        ("CRS", "ORG", "rule:name-acronym"),
        ("European Union", "ORG", "list:igos"),
        ("EU", "ORG", "list:igos"),
    ]
