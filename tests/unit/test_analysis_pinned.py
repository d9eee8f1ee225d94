"""Exact outputs of the analysis after the pipeline (name rules, merge, relation rules), pinned on varied
news-like texts written here, so that making it cheaper never changes what it suggests: every span,
label, score and source, and every relation. Also the merge's shortcut (no measured situations) against
its general path on many generated candidate sets, and the name rules' per-wording caches against the
context of each occurrence."""

import random

import pytest

from annotator.suggestions import gazetteer, nlp
from annotator.suggestions.nlp import Candidate, Measured, Merge, Pattern, merge_candidates
from annotator.suggestions.nlp.merge import _merged, mapped
from annotator.suggestions.nlp.names import find_names
from annotator.suggestions.relations import Mention, RelationSchema, find_relations

DEMO_TYPES = frozenset({"PERSON", "ORG", "GPE", "NORP", "DATE", "EVENT", "LOC"})
MERGE = Merge(types=DEMO_TYPES)
SCHEMA = (
    RelationSchema("alias_of", False, frozenset(), frozenset()),
    RelationSchema("head_of", True, frozenset({"PERSON"}), frozenset({"ORG", "GPE"})),
    RelationSchema("part_of", True, frozenset({"ORG", "PERSON"}), frozenset({"ORG", "GPE"})),
    RelationSchema("cooperates_with", False, frozenset({"ORG", "GPE"}), frozenset({"ORG", "GPE"})),
    RelationSchema("met_with", False, frozenset({"PERSON", "ORG"}), frozenset({"PERSON", "ORG"})),
    RelationSchema("member_of", True, frozenset({"GPE", "ORG"}), frozenset({"ORG"})),
    RelationSchema("located_in", True, frozenset({"ORG"}), frozenset({"GPE"})),
    RelationSchema("visited", True, frozenset({"PERSON"}), frozenset({"GPE"})),
)
TEXTS = {
    "summit": (
        "WARSAW 2026-03-14\n\n"
        "Polish Prime Minister Anna Kowalski met Boris Petrov, head of the National Bank of Trade (NBT), "
        "in Warsaw on Monday. Kowalski, 52, said the NBT and the Federal Energy Agency agreed to work "
        "together. Petrov later visited Vilnius.\n"
        "The 30-year-old Petrov's aide, Dr. Hugo Jansen, spoke with reporters at Heathrow airport."
    ),
    "sport": (
        "SOCCER - BAYERN MUNICH BEAT DORTMUND\n"
        "Bayern Munich 2 Borussia Dortmund 1\n"
        "( Klinsmann 15th , Zieger 24th and 90th )\n"
        "Bayern coach Otto Rehhagel said striker Jurgen Klinsmann was fit. Bayern meet Ajax on Saturday."
    ),
    "business": (
        "Engineering concern Stork said on Tuesday that Gencor Ltd and Vestas Wind Systems signed a joint "
        "venture. Shares of Vestas rose. Gencor, based in Johannesburg, is a member of the Mining Council. "
        "The daily Le Matin reported that Socialist Party of Montenegro leader Milo Djukanovic travelled to "
        "Brussels last week."
    ),
    "court": (
        "Judge Maria Santos of the Supreme Court heard Roe v Wade arguments. In Ramallah, officials "
        "questioned the town of Dayana. Later Santos left. The PUK said the SPLA, 10 km away, and the "
        "Patriotic Union of Kurdistan ( PUK ) held talks with Sen. Dole in May 1996."
    ),
}


@pytest.fixture(scope="module")
def suggester():
    built = nlp.build_suggester()
    built.ensure_patterns(
        "pinned",
        lambda: [
            *gazetteer.shipped_patterns(),
            Pattern("PERSON", "Boris Petrov", "kb:p1"),
            Pattern("PERSON", "Petrov", "kb:p1"),
            Pattern("PERSON", "Petrov", "kb:p2"),  # a name two entities share: one mention
            Pattern("ORG", "National Bank of Trade", "kb:o1"),
            Pattern("ORG", "NBT", "kb:o1"),
        ],
    )
    return built


def analysed(text, suggester, merge=MERGE):
    (analysis,) = suggester.analyse([text], merge=merge)
    return [(text[e.start : e.end], e.start, e.label, e.score, e.source, e.kb_id) for e in analysis.entities]


def related(text, suggester):
    (analysis,) = suggester.analyse([text], merge=MERGE)
    mentions = [Mention(e.start, e.end, e.label) for e in analysis.entities]
    return [
        (text[mentions[r.head].start : mentions[r.head].end], text[mentions[r.tail].start : mentions[r.tail].end],
         r.relation, r.score, r.source)
        for r in find_relations(text, mentions, analysis.sentences, SCHEMA)
    ]  # fmt: skip


