"""A pretrained pipeline in add mode is laid over what the gazetteer and rules settle, weighed per type and
relation by what the project's gold measured; unmeasured, it only fills the gaps with what reads as a name."""

import pytest

from annotator.suggestions.nlp import Candidate, FoundEntity, Measured, Merge, merge_candidates
from annotator.suggestions.nlp.merge import GAP, NARROWER, RELABEL, UNNAMED, WIDER, Layered, reads_as_name
from annotator.suggestions.nlp.weighing import LayerTally, keep_above, layered_evidence

CONLL = frozenset({"PER", "ORG", "LOC", "MISC"})
LABELS = {"GPE": "LOC", "PERSON": "PER"}
# "Bayern Munich beat Hertha. Jan Kowalski scored." and a city list, a pipeline "x".
TEXT = "Bayern Munich beat Hertha. Jan Kowalski scored."
CANDIDATES = [
    Candidate(0, 13, "ORG", "pipeline:x"),  # "Bayern Munich": wider than the list's city
    Candidate(7, 13, "GPE", "list:cities"),  # "Munich"
    Candidate(19, 25, "PERSON", "pipeline:x"),  # "Hertha": the same span as a list's place, another type
    Candidate(19, 25, "GPE", "list:cities"),
    Candidate(27, 39, "PERSON", "pipeline:x"),  # "Jan Kowalski": nothing else there
]


def spans(found):
    return [(e.start, e.end, e.label, e.source) for e in found]


def test_unmeasured_the_pipeline_fills_the_gaps_and_a_longer_name_beats_a_list_word_inside_it():
    expected = [
        FoundEntity(0, 13, "ORG", 0.5, "pipeline:x"),
        FoundEntity(19, 25, "LOC", 0.8, "list:cities"),  # same span: it does not retype the list's place
        FoundEntity(27, 39, "PER", 0.5, "pipeline:x"),
    ]
    assert merge_candidates(CANDIDATES, Merge(label_map=LABELS, types=CONLL)) == expected
    # With the text, where they read as names there (they do).
    assert merge_candidates(CANDIDATES, Merge(label_map=LABELS, types=CONLL), TEXT) == expected


def test_measured_on_gold_the_pipeline_loses_where_it_was_wrong_and_wins_where_it_was_right():
    measured = Merge(
        label_map=LABELS,
        types=CONLL,
        layered={
            # Its wider ORG was right 2 times in 20, the list's city inside it 18 times: the city stays.
            ("pipeline:x", "ORG", WIDER): Layered(Measured(2, 20), Measured(18, 20)),
            # Its PER on a listed place was right 30 times in 32, the list 2 times: the PER wins.
            ("pipeline:x", "PER", RELABEL): Layered(Measured(30, 32), Measured(2, 32)),
            # Its PER where nothing else speaks was right 3 times in 30: under the threshold, left out.
            ("pipeline:x", "PER", GAP): Layered(Measured(3, 30), Measured(0, 0)),
        },
        layered_keep=0.4,
    )
    assert spans(merge_candidates(CANDIDATES, measured)) == [
        (7, 13, "LOC", "list:cities"),
        (19, 25, "PER", "pipeline:x"),
    ]
    # In the gaps it was right 27 times in 30: (27 + 0.5 * 5) / 35 = 0.84 > 0.4, kept.
    better = Merge(
        label_map=LABELS,
        types=CONLL,
        layered={("pipeline:x", "PER", GAP): Layered(Measured(27, 30), Measured(0, 0))},
        layered_keep=0.4,
    )
    assert spans(merge_candidates(CANDIDATES[4:], better)) == [(27, 39, "PER", "pipeline:x")]
    # Too little evidence (under 10 of its entities) decides nothing: as unmeasured.
    thin = Merge(
        label_map=LABELS,
        types=CONLL,
        layered={("pipeline:x", "ORG", WIDER): Layered(Measured(0, 9), Measured(9, 9))},
    )
    assert spans(merge_candidates(CANDIDATES[:2], thin)) == [(0, 13, "ORG", "pipeline:x")]
    # Unmeasured, a longer name over a list word goes in only where it reads as a name in the text.
    text = "BAYERN MUNICH WIN AGAIN"  # a headline in capitals
    assert spans(merge_candidates(CANDIDATES[:2], thin, text)) == [(7, 13, "LOC", "list:cities")]


def test_one_wider_entity_over_two_is_weighed_against_both():
    # "Bank of England": the pipeline's ORG over the rules' "Bank" (ORG) and the list's "England" (LOC).
    candidates = [
        Candidate(0, 15, "ORG", "pipeline:x"),
        Candidate(0, 4, "ORG", "rule:org"),
        Candidate(8, 15, "GPE", "list:countries"),
    ]

    def merged(added, displaced):
        layered = {("pipeline:x", "ORG", WIDER): Layered(Measured(*added), Measured(*displaced))}
        return spans(merge_candidates(candidates, Merge(label_map=LABELS, types=CONLL, layered=layered)))

    # Priors 0.7 and 0.8 (mean 0.75); the keep threshold 0.2 (the floor) per item given up.
    # p = (16 + 2.5) / 25 = 0.74; the two it covers (12 + 3.75) / 45 = 0.35 each: 0.74 - 0.70 > -0.2.
    assert merged((16, 20), (12, 40)) == [(0, 15, "ORG", "pipeline:x")]
    # p = (6 + 2.5) / 25 = 0.34; the two (21 + 3.75) / 45 = 0.55 each: 0.34 - 1.10 < -0.2.
    assert merged((6, 20), (21, 40)) == [(0, 4, "ORG", "rule:org"), (8, 15, "LOC", "list:countries")]


