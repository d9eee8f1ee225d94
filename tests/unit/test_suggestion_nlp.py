"""The spaCy module with pipelines the tests build themselves: gazetteer, token rules, sentences,
incremental updates, saved pipeline directories and label maps, training data preparation."""

import pytest

from annotator.suggestions import nlp
from annotator.suggestions.nlp import FoundEntity, Pattern


def rules(*patterns):
    suggester = nlp.build_suggester()
    suggester.ensure_patterns("v1", lambda: patterns)
    return suggester


def entities(suggester, text, merge=nlp.merge.NO_MERGE):
    (analysis,) = suggester.analyse([text], merge=merge)
    return [(text[e.start : e.end], e.label, e.source) for e in analysis.entities]


def test_kb_names_are_found_with_offsets_label_score_and_kb_id():
    suggester = rules(
        Pattern("PERSON", "Sergey Naryshkin", "kb:sergey-naryshkin"), Pattern("GPE", "Minsk", "kb:minsk")
    )
    text = "Sergey Naryshkin visited Minsk on April 15."
    (analysis,) = suggester.analyse([text])
    assert analysis.entities == (
        FoundEntity(0, 16, "PERSON", 0.9, "kb-ruler", "sergey-naryshkin"),
        FoundEntity(25, 30, "GPE", 0.9, "kb-ruler", "minsk"),
        FoundEntity(34, 42, "DATE", 0.75, "rule:date", None),
    )
    assert analysis.sentences == ((0, 43),)


def test_the_longest_match_wins_and_for_the_same_span_the_kb_beats_gold_and_the_lists():
    suggester = rules(
        Pattern("ORG", "Russian Foreign Intelligence Service", "kb:svr"),
        Pattern("NORP", "Russian", "list:demonyms"),
        Pattern("GPE", "Moscow", "list:cities"),
        Pattern("ORG", "Moscow", "gold:Moscow"),
        Pattern("LOC", "Moscow", "kb:moscow"),
    )
    assert entities(suggester, "The Russian Foreign Intelligence Service said Moscow agreed.") == [
        ("Russian Foreign Intelligence Service", "ORG", "kb-ruler"),
        ("Moscow", "LOC", "kb-ruler"),
    ]
    assert entities(suggester, "Russian diplomats") == [("Russian", "NORP", "list:demonyms")]


def test_names_broken_across_lines_match_and_offsets_stay_those_of_the_text():
    suggester = rules(Pattern("ORG", "Belarusian State Security Committee", "kb:kgb"))
    text = "the Belarusian State\nSecurity Committee (KGB) met.\n"
    assert entities(suggester, text) == [
        ("Belarusian State\nSecurity Committee", "ORG", "kb-ruler"),
        ("KGB", "ORG", "rule:name-acronym"),
    ]


def test_leading_articles_are_not_part_of_a_gazetteer_name():
    suggester = rules(Pattern("ORG", "the Kremlin", "kb:kremlin"))
    assert entities(suggester, "For the Kremlin, it matters.") == [("Kremlin", "ORG", "kb-ruler")]


@pytest.mark.parametrize(
    ("text", "dates"),
    [
        ("On April 15, Naryshkin came.", ["April 15"]),
        ("It was signed on 3 May 2021 in Minsk.", ["3 May 2021"]),
        ("He may come in May 2021, or in June.", ["May 2021", "June"]),
        (
            "Russia and Belarus signed it in\n1999. Moscow has in recent years pushed.",
            ["1999", "recent years"],
        ),
        (
            "Two weeks ago, last weekend and on Thursday, for 26 years.",
            ["Two weeks ago", "last weekend", "Thursday", "26 years"],
        ),
        ("A 26-year-old man, 3.7 billion euros, May I?", []),
    ],
)
def test_date_rules(text, dates):
    found = entities(rules(), text)
    assert [surface for surface, label, _ in found if label == "DATE"] == dates