def test_a_summit_report_with_a_dateline_kb_names_an_acronym_and_ages(suggester):
    assert analysed(TEXTS["summit"], suggester) == [
        ("WARSAW", 0, "GPE", 0.8, "list:cities", None),
        ("Polish", 19, "NORP", 0.8, "list:demonyms", None),
        ("Anna Kowalski", 41, "PERSON", 0.85, "rule:person", None),
        ("Boris Petrov", 59, "PERSON", 0.9, "kb-ruler", "p1"),
        ("National Bank of Trade", 85, "ORG", 0.9, "kb-ruler", "o1"),
        ("NBT", 109, "ORG", 0.9, "kb-ruler", "o1"),
        ("Warsaw", 118, "GPE", 0.8, "list:cities", None),
        ("Monday", 128, "DATE", 0.75, "rule:date", None),
        ("Kowalski", 136, "PERSON", 0.85, "rule:person", None),
        ("NBT", 159, "ORG", 0.9, "kb-ruler", "o1"),
        ("Federal Energy Agency", 171, "ORG", 0.7, "rule:org", None),
        ("Petrov", 218, "PERSON", 0.9, "kb-ruler", "p1"),  # two entities share the name: one mention
        ("Vilnius", 239, "GPE", 0.8, "list:cities", None),
        ("Petrov", 264, "PERSON", 0.9, "kb-ruler", "p1"),
        ("Hugo Jansen", 283, "PERSON", 0.85, "rule:person", None),
        ("Heathrow", 320, "LOC", 0.8, "rule:place", None),
    ]
    assert related(TEXTS["summit"], suggester) == [
        ("Anna Kowalski", "Boris Petrov", "met_with", 0.7, "rule:met"),
        ("Boris Petrov", "National Bank of Trade", "head_of", 0.8, "rule:title-of"),
        ("National Bank of Trade", "NBT", "alias_of", 0.9, "rule:acronym"),
    ]


def test_a_match_report_with_a_capitals_headline_a_results_line_and_scorers(suggester):
    assert analysed(TEXTS["sport"], suggester) == [
        ("BAYERN MUNICH", 9, "ORG", 0.85, "rule:team", None),
        ("DORTMUND", 28, "GPE", 0.8, "list:cities", None),
        ("Bayern Munich", 37, "ORG", 0.85, "rule:team", None),
        ("Borussia Dortmund", 53, "ORG", 0.85, "rule:team", None),
        ("Klinsmann", 75, "PERSON", 0.85, "rule:person", None),
        ("Zieger", 92, "PERSON", 0.85, "rule:person", None),
        ("Otto Rehhagel", 128, "PERSON", 0.85, "rule:person", None),
        ("Jurgen Klinsmann", 155, "PERSON", 0.85, "rule:person", None),
        ("Saturday", 201, "DATE", 0.75, "rule:date", None),
    ]
    assert related(TEXTS["sport"], suggester) == []


def test_business_news_with_legal_forms_names_found_again_and_a_newspaper(suggester):
    assert analysed(TEXTS["business"], suggester) == [
        ("Stork", 20, "ORG", 0.7, "rule:org", None),
        ("Tuesday", 34, "DATE", 0.75, "rule:date", None),
        ("Gencor Ltd", 47, "ORG", 0.7, "rule:org", None),
        ("Vestas Wind Systems", 62, "ORG", 0.7, "rule:org", None),
        ("Vestas", 116, "ORG", 0.7, "rule:org", None),
        ("Gencor", 129, "ORG", 0.7, "rule:org", None),
        ("Johannesburg", 146, "GPE", 0.8, "list:cities", None),
        ("Mining Council", 179, "ORG", 0.7, "rule:org", None),
        ("Le Matin", 205, "ORG", 0.7, "rule:org", None),
        ("Socialist Party of Montenegro", 228, "ORG", 0.7, "rule:org", None),
        ("Milo Djukanovic", 265, "PERSON", 0.85, "rule:person", None),
        ("Brussels", 294, "GPE", 0.8, "list:cities", None),
        ("last week", 303, "DATE", 0.75, "rule:date", None),
    ]
    assert related(TEXTS["business"], suggester) == [
        ("Gencor Ltd", "Vestas Wind Systems", "cooperates_with", 0.6, "rule:coordination-cooperation"),
        ("Gencor", "Johannesburg", "located_in", 0.5, "rule:located-in"),
        ("Johannesburg", "Mining Council", "member_of", 0.7, "rule:member-of"),
        ("Milo Djukanovic", "Socialist Party of Montenegro", "head_of", 0.8, "rule:org-title-person"),
        ("Milo Djukanovic", "Brussels", "visited", 0.7, "rule:visited"),
    ]


