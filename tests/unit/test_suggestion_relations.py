"""Relation candidates: surface rules within a sentence, only types the schema allows, the classifier."""

import math
import re

import pytest

from annotator.suggestions.relations import (
    FoundRelation,
    Mention,
    PairClassifier,
    RelationSchema,
    find_relations,
    pair_features,
)
from annotator.suggestions.scoring import MICRO, Score, score

ORGS_AND_PLACES = frozenset({"ORG", "GPE", "LOC"})
SCHEMA = (
    RelationSchema("head_of", True, frozenset({"PERSON"}), frozenset({"ORG", "GPE"})),
    RelationSchema("member_of", True, frozenset({"PERSON", "ORG", "GPE"}), frozenset({"ORG"})),
    RelationSchema("met_with", False, frozenset({"PERSON", "ORG"}), frozenset({"PERSON", "ORG"})),
    RelationSchema("visited", True, frozenset({"PERSON", "ORG"}), frozenset({"GPE", "LOC"})),
    RelationSchema("located_in", True, frozenset({"ORG", "LOC", "GPE", "EVENT"}), frozenset({"GPE", "LOC"})),
    RelationSchema("part_of", True, ORGS_AND_PLACES, ORGS_AND_PLACES),
    RelationSchema("alias_of", True, ORGS_AND_PLACES | {"PERSON"}, ORGS_AND_PLACES | {"PERSON"}),
    RelationSchema("cooperates_with", False, frozenset({"ORG", "GPE"}), frozenset({"ORG", "GPE"})),
)


def mentions_of(text, *items):
    """Mentions by surface (the n-th occurrence with "surface#n") and label, in the order given."""
    found = []
    for item, label in items:
        surface, _, nth = item.partition("#")
        starts = [m.start() for m in re.finditer(re.escape(surface), text)]
        start = starts[int(nth or 0)]
        found.append(Mention(start, start + len(surface), label))
    return found


def sentences_of(text):
    ends = [m.end() for m in re.finditer(r"\. ", text)] + [len(text)]
    return list(zip([0, *ends[:-1]], ends, strict=True))


def relations(text, *items, schema=SCHEMA, classifier=None):
    mentions = mentions_of(text, *items)
    found = find_relations(text, mentions, sentences_of(text), schema, classifier)
    surface = lambda m: text[m.start : m.end]  # noqa: E731
    return [(surface(mentions[r.head]), r.relation, surface(mentions[r.tail]), r.source) for r in found]


def test_title_acronym_and_possessive_rules():
    text = "Sergey Naryshkin, Director of Russia’s Foreign Intelligence Service (SVR), visited Belarus."
    found = relations(
        text,
        ("Sergey Naryshkin", "PERSON"),
        ("Russia", "GPE"),
        ("Foreign Intelligence Service", "ORG"),
        ("SVR", "ORG"),
        ("Belarus", "GPE"),
    )
    assert found == [
        ("Sergey Naryshkin", "head_of", "Foreign Intelligence Service", "rule:title-of"),
        ("Sergey Naryshkin", "visited", "Belarus", "rule:visited"),
        ("Foreign Intelligence Service", "part_of", "Russia", "rule:possessive"),
        ("SVR", "alias_of", "Foreign Intelligence Service", "rule:acronym"),
    ]


def test_an_acronym_in_brackets_is_an_alias_only_of_a_mention_of_its_own_type():
    text = "MINSK (Realist English). The Union State (US) met."
    found = relations(
        text, ("MINSK", "GPE"), ("Realist English", "ORG"), ("Union State", "ORG"), ("US", "ORG")
    )
    assert found == [("US", "alias_of", "Union State", "rule:acronym")]


def test_organisation_title_person():
    text = "SVR chief Sergei Naryshkin met Belarus KGB chief Ivan Tertel in Vitebsk."
    found = relations(
        text,
        ("SVR", "ORG"),
        ("Sergei Naryshkin", "PERSON"),
        ("Belarus", "GPE"),
        ("KGB", "ORG"),
        ("Ivan Tertel", "PERSON"),
        ("Vitebsk", "GPE"),
    )
    assert found == [
        ("Sergei Naryshkin", "head_of", "SVR", "rule:org-title-person"),
        ("Sergei Naryshkin", "met_with", "Ivan Tertel", "rule:met"),  # the person met, not their agency
        ("Ivan Tertel", "head_of", "KGB", "rule:org-title-person"),
    ]


def test_meeting_someones_counterpart_relates_no_organisation():
    text = "Naryshkin met his KGB counterpart less than two weeks later."
    assert relations(text, ("Naryshkin", "PERSON"), ("KGB", "ORG"), ("two weeks", "DATE")) == []


def test_visiting_a_person_is_meeting_them_and_talks_with_relate_the_subject():
    text = "Lukashenko visited Russian President Vladimir Putin last weekend."
    found = relations(text, ("Lukashenko", "PERSON"), ("Russian", "NORP"), ("Vladimir Putin", "PERSON"))
    assert found == [("Lukashenko", "met_with", "Vladimir Putin", "rule:visited-person")]
    text = "Naryshkin visited Minsk for talks with President Alexander Lukashenko."
    found = relations(text, ("Naryshkin", "PERSON"), ("Minsk", "GPE"), ("Alexander Lukashenko", "PERSON"))
    assert found == [
        ("Naryshkin", "visited", "Minsk", "rule:visited"),
        ("Naryshkin", "met_with", "Alexander Lukashenko", "rule:talks-with"),
    ]
    text = "The Naryshkin-Tertel talks were held."
    found = relations(text, ("Naryshkin", "PERSON"), ("Tertel", "PERSON"))
    assert found == [("Naryshkin", "met_with", "Tertel", "rule:pair-talks")]