def test_full_name_and_acronym_become_two_mentions_whose_name_starts_where_its_initials_spell_it():
    found = entities(
        rules(), "Officials of the Organization for Security and Cooperation in Europe (OSCE) left."
    )
    assert found == [
        ("Organization for Security and Cooperation in Europe", "ORG", "rule:name-acronym"),
        ("OSCE", "ORG", "rule:name-acronym"),
    ]
    # Initials that do not spell the acronym: the name is the run of capitalised words, stopping at "and".
    found = entities(rules(), "Sergey Lavrov and the Foreign Intelligence Agents (SVR) met.")
    assert found == [
        ("Sergey Lavrov", "PERSON", "rule:person"),  # a given name, then a capitalised word
        ("Foreign Intelligence Agents", "ORG", "rule:name-acronym"),
        ("SVR", "ORG", "rule:name-acronym"),
    ]


def test_sentences_end_at_full_stops_and_at_blank_lines():
    text = "Headline without a stop\n\nFirst sentence. Second one.\n"
    (analysis,) = rules().analyse([text])
    assert [text[s:e] for s, e in analysis.sentences] == [
        "Headline without a stop\n\n",
        "First sentence.",
        "Second one.",
    ]


def test_the_gazetteer_is_reloaded_only_when_its_fingerprint_moves_and_then_only_changed_groups():
    suggester = nlp.build_suggester()
    loads = []

    def load(patterns):
        def loader():
            loads.append(len(patterns))
            return patterns

        return loader

    first = [Pattern("PERSON", "Ivan Tertel", "kb:tertel"), Pattern("GPE", "Vitebsk", "kb:vitebsk")]
    assert suggester.ensure_patterns("a", load(first)) is True
    assert suggester.ensure_patterns("a", load(first)) is False  # same fingerprint: nothing read
    assert loads == [2]
    assert entities(suggester, "Ivan Tertel in Vitebsk") == [
        ("Ivan Tertel", "PERSON", "kb-ruler"),
        ("Vitebsk", "GPE", "kb-ruler"),
    ]
    ruler = suggester.nlp.get_pipe("span_ruler")
    before = len(ruler)
    second = [Pattern("PERSON", "Tertel", "kb:tertel"), Pattern("GPE", "Vitebsk", "kb:vitebsk")]
    assert suggester.ensure_patterns("b", load(second)) is True
    assert len(ruler) == before  # one pattern of one group replaced, the other group untouched
    assert entities(suggester, "Mr Tertel in Vitebsk") == [
        ("Tertel", "PERSON", "kb-ruler"),  # the KB's and the title rule's: the KB is trusted more
        ("Vitebsk", "GPE", "kb-ruler"),
    ]
    assert suggester.ensure_patterns("c", load([])) is True
    # The KB's names are gone; the title and place rules, which need no gazetteer, remain.
    assert entities(suggester, "Mr Tertel in Vitebsk") == [
        ("Tertel", "PERSON", "rule:person"),
        ("Vitebsk", "GPE", "rule:place"),  # after "in"
    ]


TINY_NEWS = [
    {"label": "PER", "pattern": "Zygmunt Quackenbush"},
    {"label": "FAC", "pattern": "Vitebsk Arena"},
    {"label": "CARDINAL", "pattern": "three"},
]


def saved_pipeline(tmp_path, *, name="tiny_news", version="0.2.0", patterns=TINY_NEWS):
    """A pipeline directory as `spacy package` or training would leave it: here an entity ruler with the
    given patterns, in `tmp_path / name`."""
    import spacy

    pipeline = spacy.blank("en")
    pipeline.meta["name"] = name
    pipeline.meta["version"] = version
    pipeline.add_pipe("entity_ruler").add_patterns(patterns)
    path = tmp_path / name
    pipeline.to_disk(path)
    return path


