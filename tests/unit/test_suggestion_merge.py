"""Sources that compose: every source proposes, one merge decides under the project's types and label map,
by evidence; gold mentions that make poor patterns never match; each language tokenizes its own way."""

import pytest

from annotator.suggestions import labels, nlp
from annotator.suggestions.nlp import Candidate, FoundEntity, Measured, Merge, Pattern, merge_candidates

CONLL = frozenset({"PER", "ORG", "LOC", "MISC"})


def saved_ner(tmp_path, patterns, name="fake_ner"):
    """A pipeline directory whose "NER" is an entity ruler: what a trained or installed pipeline puts
    in `doc.ents`, without training anything."""
    import spacy

    pipeline = spacy.blank("en")
    pipeline.meta["name"] = name
    pipeline.add_pipe("entity_ruler").add_patterns(
        [{"label": label, "pattern": text} for label, text in patterns]
    )
    path = tmp_path / name
    pipeline.to_disk(path)
    return str(path)


def found(suggester, text, merge):
    (analysis,) = suggester.analyse([text], merge=merge)
    return [(text[e.start : e.end], e.label, e.source) for e in analysis.entities]


def test_a_list_or_rule_match_of_a_type_the_project_lacks_never_hides_another_sources_entity(tmp_path):
    model = saved_ner(tmp_path, [("PERSON", "April Ryan"), ("PERSON", "Washington Irving")])
    suggester = nlp.build_suggester(model=model, model_source="pipeline:fake")
    suggester.ensure_patterns("v1", lambda: [Pattern("GPE", "Washington", "list:cities")])
    text = "April Ryan wrote about Washington Irving in Washington."
    # A schema without DATE and GPE, and a map that drops GPE: the date rule's "April" and the list's
    # "Washington" claim nothing, so the model's people appear whole.
    merge = Merge(label_map={"PERSON": "PER", "GPE": ""}, types=CONLL)
    assert found(suggester, text, merge) == [
        ("April Ryan", "PER", "pipeline:fake"),
        ("Washington Irving", "PER", "pipeline:fake"),
    ]
    # Without the merge (every label kept), the same sources still compose: longer entities win.
    assert found(suggester, text, nlp.merge.NO_MERGE) == [
        ("April Ryan", "PERSON", "pipeline:fake"),
        ("Washington Irving", "PERSON", "pipeline:fake"),
        ("Washington", "GPE", "list:cities"),
    ]


def test_a_mapping_sends_list_labels_to_project_types_defaults_found_by_name():
    assert labels.default_target("GPE", CONLL) == "LOC"
    assert labels.default_target("NORP", CONLL) == "MISC"
    assert labels.default_target("PERSON", CONLL) == "PER"
    assert labels.default_target("DATE", CONLL) == ""
    assert labels.default_target("GPE", {"GPE", "LOC"}) == "GPE"  # a schema with GPE keeps GPE
    assert labels.default_target("FAC", {"gpe", "loc"}) == "loc"  # by name, whatever the case
    assert labels.effective_map(["GPE", "NORP", "DATE"], CONLL, {"NORP": "", "DATE": "MISC"}) == {
        "GPE": "LOC",
        "NORP": "",  # the project dropped it
        "DATE": "MISC",  # the project chose it
    }
    # A choice naming a type the project no longer has falls back to the default.
    assert labels.effective_map(["GPE"], CONLL, {"GPE": "PLACE"}) == {"GPE": "LOC"}

    suggester = nlp.build_suggester()
    suggester.ensure_patterns(
        "v1",
        lambda: [Pattern("GPE", "Germany", "list:countries"), Pattern("NORP", "German", "list:demonyms")],
    )
    merge = Merge(label_map=labels.effective_map(["GPE", "NORP", "DATE"], CONLL, {}), types=CONLL)
    assert found(suggester, "German troops left Germany on May 3.", merge) == [
        ("German", "MISC", "list:demonyms"),
        ("Germany", "LOC", "list:countries"),
    ]