def test_court_news_with_places_after_in_a_sentence_opener_and_acronyms_in_text(suggester):
    assert analysed(TEXTS["court"], suggester) == [
        ("Maria Santos", 6, "PERSON", 0.85, "rule:person", None),
        ("Supreme Court", 26, "ORG", 0.7, "rule:org", None),
        ("Ramallah", 71, "GPE", 0.8, "rule:place", None),
        ("Dayana", 114, "GPE", 0.8, "rule:place", None),
        ("Santos", 128, "PERSON", 0.85, "rule:person", None),
        ("PUK", 145, "ORG", 0.7, "rule:org", None),
        ("SPLA", 158, "ORG", 0.7, "rule:org", None),
        ("Patriotic Union of Kurdistan", 184, "ORG", 0.7, "rule:org", None),
        ("PUK", 215, "ORG", 0.6, "rule:name-acronym", None),
        ("Dole", 242, "PERSON", 0.85, "rule:person", None),
        ("May 1996", 250, "DATE", 0.75, "rule:date", None),
    ]
    assert related(TEXTS["court"], suggester) == [("PUK", "Dole", "met_with", 0.6, "rule:talks-with")]


def test_measured_evidence_demotes_a_longer_span_and_mutes_a_source(suggester):
    # Measured: the name rules' organisations are mostly wrong here, the city list nearly always right.
    measured = Merge(
        types=DEMO_TYPES,
        evidence={
            ("rule:team", "ORG"): Measured(2, 40),  # muted: under MUTE_BELOW with enough evidence
            ("rule:org", "ORG"): Measured(9, 20),
            ("list:cities", "GPE"): Measured(40, 40),
        },
    )
    text = "Bayern Munich 2 Borussia Dortmund 1\nThe Munich Energy Agency met in Munich."
    assert analysed(text, suggester, measured) == [
        ("Munich", 7, "GPE", 0.9778, "list:cities", None),
        ("Dortmund", 25, "GPE", 0.9778, "list:cities", None),
        # "Munich Energy Agency" (rule:org, 0.48) is demoted below the city inside it, and loses.
        ("Munich", 40, "GPE", 0.9778, "list:cities", None),
        ("Munich", 68, "GPE", 0.9778, "list:cities", None),
    ]


SOURCES = ["kb-ruler", "gold-ruler", "list:cities", "list:demonyms", "rule:person", "rule:org", "rule:date",
           "rule:name-shape", "pipeline:x"]  # fmt: skip
LABELS = ["PERSON", "ORG", "GPE", "NORP", "DATE", "MISC", "CARDINAL"]


def test_the_merge_shortcut_decides_as_the_general_path_on_generated_candidates():
    """Without measured situations the merge looks each (label, source) up once and works on tuples; it
    must keep exactly what the general path (`mapped`, then `_merged`) keeps, KB ids included."""
    rng = random.Random(13)
    merges = [
        Merge(types=DEMO_TYPES),
        Merge(label_map={"GPE": "LOC", "NORP": "MISC", "PERSON": "PER", "DATE": ""}, types=None),
        Merge(types=DEMO_TYPES, evidence={("pipeline:x", "ORG"): Measured(1, 30)}),  # muted, nothing else
        Merge(types=DEMO_TYPES, evidence={("rule:org", "ORG"): Measured(3, 4)}),  # measured, too little
    ]
    for _ in range(400):
        candidates = []
        for _ in range(rng.randint(0, 30)):
            start = rng.randint(0, 40)  # crowded: many candidates share a span, overlap or cross
            source = rng.choice(SOURCES)
            kb_id = f"q{rng.randint(1, 3)}" if source == "kb-ruler" else None
            end = start + rng.choice((1, 2, 3, 5, 8, 13))
            candidates.append(Candidate(start, end, rng.choice(LABELS), source, kb_id))
        for merge in merges:
            assert merge_candidates(candidates, merge) == _merged(mapped(candidates, merge), merge)


def test_the_name_rules_judge_each_occurrence_of_a_wording_in_its_own_context():
    # The same words, judged once per wording, take their context from each occurrence.
    first = find_names("The engineering concern Stork said so.")
    second = find_names("Stork said so. Fokker, 34, agreed.")
    assert [(c.start, c.end, c.label, c.source) for c in first] == [(24, 29, "ORG", "rule:org")]
    assert [(c.start, c.end, c.label, c.source) for c in second] == [(15, 21, "PERSON", "rule:person")]
    # And asked again, the same text gives the same candidates.
    assert find_names("The engineering concern Stork said so.") == first


def test_the_name_rules_caches_stay_bounded_and_forget_nothing_they_need(monkeypatch):
    from annotator.suggestions.nlp import names

    monkeypatch.setattr(names, "WORDING_CACHE", 10)
    text = " ".join(f"President Vorname{n} Nachname{n} spoke." for n in range(40))
    found = find_names(text)
    assert len(names._run_segments) <= 10
    assert len(names._cuts) <= 10
    assert [text[c.start : c.end] for c in found] == [f"Vorname{n} Nachname{n}" for n in range(40)]
    assert find_names(text) == found  # judged again after the caches were cleared: the same