def test_the_tally_counts_each_pipeline_entity_by_its_relation_and_what_it_would_displace():
    merge = Merge(label_map=LABELS, types=CONLL)
    gold = {(7, 13, "LOC"), (19, 25, "ORG"), (27, 39, "PER")}
    tally = LayerTally()
    tally.add(CANDIDATES, gold, merge)
    tally.add(
        [Candidate(0, 6, "PERSON", "pipeline:x"), Candidate(0, 11, "GPE", "list:regions")], set(), merge
    )
    assert tally.counts == {
        ("pipeline:x", "ORG", WIDER): [0, 1, 1, 1],  # wrong; the city it covers right
        ("pipeline:x", "PER", RELABEL): [0, 1, 0, 1],  # both wrong: gold says ORG there
        ("pipeline:x", "PER", GAP): [1, 1, 0, 0],
        ("pipeline:x", "PER", NARROWER): [0, 1, 0, 1],
    }
    # The gazetteer alone: 3 entities found, 1 right, 3 in gold: F1 2 * 1 / 6.
    assert (tally.others_found, tally.others_right, tally.gold) == (3, 1, 3)
    stored = tally.as_json(articles=2)
    assert stored == {
        "articles": 2,
        "others_f1": 0.3333,
        "keep": keep_above(1 / 3),
        "evidence": {
            "pipeline:x|ORG|wider": [0, 1, 1, 1],
            "pipeline:x|PER|gap": [1, 1, 0, 0],
            "pipeline:x|PER|narrower": [0, 1, 0, 1],
            "pipeline:x|PER|relabel": [0, 1, 0, 1],
        },
    }
    layered, keep = layered_evidence(stored)
    assert layered[("pipeline:x", "ORG", WIDER)] == Layered(Measured(0, 1), Measured(1, 1))
    assert keep == 0.2  # never under the merge's own floor


def test_a_type_measured_too_few_times_is_weighed_by_its_relation_over_every_type():
    stored = {
        "keep": 0.4,
        "evidence": {"pipeline:x|PER|gap": [0, 4, 0, 0], "pipeline:x|ORG|gap": [1, 8, 0, 0]},
    }
    layered, keep = layered_evidence(stored)
    assert layered[("pipeline:x", "*", GAP)] == Layered(Measured(1, 12), Measured(0, 0))
    merge = Merge(label_map=LABELS, types=CONLL, layered=layered, layered_keep=keep)
    # PER alone: 4 measured, too few; over every type 1 right in 12: (1 + 2.5) / 17 = 0.21 < 0.4.
    assert merge_candidates(CANDIDATES[4:], merge) == []
    # Without that evidence, kept as before.
    assert spans(merge_candidates(CANDIDATES[4:], Merge(label_map=LABELS, types=CONLL))) == [
        (27, 39, "PER", "pipeline:x")
    ]


def test_unmeasured_the_pipeline_never_retypes_or_cuts_a_name_rule_or_a_shape_guess():
    text = "Chelsea Football Club signed Anna Smith. Vitebsk Arena hosts April Ryan. Kiev Dynamo won."
    candidates = [
        # "Chelsea Football Club": the pipeline's longer ORG over the team rule's "Chelsea"
        Candidate(0, 21, "ORG", "pipeline:x"),
        Candidate(0, 7, "ORG", "rule:team"),
        # "Anna Smith": the person rule's, the pipeline says ORG on the same words
        Candidate(29, 39, "PERSON", "rule:person"),
        Candidate(29, 39, "ORG", "pipeline:x"),
        # "Vitebsk Arena": a club guessed from its shape; the pipeline says a place
        Candidate(41, 54, "ORG", "rule:club-shape"),
        Candidate(41, 54, "GPE", "pipeline:x"),
        # "April Ryan": the date rule's "April" inside the pipeline's person (a word, blind to context)
        Candidate(61, 71, "PERSON", "pipeline:x"),
        Candidate(61, 66, "DATE", "rule:date"),
        # "Kiev Dynamo": the pipeline's "Kiev" inside the shape guess (narrower)
        Candidate(73, 77, "GPE", "pipeline:x"),
        Candidate(73, 84, "ORG", "rule:club-shape"),
    ]
    assert [text[c.start : c.end] for c in candidates[::2]] == [
        "Chelsea Football Club", "Anna Smith", "Vitebsk Arena", "April Ryan", "Kiev",
    ]  # fmt: skip
    merge = Merge(label_map=LABELS, types=CONLL | {"DATE"})
    expected = [
        (0, 7, "ORG", "rule:team"),
        (29, 39, "PER", "rule:person"),
        (41, 54, "ORG", "rule:club-shape"),
        (61, 71, "PER", "pipeline:x"),
        (73, 84, "ORG", "rule:club-shape"),
    ]
    assert spans(merge_candidates(candidates, merge, text)) == expected
    assert spans(merge_candidates(candidates, merge)) == expected