def test_a_longer_model_entity_beats_a_list_word_inside_it_and_evidence_can_overrule_length():
    candidates = [
        Candidate(0, 13, "ORG", "pipeline:x"),  # "Bayern Munich"
        Candidate(7, 13, "GPE", "list:cities"),  # "Munich"
        Candidate(20, 26, "LOC", "pipeline:x"),
        Candidate(20, 26, "GPE", "kb-ruler", "q1"),  # same span: the more precise source's label
    ]
    merge = Merge(label_map={"GPE": "LOC"}, types=CONLL)
    assert merge_candidates(candidates, merge) == [
        FoundEntity(0, 13, "ORG", 0.5, "pipeline:x"),
        FoundEntity(20, 26, "LOC", 0.9, "kb-ruler", "q1"),
    ]
    # Measured: this pipeline's ORG is mostly wrong here, the list's cities nearly always right.
    measured = Merge(
        label_map={"GPE": "LOC"},
        types=CONLL,
        evidence={("pipeline:x", "ORG"): Measured(3, 20), ("list:cities", "LOC"): Measured(40, 40)},
    )
    assert merge_candidates(candidates, measured)[0] == FoundEntity(7, 13, "LOC", 0.9778, "list:cities")
    # Measured to be wrong nearly always: muted.
    muted = Merge(types=CONLL, evidence={("pipeline:x", "ORG"): Measured(0, 30)})
    assert [e.label for e in merge_candidates(candidates[:1], muted)] == []


@pytest.mark.parametrize(
    ("text", "weak"),
    [
        ("The", True),
        ("the", True),
        ("He", True),
        ("government", True),
        ("the ministry", True),
        ("May", True),
        ("-", True),
        ("US", False),
        ("Will Smith", False),
        ("Labour", False),
        ("Apollo 11", False),
        ("北京", False),
    ],
)
def test_weak_gold_mentions_are_told_from_names(text, weak):
    import spacy

    assert nlp.patterns.is_weak_name(spacy.blank("en").make_doc(text)) is weak


def test_a_gold_the_never_becomes_a_pattern():
    suggester = nlp.build_suggester()
    suggester.ensure_patterns(
        "v1",
        lambda: [
            Pattern("LOC", "The", "gold:The"),
            Pattern("ORG", "the government", "gold:the government"),
            Pattern("LOC", "US", "gold:US"),
        ],
    )
    assert set(suggester._ruler_state.groups) == {
        "gold:US",
        "rule:date",
        "rule:date-after",
        "rule:name-acronym",
    }
    assert found(suggester, "The US said the government agreed.", nlp.merge.NO_MERGE) == [
        ("US", "LOC", "gold-ruler")
    ]


def test_gold_patterns_are_measured_on_gold_texts():
    docs = [
        nlp.TrainingDoc("Labour won. Labour is hard work.", ((0, 6, "ORG"),)),
        nlp.TrainingDoc("Hard labour. Labour pays. Labour again.", ()),
        nlp.TrainingDoc("Vienna is calm. Vienna again.", ((0, 6, "LOC"), (16, 22, "LOC"))),
    ]
    counts = nlp.measure_patterns(docs, [("ORG", "Labour"), ("LOC", "Vienna"), ("ORG", "Vienna")])
    assert counts == {("ORG", "Labour"): (1, 4), ("LOC", "Vienna"): (2, 2), ("ORG", "Vienna"): (0, 2)}


def test_a_non_english_project_tokenizes_with_its_language():
    french = nlp.build_suggester(lang="fr")
    english = nlp.build_suggester(lang="en")
    for suggester in (french, english):
        suggester.ensure_patterns("v1", lambda: [Pattern("PERSON", "Artagnan", "kb:artagnan")])
    text = "Le roi reçut d'Artagnan le 3 mai."
    (analysis,) = french.analyse([text])
    assert french.lang == "fr"
    assert [(text[e.start : e.end], e.start, e.end, e.label) for e in analysis.entities] == [
        ("Artagnan", 15, 23, "PERSON")
    ]
    assert [t.text for t in french.nlp.make_doc("d'Artagnan")] == ["d'", "Artagnan"]
    # English keeps "d'Artagnan" one token, so the name is not found; and the date rules are English only.
    assert english.analyse([text]).__next__().entities == ()
    assert "rule:date" not in french._ruler_state.groups