def test_a_saved_pipeline_directory_is_loaded_with_its_labels_mapped_and_the_gazetteer_added(tmp_path):
    path = saved_pipeline(tmp_path)
    assert nlp.model_meta(str(path)) == {
        "name": "en_tiny_news",
        "version": "0.2.0",
        "spacy_version": nlp.model_meta(str(path))["spacy_version"],
        "labels": ["CARDINAL", "FAC", "PER"],
    }
    assert nlp.read_pipeline(str(path)) == nlp.InstalledPipeline(
        ref=str(path), name="en_tiny_news", version="0.2.0", lang="en", labels=("CARDINAL", "FAC", "PER"),
        kind="directory",
    )  # fmt: skip
    suggester = nlp.build_suggester(model=str(path), model_source="pipeline:en_tiny_news-0.2.0")
    suggester.ensure_patterns("v1", lambda: [Pattern("GPE", "Minsk", "kb:minsk")])
    merge = nlp.Merge(
        label_map={"PER": "PERSON", "FAC": "LOC", "CARDINAL": ""},
        types=frozenset({"PERSON", "LOC", "GPE", "ORG"}),
    )
    text = "Zygmunt Quackenbush flew three times to Vitebsk Arena from Minsk."
    assert entities(suggester, text, merge) == [
        ("Zygmunt Quackenbush", "PERSON", "pipeline:en_tiny_news-0.2.0"),
        ("Vitebsk Arena", "LOC", "pipeline:en_tiny_news-0.2.0"),
        ("Minsk", "GPE", "kb-ruler"),
    ]
    # A longer model entity beats a gazetteer word inside it.
    suggester.ensure_patterns("v2", lambda: [Pattern("ORG", "Arena", "gold:Arena")])
    assert entities(suggester, "Vitebsk Arena closed.", merge) == [
        ("Vitebsk Arena", "LOC", "pipeline:en_tiny_news-0.2.0")
    ]


def test_a_pipeline_alone_has_no_gazetteer(tmp_path):
    suggester = nlp.build_suggester(
        model=str(saved_pipeline(tmp_path)), model_source="pipeline:x", rules=False
    )
    assert suggester.ensure_patterns("v1", lambda: [Pattern("GPE", "Vitebsk", "kb:vitebsk")]) is False
    assert entities(suggester, "Near Vitebsk Arena.") == [("Vitebsk Arena", "FAC", "pipeline:x")]


def test_long_gold_texts_are_cut_for_training_between_sentences_never_inside_an_entity():
    sentence = "Ivan Tertel met Naryshkin. "
    text = sentence * 100
    entities_ = [(i * len(sentence), i * len(sentence) + 11, "PERSON") for i in range(100)]
    pieces = nlp.split_for_training(text, entities_, max_chars=500)
    assert "".join(piece.text for piece in pieces) == text
    assert sum(len(piece.entities) for piece in pieces) == 100
    for piece in pieces:
        assert len(piece.text) <= 500 + len(sentence)
        assert all(piece.text[s:e] == "Ivan Tertel" for s, e, _ in piece.entities)


def test_the_cache_builds_a_pipeline_once_per_key():
    built = []

    def build():
        built.append(1)
        return nlp.build_suggester()

    nlp.forget_suggesters()
    assert nlp.cached_suggester("k", build) is nlp.cached_suggester("k", build)
    assert built == [1]
    nlp.forget_suggesters()


def test_training_keeps_the_best_held_out_epoch_and_stops_when_it_stops_improving(tmp_path):
    names = ["Anna Berg", "Olga Novak", "Ivan Petrov", "Lena Marsh", "Pavel Costa", "Rosa Keller"]

    def doc(name):
        text = f"Yesterday {name} spoke to reporters."
        return nlp.TrainingDoc(text, ((10, 10 + len(name), "PERSON"),))

    train = [doc(name) for name in names] * 4
    result = nlp.train_ner(
        train=train,
        dev=[doc(name) for name in names[:2]],
        output=tmp_path / "ner",
        max_epochs=40,
        recipe=nlp.Recipe(patience=3),
    )
    # The held-out texts are all found long before 40 epochs; three epochs without better end it.
    assert result.held_out_f1 == 1.0
    assert result.epochs == result.best_epoch + 3 < 40
    assert result.labels == ("PERSON",)
    assert (tmp_path / "ner" / "meta.json").is_file()