@pytest.mark.parametrize(
    ("text", "name", "reads"),
    [
        ("He met Jan Kowalski in Lodz.", "Jan Kowalski", True),
        ("Shares of Bank of England rose.", "Bank of England", True),
        ("He told Lloyd 's on Friday.", "Lloyd 's", True),
        ('He liked " Mission : Impossible " most.', "Mission : Impossible", True),
        ("The 30-year-old Kane signed.", "30-year-old", False),  # an age: a digit
        ("Celtic 3 2 1 0 9 4 7", "3 2 1 0", False),  # a table's cells
        ("Rangers beat\nCeltic on Sunday.", "Rangers beat\nCeltic", False),  # across a line
        ("They met the communists on Sunday.", "communists", False),  # lower case
        ("He spoke with Mr Smith and colleagues.", "Smith and colleagues", False),  # a lower-case word
        ("CRICKET - PAKISTAN WIN BY TEN RUNS", "CRICKET", False),  # a headline in capitals
        ("W L PCT GB\nNEW YORK 74 54", "W L PCT GB", False),  # a table's header
        ("Turnout was 59 percent.", "Turnout", False),  # one word opening a sentence
        ('He said . " Army troops came.', "Army", False),  # after a quote opening a sentence
        ("Turnout in Lisbon was high.", "Lisbon", True),
        ("Jan Kowalski scored.", "Jan Kowalski", True),  # two words: a name even where a sentence opens
        ("Он приехал в Москву.", "Москву", True),  # another cased script
        ("он приехал в москву.", "москву", False),
        ("习近平在北京会见了他。", "北京", True),  # a script without case: only line and digits count
        ("北京\n2024年", "2024年", False),
        ("التقى محمد بن سلمان في الرياض", "الرياض", True),
    ],
)
def test_what_reads_as_a_name_where_it_stands(text, name, reads):
    start = text.index(name)
    assert reads_as_name(text, start, start + len(name)) is reads


def test_unmeasured_a_gap_entity_that_does_not_read_as_a_name_stays_out():
    text = "Turnout was 59 percent, said Jan Kowalski. The 52-year-old Kowalski won."
    candidates = [
        Candidate(0, 7, "PERSON", "pipeline:x"),  # "Turnout"
        Candidate(29, 41, "PERSON", "pipeline:x"),  # "Jan Kowalski"
        Candidate(47, 58, "DATE", "pipeline:x"),  # "52-year-old"
    ]
    merge = Merge(label_map=LABELS, types=CONLL | {"DATE"})
    assert spans(merge_candidates(candidates, merge, text)) == [(29, 41, "PER", "pipeline:x")]
    # Without the text, every gap entity.
    assert len(merge_candidates(candidates, merge)) == 3


def test_with_the_text_a_gap_that_does_not_read_as_a_name_is_tallied_and_weighed_apart():
    text = "Turnout was 59 percent, said Jan Kowalski. The 52-year-old Kowalski won."
    candidates = [
        Candidate(0, 7, "PERSON", "pipeline:x"),  # "Turnout": one word opening a sentence
        Candidate(29, 41, "PERSON", "pipeline:x"),  # "Jan Kowalski"
        Candidate(47, 58, "DATE", "pipeline:x"),  # "52-year-old"
    ]
    gold = {(29, 41, "PER"), (47, 58, "DATE")}
    merge = Merge(label_map=LABELS, types=CONLL | {"DATE"})
    tally = LayerTally()
    tally.add(candidates, gold, merge, text)
    assert tally.counts == {
        ("pipeline:x", "PER", UNNAMED): [0, 1, 0, 0],
        ("pipeline:x", "PER", GAP): [1, 1, 0, 0],
        ("pipeline:x", "DATE", UNNAMED): [1, 1, 0, 0],
    }
    # Without the text, all three are gaps.
    blind = LayerTally()
    blind.add(candidates, gold, merge)
    assert blind.counts == {
        ("pipeline:x", "PER", GAP): [1, 2, 0, 0],
        ("pipeline:x", "DATE", GAP): [1, 1, 0, 0],
    }
    # Measured: this project's ages are DATEs, right 18 times in 20; its single words opening a sentence
    # right 2 times in 20: the age goes in, "Turnout" stays out, the name goes in (a gap, by the prior).
    measured = Merge(
        label_map=LABELS,
        types=CONLL | {"DATE"},
        layered={
            ("pipeline:x", "DATE", UNNAMED): Layered(Measured(18, 20), Measured(0, 0)),
            ("pipeline:x", "PER", UNNAMED): Layered(Measured(2, 20), Measured(0, 0)),
        },
        layered_keep=0.4,
    )
    assert spans(merge_candidates(candidates, measured, text)) == [
        (29, 41, "PER", "pipeline:x"),
        (47, 58, "DATE", "pipeline:x"),
    ]