def test_cooperation_needs_a_cue_and_ignores_a_possessor():
    text = "Russia’s SVR and Belarus’ KGB have agreed to work together."
    found = relations(text, ("Russia", "GPE"), ("SVR", "ORG"), ("Belarus", "GPE"), ("KGB", "ORG"))
    assert found == [
        ("SVR", "part_of", "Russia", "rule:possessive"),
        ("SVR", "cooperates_with", "KGB", "rule:coordination-cooperation"),
        ("KGB", "part_of", "Belarus", "rule:possessive"),
    ]
    text = "NATO and EU countries are leveraging the war."
    assert relations(text, ("NATO", "ORG"), ("EU", "ORG")) == []
    text = "the Russia-Belarus alliance"
    found = relations(text, ("Russia", "GPE"), ("Belarus", "GPE"))
    assert found == [("Russia", "cooperates_with", "Belarus", "rule:coordination-cooperation")]


def test_membership_and_location_rules():
    text = "NATO member Poland said Frontex, based in Warsaw, is a member of the EU family."
    found = relations(text, ("NATO", "ORG"), ("Poland", "GPE"), ("Frontex", "ORG"), ("Warsaw", "GPE"))
    assert found == [
        ("Poland", "member_of", "NATO", "rule:member-title"),
        ("Frontex", "located_in", "Warsaw", "rule:located-in"),
    ]


def test_only_types_the_schema_allows_and_only_within_a_sentence():
    text = "SVR chief Sergei Naryshkin spoke. Ryanair chief Michael O’Leary did not."
    mentions = mentions_of(
        text,
        ("SVR", "ORG"),
        ("Sergei Naryshkin", "PERSON"),
        ("Ryanair", "ORG"),
        ("Michael O’Leary", "PERSON"),
    )
    only_met = (RelationSchema("met_with", False, frozenset(), frozenset()),)
    assert find_relations(text, mentions, [(0, 33), (34, len(text))], only_met) == []
    found = find_relations(text, mentions, [(0, 33), (34, len(text))], SCHEMA)
    assert found == [
        FoundRelation(1, 0, "head_of", 0.8, "rule:org-title-person"),
        FoundRelation(3, 2, "head_of", 0.8, "rule:org-title-person"),
    ]
    # Without sentence boundaries between them, a rule could relate across; with them it cannot.
    text = "He met Naryshkin. Tertel waited."
    mentions = mentions_of(text, ("Naryshkin", "PERSON"), ("Tertel", "PERSON"))
    assert find_relations(text, mentions, [(0, 17), (18, len(text))], SCHEMA) == []


def test_symmetric_relations_are_stored_in_text_order():
    text = "Tertel and Naryshkin held talks with Lukashenko."
    found = relations(text, ("Tertel", "PERSON"), ("Naryshkin", "PERSON"), ("Lukashenko", "PERSON"))
    assert found == [
        ("Tertel", "met_with", "Lukashenko", "rule:talks-with"),
        ("Naryshkin", "met_with", "Lukashenko", "rule:met"),
    ]
    text = "Lukashenko met Tertel."
    found = relations(text, ("Lukashenko", "PERSON"), ("Tertel", "PERSON"))
    assert found == [("Lukashenko", "met_with", "Tertel", "rule:met")]


def test_the_pair_classifier_scores_pairs_with_its_weights_and_respects_the_schema():
    weights = {
        "classes": ["NONE", "met_with>", "head_of<"],
        "bias": [1.0, 0.0, 0.0],
        "features": {"gap:greeted": [0.0, 4.0, 0.0], "gap:boss": [0.0, 0.0, 4.0]},
        "threshold": 0.5,
    }
    classifier = PairClassifier(weights, source="trained:ner-1:relations")
    text = "Tertel greeted Naryshkin. Gazprom boss Alexei Miller spoke. Minsk greeted Moscow."
    found = relations(
        text,
        ("Tertel", "PERSON"),
        ("Naryshkin", "PERSON"),
        ("Gazprom", "ORG"),
        ("Alexei Miller", "PERSON"),
        ("Minsk", "GPE"),
        ("Moscow", "GPE"),
        classifier=classifier,
    )
    assert found == [
        ("Tertel", "met_with", "Naryshkin", "trained:ner-1:relations"),
        ("Alexei Miller", "head_of", "Gazprom", "trained:ner-1:relations"),
    ]  # GPE met_with GPE is not in the schema
    probabilities = classifier.probabilities(
        pair_features(text, Mention(0, 6, "PERSON"), Mention(15, 24, "PERSON"), 0)
    )
    assert probabilities[1] == pytest.approx(math.exp(4) / (math.exp(1) + math.exp(4) + 1))


def test_scores_per_label_and_over_all():
    predicted = [(1, "PERSON"), (2, "PERSON"), (3, "ORG"), (4, "GPE")]
    gold = [(1, "PERSON"), (3, "GPE"), (4, "GPE"), (5, "ORG")]
    scores = score(predicted, gold)
    assert scores == {
        "GPE": Score(tp=1, fp=0, fn=1),
        "ORG": Score(tp=0, fp=1, fn=1),
        "PERSON": Score(tp=1, fp=1, fn=0),
        MICRO: Score(tp=2, fp=2, fn=2),
    }
    assert scores["PERSON"].as_dict() == {
        "tp": 1,
        "fp": 1,
        "fn": 0,
        "precision": 0.5,
        "recall": 1.0,
        "f1": 0.6667,
    }
    assert Score(0, 0, 0).as_dict()["f1"] == 0.0
