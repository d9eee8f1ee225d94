"""Clubs that read like people in results (a league table's row, a European cup result broken across
lines) and dates written "Oct 19": exact spans through the default suggester under a CoNLL schema, or a
schema with DATE."""

import pytest

from annotator.suggestions import gazetteer, labels, nlp
from tests.unit.test_name_rules import suggest


@pytest.fixture(scope="module")
def default():
    suggester = nlp.build_suggester()
    suggester.ensure_patterns("lists", gazetteer.shipped_patterns)
    return suggester


def test_a_league_tables_row_is_a_club_even_when_it_starts_with_a_given_name(default):
    text = (
        "Sigma Olomouc 3 1 1 1 6 3 4\n"
        "Petra Drnovice 3 1 1 1 7 5 4\n"
        "Willem II Tilburg 2 0 1 1 0 1 1\n"
        "Mike Atherton 3 5 0 1 2 3 4\n"  # not a table's arithmetic (3 played, 5 won?): a person
        "Nick Knight 3 5 0 190 113 38.00"  # a batsman's averages: a person
    )
    assert suggest(default, text) == [
        ("Sigma Olomouc", "ORG", "rule:team"),
        ("Petra Drnovice", "ORG", "rule:team"),
        ("Willem II Tilburg", "ORG", "rule:team"),
        ("Mike Atherton", "PER", "rule:person"),
        ("Nick Knight", "PER", "rule:person"),
    ]


def test_a_cup_result_with_countries_names_two_clubs_times_and_points_do_not(default):
    text = (
        "In Tirana : Flamurtari Vlore ( Albania ) 0 Chemlon Humenne\n"
        "( Slovakia ) 2 ( halftime 0-0 )\n"
        "In Anjalonkoski : MyPa-47 ( Finland ) 1 Karabach Agdam\n"
        "9. Keiji Kojima ( Japan ) 1:05.300\n"  # a time: a cyclist
        "12. Mika Salo ( Finland ) 5\n"  # points, no opponent: a driver
    )
    assert suggest(default, text) == [
        ("Tirana", "LOC", "list:cities"),
        ("Flamurtari Vlore", "ORG", "rule:team"),
        ("Albania", "LOC", "list:countries"),
        ("Chemlon Humenne", "ORG", "rule:team"),
        ("Slovakia", "LOC", "list:countries"),
        ("Anjalonkoski", "LOC", "rule:place"),
        ("MyPa-47", "ORG", "rule:team"),
        ("Finland", "LOC", "list:countries"),
        ("Karabach Agdam", "ORG", "rule:team"),
        ("Keiji Kojima", "PER", "rule:name-shape"),
        ("Japan", "LOC", "list:countries"),
        ("Mika Salo", "PER", "rule:name-shape"),
        ("Finland", "LOC", "list:countries"),
    ]


def test_a_month_without_its_full_stop_is_a_date_before_a_day_only(default):
    types = frozenset({"PERSON", "GPE", "DATE"})
    merge = nlp.Merge(label_map=labels.effective_map(["PERSON", "GPE", "DATE"], types, {}), types=types)
    text = "Jan Kowalski voted on Oct 19 and on Sept 3, 1996; the Oct. 2 vote and Mar 5 count, Jan does not."
    (analysis,) = default.analyse([text], merge=merge)
    assert [(text[e.start : e.end], e.label, e.source) for e in analysis.entities] == [
        ("Jan Kowalski", "PERSON", "rule:person"),
        ("Oct 19", "DATE", "rule:date"),
        ("Sept 3, 1996", "DATE", "rule:date"),
        ("Oct. 2", "DATE", "rule:date"),
        ("Mar 5", "DATE", "rule:date"),
    ]


def test_a_results_line_whose_last_scorers_close_on_the_next_line_still_names_both_clubs(default):
    text = "Stuttgart 2 ( Balakow 50th , Bobic 61st ) Werder Bremen 1 ( Votava\n68th ) ."
    assert suggest(default, text) == [
        ("Stuttgart", "ORG", "rule:team"),
        ("Balakow", "PER", "rule:person"),
        ("Bobic", "PER", "rule:person"),
        ("Werder Bremen", "ORG", "rule:team"),  # was a person, by its shape
    ]