def test_batches_keep_growing_across_epochs_so_later_epochs_take_fewer_updates(tmp_path):
    steps = []
    nlp.train_ner(
        train=_people_docs() * 10,  # 40 pieces
        dev=[],
        output=tmp_path / "ner",
        max_epochs=3,
        recipe=nlp.Recipe(batch_start=2.0, batch_end=16.0, batch_rate=1.2),
        on_progress=lambda epoch, step: steps.append(step),
    )
    # Sizes 2, 2, 2, 3, 4, 4, 5, 7, 8, 10 (first epoch: ten updates), then 12, 14 and the last 14 pieces;
    # had the schedule restarted each epoch, every epoch would have taken ten.
    assert steps == [10, 13, 16]


def _people_docs():
    names = ["Anna Berg", "Olga Novak", "Ivan Petrov", "Lena Marsh"]
    return [
        nlp.TrainingDoc(f"Yesterday {name} spoke to reporters.", ((10, 10 + len(name), "PERSON"),))
        for name in names
    ]


def _encoder_bytes(path, listens):
    import spacy

    loaded = spacy.load(path)
    if listens:
        return loaded.get_pipe("tok2vec").model.to_bytes()
    return loaded.get_pipe("ner").model.get_ref("tok2vec").to_bytes()


def test_training_from_a_pretrained_pipeline_copies_its_ner_encoder_and_learns_new_labels(tmp_path):
    # A blank-pipeline NER (its encoder is a shared tok2vec component the NER listens to) is the base
    # of a second one with other labels (its encoder inline in the NER), which is the base of a third.
    train = _people_docs()
    first = tmp_path / "first"
    nlp.train_ner(train=train, dev=[], output=first, max_epochs=2)
    relabelled = [nlp.TrainingDoc(d.text, tuple((s, e, "PER") for s, e, _ in d.entities)) for d in train]
    # No epoch: what is saved is the initialised pipeline with the base's weights copied in.
    second = nlp.train_ner(
        train=relabelled, dev=[], output=tmp_path / "second", max_epochs=0, base=str(first)
    )
    assert second.labels == ("PER",)
    import spacy

    mine = spacy.load(tmp_path / "second").get_pipe("ner").model.get_ref("tok2vec").layers[0]
    assert mine.to_bytes() == _encoder_bytes(first, listens=True)
    third = nlp.train_ner(train=train, dev=[], output=tmp_path / "third", max_epochs=0, base=str(second.path))
    assert third.labels == ("PERSON",)
    assert _encoder_bytes(tmp_path / "third", listens=False) == _encoder_bytes(second.path, listens=False)
    nlp.train_ner(train=train, dev=[], output=tmp_path / "blank", max_epochs=0)  # the control: no base
    assert _encoder_bytes(tmp_path / "blank", listens=True) != _encoder_bytes(first, listens=True)


def test_a_pretrained_pipeline_of_another_language_or_without_ner_is_refused_as_a_base(tmp_path):
    import spacy

    german = spacy.blank("de")
    german.add_pipe("ner")
    german.to_disk(tmp_path / "de")
    with pytest.raises(nlp.BaseUnusable, match=r"de pipeline, not en$"):
        nlp.train_ner(
            train=_people_docs(), dev=[], output=tmp_path / "x", max_epochs=1, base=str(tmp_path / "de")
        )
    spacy.blank("en").to_disk(tmp_path / "empty")
    with pytest.raises(nlp.BaseUnusable, match="has no NER$"):
        nlp.train_ner(
            train=_people_docs(), dev=[], output=tmp_path / "x", max_epochs=1, base=str(tmp_path / "empty")
        )
    with pytest.raises(nlp.BaseUnusable, match="does not load"):
        nlp.train_ner(
            train=_people_docs(), dev=[], output=tmp_path / "x", max_epochs=1, base=str(tmp_path / "none")
        )
    assert not (tmp_path / "x").exists()
