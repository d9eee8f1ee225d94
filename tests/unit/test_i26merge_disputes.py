"""One span, two types: a source blind to context (the lists, the project's gold mentions, the KB, date
words) against a rule that read this occurrence's context (a score after a city: a club; a title or an age
before a word: a person). The rule wins, whatever the word source's overall precision measured; other
disputes still go by score, then by the family's rank."""

from annotator.suggestions.nlp import Candidate, FoundEntity, Measured, Merge, merge_candidates

TEXT = "Leeds 2 Arsenal 1"
CONLL = Merge(
    label_map={"GPE": "LOC", "NORP": "MISC", "PERSON": "PER"}, types=frozenset({"PER", "ORG", "LOC", "MISC"})
)
LEEDS_CITY = Candidate(0, 5, "GPE", "list:cities")
LEEDS_CLUB = Candidate(0, 5, "ORG", "rule:team")


def merged(candidates, merge=CONLL):
    return merge_candidates(candidates, merge, TEXT)


def test_the_team_rule_beats_the_city_list_at_the_priors():
    assert merged([LEEDS_CITY, LEEDS_CLUB]) == [FoundEntity(0, 5, "ORG", 0.85, "rule:team")]


def test_the_team_rule_beats_a_city_list_measured_far_more_precise_overall():
    # What 25 gold documents with few sports results measured: the city list right 90 times in 100, the
    # team rule wrong both times it spoke (score 0.607). Before, the list's place won the club's name.
    measured = Merge(
        label_map=CONLL.label_map,
        types=CONLL.types,
        evidence={("list:cities", "LOC"): Measured(90, 100), ("rule:team", "ORG"): Measured(0, 2)},
    )
    assert merged([LEEDS_CITY, LEEDS_CLUB], measured) == [FoundEntity(0, 5, "ORG", 0.6071, "rule:team")]
    # The same with the model's situated evidence (the general path of the merge).
    situated = Merge(
        label_map=CONLL.label_map,
        types=CONLL.types,
        evidence=measured.evidence,
        situated={("list:cities", "LOC", "contested"): Measured(30, 30)},
    )
    assert [(e.label, e.source) for e in merged([LEEDS_CITY, LEEDS_CLUB], situated)] == [("ORG", "rule:team")]


def test_a_gold_mention_of_the_city_loses_to_the_team_rule_and_agreeing_it_keeps_its_rank():
    gold_city = Candidate(0, 5, "LOC", "gold-ruler")
    assert merged([gold_city, LEEDS_CLUB]) == [FoundEntity(0, 5, "ORG", 0.85, "rule:team")]
    measured = Merge(
        label_map=CONLL.label_map, types=CONLL.types, evidence={("gold-ruler", "LOC"): Measured(101, 107)}
    )
    assert [(e.label, e.source) for e in merged([gold_city, LEEDS_CLUB], measured)] == [("ORG", "rule:team")]
    # Gold that says club too: the same type, so the scores and ranks decide which source carries it.
    gold_club = Candidate(0, 5, "ORG", "gold-ruler")
    assert merged([LEEDS_CLUB, gold_club]) == [FoundEntity(0, 5, "ORG", 0.85, "gold-ruler")]


def test_a_kb_place_loses_to_the_person_rule_on_one_word():
    text = "the 52-year-old Montenegro said"
    place = Candidate(16, 26, "GPE", "kb-ruler", "Q236")
    person = Candidate(16, 26, "PERSON", "rule:person")
    assert merge_candidates([place, person], CONLL, text) == [FoundEntity(16, 26, "PER", 0.85, "rule:person")]


def test_rules_that_read_no_context_still_lose_to_the_lists_by_score():
    region = Candidate(0, 5, "GPE", "list:regions")
    org = Candidate(0, 5, "ORG", "rule:org")
    assert merged([region, org]) == [FoundEntity(0, 5, "LOC", 0.8, "list:regions")]
    # And two word sources, or two rules, by score as before.
    demonym = Candidate(0, 5, "NORP", "list:demonyms")
    gold = Candidate(0, 5, "LOC", "gold-ruler")
    assert merged([demonym, gold]) == [FoundEntity(0, 5, "LOC", 0.85, "gold-ruler")]