def test_each_candidate_is_alone_agreed_or_contested_among_the_other_sources():
    spans = [
        (0, 13, "ORG", "trained:ner-1"),  # "Bayern Munich": the list's "Munich" inside it
        (7, 13, "LOC", "list:cities"),
        (20, 26, "PER", "trained:ner-1"),  # the same span and type from the rules
        (20, 26, "PER", "rule:person"),
        (30, 35, "MISC", "trained:ner-1"),  # nothing else there
        (40, 45, "LOC", "list:cities"),  # the same source twice on one span is no company
        (40, 45, "LOC", "list:cities"),
        (50, 55, "LOC", "rule:place"),  # crossing the next one
        (53, 60, "ORG", "trained:ner-1"),
    ]
    assert nlp.merge.situations(spans) == [
        "contested",
        "contested",
        "agreed",
        "agreed",
        "alone",
        "alone",
        "alone",
        "contested",
        "contested",
    ]
    assert nlp.merge.situations([]) == []


def test_precision_measured_by_situation_decides_overlaps_without_a_length_margin_and_mutes_weak_guesses():
    model, cities = "trained:ner-1", "list:cities"
    candidates = [
        Candidate(0, 13, "ORG", model),  # "Bayern Munich"
        Candidate(7, 13, "GPE", cities),  # "Munich"
        Candidate(20, 26, "PER", model),  # alone
        Candidate(30, 35, "MISC", model),  # alone
    ]
    overall = {(model, "ORG"): Measured(60, 100), (cities, "LOC"): Measured(70, 100)}
    # Measured overall only: the list is not MARGIN more precise, so the longer entity wins.
    plain = Merge(label_map={"GPE": "LOC"}, types=CONLL, evidence=overall)
    assert [(e.start, e.end, e.label) for e in merge_candidates(candidates, plain)] == [
        (0, 13, "ORG"),
        (20, 26, "PER"),
        (30, 35, "MISC"),
    ]
    # By situation: when the two overlap the list's city was right 30 times in 40, the model's
    # organisation 20 in 40: the city wins. The model's MISC alone was right 6 times in 30: under half
    # the combination's F1 (0.8), it is left out; its PER alone, 45 in 50, stays.
    situated = {
        (model, "ORG", "contested"): Measured(20, 40),
        (cities, "LOC", "contested"): Measured(30, 40),
        (model, "MISC", "alone"): Measured(6, 30),
        (model, "PER", "alone"): Measured(45, 50),
    }
    merge = Merge(label_map={"GPE": "LOC"}, types=CONLL, evidence=overall, situated=situated, mute_below=0.4)
    # Scores: the situated figure with five pseudo-counts of the overall one (itself the measurement with
    # five of the prior; PER: nothing measured overall, the prior 0.5).
    city = (70 + 0.8 * 5) / 105
    assert merge_candidates(candidates, merge) == [
        FoundEntity(7, 13, "LOC", round((30 + city * 5) / 45, 4), cities),
        FoundEntity(20, 26, "PER", round((45 + 0.5 * 5) / 55, 4), model),
    ]
    # The other way round, the model's longer entity wins (and with the default threshold, the MISC alone
    # at (6 + 0.5 * 5) / 35 = 0.24 stays).
    reversed_evidence = {
        **situated,
        (model, "ORG", "contested"): Measured(30, 40),
        (cities, "LOC", "contested"): Measured(20, 40),
    }
    merge = Merge(label_map={"GPE": "LOC"}, types=CONLL, evidence=overall, situated=reversed_evidence)
    assert [(e.start, e.end, e.label) for e in merge_candidates(candidates, merge)] == [
        (0, 13, "ORG"),
        (20, 26, "PER"),
        (30, 35, "MISC"),
    ]
    # Too little evidence in a situation (under MIN_EVIDENCE) neither mutes nor overrules length.
    thin = Merge(types=CONLL, situated={(model, "MISC", "alone"): Measured(0, 5)}, mute_below=0.4)
    assert [e.label for e in merge_candidates(candidates[3:], thin)] == ["MISC"]
