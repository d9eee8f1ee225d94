"""Model in the loop: train the project's model from its annotated articles, measure it by k-fold
cross-validation, keep it only if it measures better than the active suggester on the same articles.

Training data: each article's curated gold where it has one, else its annotators' latest submitted set
(decided suggestions count through the sets they were decided in: an accepted one is a span of the set).
Articles are split into k stable folds; for each fold a model is trained on the others and run, with the
gazetteer blind to the fold's gold, on the fold's articles. Pooled, those predictions are the new
version's cross-validated precision, recall and F1 per label (a point of the learning curve); the raw
candidates of every source on them are its measured precision per source and label, which the merge
then uses. Gold mentions that match poorly as patterns on the project's gold are dropped from the
gazetteer. The final model is trained on every article. It becomes active only if, on the articles the
active suggester never learnt from, its cross-validated predictions score a better F1 than the active
suggester's; a manager can still activate any version by hand.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Prefetch, Q

from annotator.annotations.models import AnnotationSet, Relation, SetKind, SetStatus, Span
from annotator.articles.models import Article, content_hash
from annotator.core.errors import DomainError
from annotator.suggestions import gazetteer, nlp, sources
from annotator.suggestions.engine import (
    RELATIONS_FILE,
    ProjectSchema,
    SuggesterSpec,
    SuggestionRunner,
    forget_merges,
    spec_for,
)
from annotator.suggestions.generate import ensure_active_suggester
from annotator.suggestions.models import SuggesterKind, SuggesterSettings, SuggesterVersion
from annotator.suggestions.relations import (
    NONE,
    Mention,
    PairClassifier,
    candidate_pairs,
    find_relations,
    pair_class,
    pair_features,
    sentence_index,
)
from annotator.suggestions.scoring import MICRO, as_dicts, score

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from annotator.jobs.progress import Progress
    from annotator.projects.models import Project

TRAINED_NAME = "ner"
# A gold mention is dropped as a pattern when, over at least this many occurrences of its text in the
# project's gold, fewer than this share are that entity.
PATTERN_MIN_OCCURRENCES = 3
PATTERN_MIN_PRECISION = 0.5


class TrainingRefused(DomainError):
    """There are not enough annotated articles to train (or to measure what training would make)."""

    code = "not_enough_gold"


@dataclass(frozen=True)
class GoldArticle:
    """One annotated article as training data: its entities and relations (indexes into the entities)."""

    article_id: int
    text: str
    entities: tuple[tuple[int, int, str], ...]
    relations: tuple[tuple[int, int, str], ...]
    origin: str = SetKind.GOLD  # gold, or annotator: a submitted set where there is no curated gold


@dataclass(frozen=True)
class TrainingReport:
    version: SuggesterVersion
    activated: bool
    f1: float
    baseline_f1: float
    baseline: str
    compared_on: int  # articles both were measured on


def _set_records(sets: Iterable[AnnotationSet], origin: str) -> list[GoldArticle]:
    records = []
    for annotation_set in sets:
        spans = list(annotation_set.spans.all())
        index = {span.pk: i for i, span in enumerate(spans)}
        records.append(
            GoldArticle(
                article_id=annotation_set.article_id,
                text=annotation_set.article.text,
                entities=tuple((s.start, s.end, s.entity_type.name) for s in spans),
                relations=tuple(
                    (index[r.head_id], index[r.tail_id], r.relation_type.name)
                    for r in annotation_set.relations.all()
                ),
                origin=origin,
            )
        )
    return records


def _with_contents(sets: Any) -> Any:
    return sets.select_related("article").prefetch_related(
        Prefetch("spans", queryset=Span.objects.select_related("entity_type").order_by("start", "end", "id")),
        Prefetch("relations", queryset=Relation.objects.select_related("relation_type")),
    )


def curated_gold(project: Project) -> list[GoldArticle]:
    """The project's curated gold sets as plain records (three queries)."""
    sets = AnnotationSet.objects.filter(
        article__project=project, kind=SetKind.GOLD, status=SetStatus.CURATED
    ).order_by("article_id")
    return _set_records(_with_contents(sets), SetKind.GOLD)


def _curated_gold_exists() -> Exists:
    return Exists(
        AnnotationSet.objects.filter(
            article=OuterRef("article_id"), kind=SetKind.GOLD, status=SetStatus.CURATED
        )
    )


def training_articles(project: Project) -> list[GoldArticle]:
    """Every annotated article once, by article: curated gold where there is one, else the latest
    submitted annotator set."""
    gold = curated_gold(project)
    submitted = (
        AnnotationSet.objects.filter(
            article__project=project, kind=SetKind.ANNOTATOR, status=SetStatus.SUBMITTED
        )
        .annotate(has_gold=_curated_gold_exists())
        .filter(has_gold=False)
        .order_by("article_id", "-updated_at", "-id")
        .distinct()
    )
    latest: dict[int, int] = {}
    for set_id, article_id in submitted.values_list("id", "article_id"):
        latest.setdefault(article_id, set_id)
    chosen = AnnotationSet.objects.filter(pk__in=list(latest.values())).order_by("article_id")
    records = gold + _set_records(_with_contents(chosen), SetKind.ANNOTATOR)
    return sorted(records, key=lambda record: record.article_id)


def count_training_articles(project_id: int) -> int:
    """How many articles `training_articles` would return (one query)."""
    finished = Q(kind=SetKind.GOLD, status=SetStatus.CURATED) | Q(
        kind=SetKind.ANNOTATOR, status=SetStatus.SUBMITTED
    )
    return (
        Article.objects.filter(project_id=project_id)
        .filter(Exists(AnnotationSet.objects.filter(finished, article=OuterRef("pk"))))
        .count()
    )


def fold_of(key: str, folds: int) -> int:
    """The fold of an article whose text has this `content_hash`: stable (an article stays in its fold as
    the project grows), and the same whatever ids the database gave its rows (a restored copy, an
    import into another instance, a test database whose sequences other tests advanced), so the same
    annotations always train and measure the same models."""
    return int(key[:16], 16) % folds


def assign_folds(records: Sequence[GoldArticle], folds: int) -> list[list[int]]:
    """The article ids of each fold, by the articles' texts (never their ids: see `fold_of`); a fold the
    hash left empty takes the article of the highest hash from the largest one."""
    groups: list[list[tuple[str, int]]] = [[] for _ in range(folds)]
    for key, article_id in sorted((content_hash(r.text), r.article_id) for r in records):
        groups[fold_of(key, folds)].append((key, article_id))
    for group in groups:
        if not group:
            largest = max(groups, key=len)
            group.append(largest.pop())
    return [sorted(article_id for _, article_id in group) for group in groups]


# The schedule shrinks as articles grow: what counts is how many updates the model gets, and each epoch
# over more articles gives more. On CoNLL-2003 the held-out F1 peaked at epoch ~15 with 50 documents and
# at epoch 6 with 200 (where patience 10 then ran 10 more epochs for nothing).
EPOCH_BUDGET = 6000  # articles times epochs: the most epochs are about this over the articles
MIN_EPOCHS = 5
PATIENCE_BUDGET = 600  # articles times epochs without a better held-out F1 before training stops
MIN_PATIENCE = 2


def epochs_for(articles: int) -> int:
    """Most epochs: about EPOCH_BUDGET / articles (a handful of articles needs many passes, a thousand a
    few), at least MIN_EPOCHS, at most ANNOTATOR_TRAIN_MAX_EPOCHS; early stopping usually ends sooner."""
    wanted = max(MIN_EPOCHS, math.ceil(EPOCH_BUDGET / max(articles, 1)))
    return max(1, min(settings.ANNOTATOR_TRAIN_MAX_EPOCHS, wanted))


def patience_for(articles: int) -> int:
    """Epochs without a better held-out F1 before training stops: the recipe's patience for a few
    articles (their held-out tenth is noisy), down to MIN_PATIENCE for hundreds."""
    return max(MIN_PATIENCE, min(nlp.RECIPE.patience, math.ceil(PATIENCE_BUDGET / max(articles, 1))))


def _sentences(texts: Sequence[str]) -> list[tuple[tuple[int, int], ...]]:
    splitter = nlp.cached_suggester("sentences", lambda: nlp.build_suggester(rules=False))
    return [analysis.sentences for analysis in splitter.analyse(texts)]


def _relation_items(
    item: GoldArticle, relations: Iterable[tuple[int, int, str]], directed: dict[str, bool]
) -> list[tuple[tuple[int, ...], str]]:
    items: list[tuple[tuple[int, ...], str]] = []
    for head, tail, name in relations:
        h, t = item.entities[head], item.entities[tail]
        if not directed.get(name, True) and (t[0], t[1]) < (h[0], h[1]):
            h, t = t, h
        items.append(((item.article_id, h[0], h[1], t[0], t[1]), name))
    return items


def relation_items(
    gold: Sequence[GoldArticle], schema: ProjectSchema, classifier: PairClassifier | None
) -> tuple[list[tuple[Any, str]], list[tuple[Any, str]]]:
    """(predicted, expected) relations of the rules (and the classifier) given the gold mentions."""
    directed = {r.name: r.directed for r in schema.relations}
    predicted, expected = [], []
    for item, sentences in zip(gold, _sentences([g.text for g in gold]), strict=True):
        mentions = [Mention(s, e, label) for s, e, label in item.entities]
        found = find_relations(item.text, mentions, sentences, schema.relations, classifier)
        predicted += _relation_items(item, ((r.head, r.tail, r.relation) for r in found), directed)
        expected += _relation_items(item, item.relations, directed)
    return predicted, expected


def train_relation_classifier(
    gold: Sequence[GoldArticle], schema: ProjectSchema, *, source: str
) -> tuple[dict[str, Any], PairClassifier] | None:
    """A logistic pair classifier learnt from gold relations (None when the gold has a single class)."""
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression

    features, classes = [], []
    for item, sentences in zip(gold, _sentences([g.text for g in gold]), strict=True):
        mentions = [Mention(s, e, label) for s, e, label in item.entities]
        sentence_of = sentence_index(mentions, sentences)
        related = {(h, t): name for h, t, name in item.relations}
        for i, j in candidate_pairs(mentions, sentence_of):
            if not any(r.allows(mentions[i].label, mentions[j].label) for r in schema.relations):
                continue
            between = sum(1 for m in mentions if mentions[i].end <= m.start and m.end <= mentions[j].start)
            features.append(pair_features(item.text, mentions[i], mentions[j], between))
            if (i, j) in related:
                classes.append(pair_class(related[(i, j)], True))
            elif (j, i) in related:
                classes.append(pair_class(related[(j, i)], False))
            else:
                classes.append(NONE)
    if len(set(classes)) < 2:
        return None
    vectorizer = DictVectorizer()
    matrix = vectorizer.fit_transform(features)
    model = LogisticRegression(max_iter=2000, class_weight="balanced", random_state=0)
    model.fit(matrix, classes)
    labels = [str(c) for c in model.classes_]
    coef = model.coef_.tolist()
    bias = model.intercept_.tolist()
    if len(labels) == 2:  # binary: one row of weights for the second class; the first scores zero
        coef = [[0.0] * len(coef[0]), coef[0]]
        bias = [0.0, bias[0]]
    names = vectorizer.get_feature_names_out()
    weights = {
        "classes": labels,
        "bias": [round(b, 6) for b in bias],
        "features": {
            name: [round(row[k], 6) for row in coef]
            for k, name in enumerate(names)
            if any(abs(row[k]) > 1e-6 for row in coef)
        },
        "threshold": 0.5,
    }
    return weights, PairClassifier(weights, source=source)


def _next_version(project: Project) -> str:
    numbers = [
        int(v)
        for v in SuggesterVersion.objects.filter(project=project, name=TRAINED_NAME).values_list(
            "version", flat=True
        )
        if v.isdigit()
    ]
    return str(max(numbers, default=0) + 1)


def gold_patterns_to_drop(project: Project, records: Sequence[GoldArticle]) -> list[list[str]]:
    """[label, text] of the project's gold mentions that would match poorly as gazetteer patterns: over
    the annotated articles, their text occurs at least PATTERN_MIN_OCCURRENCES times and is that
    entity less than PATTERN_MIN_PRECISION of the time ("Labour" the party in one article, the word
    in many)."""
    patterns = {
        (pattern.label, pattern.text)
        for pattern in gazetteer.project_patterns(project.pk, lang=project.language)
        if pattern.group.startswith("gold:")
    }
    if not patterns or not records:
        return []
    docs = [nlp.TrainingDoc(r.text, r.entities) for r in records]
    counts = nlp.measure_patterns(docs, patterns, lang=project.language)
    return sorted(
        [label, text]
        for (label, text), (right, seen) in counts.items()
        if seen >= PATTERN_MIN_OCCURRENCES and right < PATTERN_MIN_PRECISION * seen
    )


class _Steps:
    """Progress over the trainings (one step per epoch) and the measurements."""

    def __init__(self, progress: Progress | None, trainings: int, epochs: int) -> None:
        self.progress = progress
        self.epochs = epochs
        if progress is not None:
            progress.set_total(trainings * epochs + 1)

    def training(self, what: str) -> Any:
        reached = {"epoch": 0}
        progress = self.progress
        if progress is not None:
            progress.say(what)

        def on_progress(epoch: int, step: int) -> None:
            if progress is not None and epoch > reached["epoch"]:
                progress.advance(epoch - reached["epoch"])
                reached["epoch"] = epoch

        def done() -> None:
            if progress is not None:
                progress.advance(max(self.epochs - reached["epoch"], 0))

        return on_progress, done

    def say(self, message: str) -> None:
        if self.progress is not None:
            self.progress.say(message)


# Training pieces of about a sentence or two: a few hundred documents then give enough updates per
# epoch (measured on CoNLL-2003: 50 documents, F1 0.616 with whole documents, 0.637 with these).
PIECE_CHARS = 200
HELD_OUT_SHARE = 0.1  # of the training articles, kept aside to stop training when it stops improving


def held_out_articles(records: Sequence[GoldArticle]) -> set[int]:
    """The training articles kept aside for early stopping: about a tenth, at least one when there are
    three or more, chosen by a stable hash of their texts (the same articles whenever the texts are the
    same, whatever their ids: see `fold_of`)."""
    if len(records) < 3:
        return set()
    wanted = max(1, round(len(records) * HELD_OUT_SHARE))

    def rank(record: GoldArticle) -> tuple[bytes, int]:
        key = f"held-out:{content_hash(record.text)}"
        return hashlib.sha256(key.encode()).digest(), record.article_id

    ranked = sorted(records, key=rank)
    return {r.article_id for r in ranked[:wanted]}


@dataclass
class Start:
    """What the project's NER starts from: the blank pipeline, or the project's pretrained pipeline
    (`base`) while it proves usable; `refused` says why it did not."""

    base: str | None = None
    refused: str = ""

    def describe(self) -> str:
        if self.base:
            return f"starting from the pretrained pipeline {self.base} (its NER's encoder and hidden layer)"
        if self.refused:
            return f"on the blank pipeline ({self.refused})"
        return "on the blank pipeline"


def training_start(chosen: SuggesterSettings) -> Start:
    """The project's chosen pretrained pipeline (its own, else the site's), if any, as the start."""
    return Start(base=sources.pipeline_choice(chosen).ref or None)


def _train_model(
    records: Sequence[GoldArticle],
    output: Path,
    *,
    lang: str,
    epochs: int,
    steps: _Steps,
    what: str,
    start: Start,
    patience: int,
    held_out: bool = True,
) -> nlp.TrainingResult:
    """Train on the records, early stopping on a held-out tenth after `patience` epochs without better;
    without `held_out`, on every record for exactly `epochs` epochs."""
    held = held_out_articles(records) if held_out else set()
    recipe = dataclasses.replace(nlp.RECIPE, patience=patience)

    def pieces(chosen: Iterable[GoldArticle]) -> list[nlp.TrainingDoc]:
        return [
            piece
            for r in chosen
            for piece in nlp.split_for_training(r.text, r.entities, max_chars=PIECE_CHARS)
        ]

    on_progress, done = steps.training(what)
    train = pieces(r for r in records if r.article_id not in held)
    dev = pieces(r for r in records if r.article_id in held)
    try:
        result = nlp.train_ner(
            train=train, dev=dev, output=output, max_epochs=epochs, lang=lang, on_progress=on_progress,
            base=start.base, recipe=recipe,
        )  # fmt: skip
    except nlp.BaseUnusable as refused:  # train on the blank pipeline, now and for the rest of the job
        start.base, start.refused = None, str(refused)
        steps.say(f"Training on the blank pipeline: {refused}.")
        result = nlp.train_ner(
            train=train, dev=dev, output=output, max_epochs=epochs, lang=lang, on_progress=on_progress,
            recipe=recipe,
        )  # fmt: skip
    done()
    return result


def _entity_items(record: GoldArticle, entities: Iterable[Any]) -> list[tuple[tuple[int, int, int], str]]:
    return [((record.article_id, e.start, e.end), e.label) for e in entities]


def _expected(record: GoldArticle) -> list[tuple[tuple[int, int, int], str]]:
    return [((record.article_id, start, end), label) for start, end, label in record.entities]


Tally = dict[tuple[str, ...], list[int]]


def _tally(
    tallies: tuple[Tally, Tally], record: GoldArticle, candidates: Sequence[nlp.Candidate], merge: nlp.Merge
) -> None:
    """Count each raw candidate the schema can hold against the record's gold: per (source, type), and
    per (source, type, situation)."""
    overall, situated = tallies
    gold = set(record.entities)
    held = nlp.merge.targeted(candidates, merge)
    where = nlp.merge.situations([(c.start, c.end, label, c.source) for c, label in held])
    for (candidate, label), situation in zip(held, where, strict=True):
        right = (candidate.start, candidate.end, label) in gold
        for key in ((candidate.source, label), (candidate.source, label, situation)):
            tally = (overall if len(key) == 2 else situated).setdefault(key, [0, 0])
            tally[0] += right
            tally[1] += 1


def _summed(tallies: Iterable[Tally]) -> Tally:
    total: Tally = {}
    for tally in tallies:
        for key, (right, seen) in tally.items():
            into = total.setdefault(key, [0, 0])
            into[0] += right
            into[1] += seen
    return total


def _measured(tally: Tally) -> dict[Any, nlp.Measured]:
    return {key: nlp.Measured(right, seen) for key, (right, seen) in tally.items()}


def keep_threshold(f1: float) -> float:
    """The precision under which a measured candidate is left out: half the F1 of the combination (an
    item right with probability p raises the expected F1 only when p is above half of it)."""
    return max(nlp.merge.MUTE_BELOW, round(f1 / 2, 4))


@dataclass
class _CrossValidation:
    """What the folds measured: pooled entity and relation predictions (each fold's merge weighed by what
    the other folds measured), each source's raw candidates against the gold, overall and by situation,
    the predictions per article (to compare with the active suggester), and the best epochs."""

    predicted: list[tuple[Any, str]]
    expected: list[tuple[Any, str]]
    relations_predicted: list[tuple[Any, str]]
    relations_expected: list[tuple[Any, str]]
    sources: Tally
    situated: Tally
    by_article: dict[int, list[tuple[Any, str]]]
    best_epochs: list[int]
    held_out_f1s: list[float]  # what each fold's model scored on its own held-out tenth
    first_f1: float  # F1 of the folds' predictions merged as the project merged before this training


def _cross_validate(
    project: Project,
    records: Sequence[GoldArticle],
    folds: list[list[int]],
    *,
    work: Path,
    model_source: str,
    epochs: int,
    patience: int,
    steps: _Steps,
    schema: ProjectSchema,
    start: Start,
) -> _CrossValidation:
    """Train a model per fold on the other folds and run it, with the rules (the gazetteer blind to the
    fold's gold), on the fold's articles. Every source's candidates are measured per fold; then each
    fold's candidates are merged again with what the *other* folds measured (sources overall and by
    situation, and half their F1 as the threshold), so the pooled figures are what the version will do
    on articles its evidence never saw."""
    by_id = {r.article_id: r for r in records}
    fold_tallies: list[tuple[Tally, Tally]] = []
    fold_first: list[tuple[list[tuple[Any, str]], list[tuple[Any, str]]]] = []
    candidates: dict[int, tuple[nlp.Candidate, ...]] = {}
    best_epochs: list[int] = []
    held_out_f1s: list[float] = []
    relations_predicted: list[tuple[Any, str]] = []
    relations_expected: list[tuple[Any, str]] = []
    merge = nlp.merge.NO_MERGE
    for number, fold in enumerate(folds, start=1):
        held = set(fold)
        train = [r for r in records if r.article_id not in held]
        test = [by_id[pk] for pk in fold]
        model: str | None = None
        if any(r.entities for r in train):
            path = work / f"fold-{number}"
            trained = _train_model(
                train, path, lang=project.language, epochs=epochs, steps=steps, start=start, patience=patience,
                what=f"Cross-validation: training fold {number} of {len(folds)} on {len(train)} articles.",
            )  # fmt: skip
            model = str(path)
            if trained.best_epoch:
                best_epochs.append(trained.best_epoch)
                held_out_f1s.append(trained.held_out_f1 or 0.0)
        else:
            steps.training("")[1]()
        spec = SuggesterSpec(
            key=f"fold:{work}:{number}", kind=SuggesterKind.TRAINED, name=TRAINED_NAME, version="fold",
            model=model, rules=True, model_source=model_source if model else None, relations_path=None,
            lang=project.language,
        )  # fmt: skip
        runner = SuggestionRunner(project_id=project.pk, spec=spec, link_limit=0, exclude_articles=fold)
        merge = runner.merge
        analyses = runner.suggester.analyse((r.text for r in test), merge=merge, keep_candidates=True)
        tallies: tuple[Tally, Tally] = ({}, {})
        first: tuple[list[tuple[Any, str]], list[tuple[Any, str]]] = ([], [])
        for record, analysis in zip(test, analyses, strict=True):
            candidates[record.article_id] = analysis.candidates
            _tally(tallies, record, analysis.candidates, merge)
            first[0].extend(_entity_items(record, analysis.entities))
            first[1].extend(_expected(record))
        fold_tallies.append(tallies)
        fold_first.append(first)
        classifier = None
        if sum(len(r.relations) for r in train) >= settings.ANNOTATOR_RELATION_CLASSIFIER_MIN:
            learnt = train_relation_classifier(train, schema, source=f"{model_source}:relations")
            classifier = learnt[1] if learnt is not None else None
        predicted, expected = relation_items(test, schema, classifier)
        relations_predicted += predicted
        relations_expected += expected
        nlp.forget_suggesters()  # the fold's pipelines are not needed again
    decided = sources.measured_evidence(project.pk, SuggesterSettings(project=project, measured={}))
    result = _CrossValidation(
        [], [], relations_predicted, relations_expected,
        _summed(t[0] for t in fold_tallies), _summed(t[1] for t in fold_tallies), {}, best_epochs, held_out_f1s,
        score([i for f in fold_first for i in f[0]], [i for f in fold_first for i in f[1]])[MICRO].f1,
    )  # fmt: skip
    for number, fold in enumerate(folds):
        others = [t for n, t in enumerate(fold_tallies) if n != number] or fold_tallies
        others_first = [f for n, f in enumerate(fold_first) if n != number] or fold_first
        first_f1 = score([i for f in others_first for i in f[0]], [i for f in others_first for i in f[1]])
        fold_merge = nlp.Merge(
            label_map=merge.label_map,
            types=merge.types,
            evidence=_with_decisions(decided, _measured(_summed(t[0] for t in others))),
            situated=_measured(_summed(t[1] for t in others)),
            mute_below=keep_threshold(first_f1[MICRO].f1),
        )
        for pk in fold:
            record = by_id[pk]
            found = _entity_items(record, nlp.merge_candidates(candidates[pk], fold_merge, record.text))
            result.by_article[pk] = found
            result.predicted += found
            result.expected += _expected(record)
    return result


def _with_decisions(
    decided: dict[tuple[str, str], nlp.Measured], measured: dict[Any, nlp.Measured]
) -> dict[tuple[str, str], nlp.Measured]:
    """The reviewers' decisions plus what was measured on gold, per (source, type)."""
    total = dict(decided)
    for key, found in measured.items():
        had = total.get(key, nlp.Measured(0, 0))
        total[key] = nlp.Measured(had.right + found.right, had.total + found.total)
    return total


def _active_predictions(
    project: Project, active: SuggesterVersion, records: Sequence[GoldArticle], folds: list[list[int]]
) -> dict[int, list[tuple[Any, str]]]:
    """The active suggester's entities on the given articles, its gazetteer blind to each fold's gold."""
    wanted = {r.article_id: r for r in records}
    spec = spec_for(active, project.language)
    found: dict[int, list[tuple[Any, str]]] = {}
    for fold in folds:
        test = [wanted[pk] for pk in fold if pk in wanted]
        if not test:
            continue
        runner = SuggestionRunner(project_id=project.pk, spec=spec, link_limit=0, exclude_articles=fold)
        for record, analysis in zip(
            test, runner.suggester.analyse((r.text for r in test), merge=runner.merge), strict=True
        ):
            found[record.article_id] = _entity_items(record, analysis.entities)
    nlp.forget_suggesters()
    return found


def _refuse_unless_enough(records: Sequence[GoldArticle], needed: int) -> None:
    if len(records) < needed:
        raise TrainingRefused(
            f"Training needs at least {needed} annotated articles (curated gold, or submitted sets); this "
            f"project has {len(records)}. Annotate more first."
        )
    if not any(item.entities for item in records):
        raise TrainingRefused("The annotated articles have no entities to learn from.")


def train_suggester(*, project: Project, by: User | None, progress: Progress | None = None) -> TrainingReport:
    """Train, cross-validate and record a new version of the project's model; activate it when it
    measures better than the active suggester on the articles neither learnt from."""
    # Measured with the project's figures as they are now, never a merge this process made for a request
    # within the last minute (MERGE_TTL): the same annotations and decisions measure the same.
    forget_merges()
    chosen = sources.project_settings(project)
    records = training_articles(project)
    _refuse_unless_enough(records, max(chosen.learn_after, 2))
    ids = [r.article_id for r in records]
    k = max(2, min(chosen.folds, len(records)))
    folds = assign_folds(records, k)
    schema = ProjectSchema.load(project.pk)
    version_number = _next_version(project)
    model_source = f"{SuggesterKind.TRAINED}:{TRAINED_NAME}-{version_number}"
    output = settings.DATA_DIR / "suggesters" / f"project-{project.pk}" / f"{TRAINED_NAME}-{version_number}"
    epochs, patience = epochs_for(len(records)), patience_for(len(records))
    steps = _Steps(progress, k + 1, epochs)
    steps.say(f"Learning from {len(records)} annotated articles: {k}-fold cross-validation, then the model.")

    dropped = gold_patterns_to_drop(project, records)
    chosen.measured = {**(chosen.measured or {}), "dropped_gold_patterns": dropped}
    chosen.save(update_fields=["measured"])
    active = ensure_active_suggester(project=project)
    start = training_start(chosen)
    with tempfile.TemporaryDirectory(prefix="annotator-cv-") as work:
        cv = _cross_validate(
            project, records, folds, work=Path(work), model_source=model_source, epochs=epochs,
            patience=patience, steps=steps, schema=schema, start=start,
        )  # fmt: skip
    seen_by_active = (
        set(active.trained_on.get("article_ids", [])) if active.kind == SuggesterKind.TRAINED else set()
    )
    unseen = [r for r in records if r.article_id not in seen_by_active]
    steps.say(f"Measuring {active} on the {len(unseen)} articles it did not learn from.")
    baseline_items = _active_predictions(project, active, unseen, folds)
    expected_unseen = [item for r in unseen for item in _expected(r)]
    candidate_scores = score(
        [i for r in unseen for i in cv.by_article.get(r.article_id, [])], expected_unseen
    )
    baseline_scores = score(
        [i for r in unseen for i in baseline_items.get(r.article_id, [])], expected_unseen
    )

    # The folds already found how many epochs this many articles want: the final model trains that
    # long on every article (none held out, no epochs spent waiting for a better score).
    final_epochs = math.ceil(sum(cv.best_epochs) / len(cv.best_epochs)) if cv.best_epochs else 0
    result = _train_model(
        records, output, lang=project.language, epochs=final_epochs or epochs, steps=steps, start=start,
        what=f"Training the model on all {len(records)} articles"
        + (f" for {final_epochs} epochs (the folds' best)." if final_epochs else "."),
        held_out=not final_epochs, patience=patience,
    )  # fmt: skip
    relation_gold = sum(len(r.relations) for r in records)
    if relation_gold >= settings.ANNOTATOR_RELATION_CLASSIFIER_MIN:
        learnt = train_relation_classifier(records, schema, source=f"{model_source}:relations")
        if learnt is not None:
            (output / RELATIONS_FILE).write_text(json.dumps(learnt[0]), encoding="utf-8")
    nlp.forget_suggesters()

    cv_scores = score(cv.predicted, cv.expected)
    relations = score(cv.relations_predicted, cv.relations_expected)
    f1, baseline_f1 = candidate_scores[MICRO].f1, baseline_scores[MICRO].f1
    activated = bool(unseen) and f1 > baseline_f1
    metrics: dict[str, Any] = {
        "entities": as_dicts(cv_scores),
        "folds": k,
        "relations": as_dicts(relations),
        "relations_by": "rules and classifier"
        if relation_gold >= settings.ANNOTATOR_RELATION_CLASSIFIER_MIN
        else "rules",
        "baseline": {
            "suggester_version": active.pk,
            "name": str(active),
            "entities": as_dicts(baseline_scores),
        },
        "compared": {"articles": len(unseen), "f1": round(f1, 4), "baseline_f1": round(baseline_f1, 4)},
        "sources": {"|".join(key): tally for key, tally in sorted(cv.sources.items())},
        "situated": {"|".join(key): tally for key, tally in sorted(cv.situated.items())},
        "merged_before_f1": round(cv.first_f1, 4),
    }
    origins = [r.origin for r in records]
    version = SuggesterVersion.objects.create(
        project=project,
        name=TRAINED_NAME,
        version=version_number,
        kind=SuggesterKind.TRAINED,
        description=(
            f"spaCy NER trained on {len(records)} annotated articles"
            + (f" from {start.base}" if start.base else "")
            + ", with the gazetteer; "
            f"{k}-fold cross-validated."
        ),
        config={
            "rules": True,
            "recipe": (
                f"spaCy NER {start.describe()}; shuffled pieces of about {PIECE_CHARS} characters; "
                f"{dataclasses.replace(nlp.RECIPE, patience=patience).describe(architecture=not start.base)}"
                + (
                    f"; the final model {final_epochs} epochs (the folds' best) on every article"
                    if final_epochs
                    else ""
                )
            ),
            "base": start.base or "",
            "epochs": epochs,
            "patience": patience,
            "fold_best_epochs": cv.best_epochs,
            "fold_held_out_f1": cv.held_out_f1s,
            "final_epochs": final_epochs,
            "epochs_run": result.epochs,
            "best_epoch": result.best_epoch,
            "held_out_f1": result.held_out_f1,
            "language": project.language,
            "source": model_source,
        },
        trained_on={
            "articles": len(records),
            "gold_articles": origins.count(SetKind.GOLD),
            "annotator_articles": origins.count(SetKind.ANNOTATOR),
            "article_ids": ids,
            "entities": sum(len(r.entities) for r in records),
            "relations": relation_gold,
            "labels": list(result.labels),
            "skipped_entities": result.skipped_entities,
        },
        metrics=metrics,
        path=str(output),
        created_by=by,
    )
    chosen.measured = {
        **chosen.measured,
        "sources": _kept_sources(chosen.measured.get("sources"), metrics["sources"]),
        "situated": _kept_situated(
            chosen.measured.get("situated"),
            model_source,
            {"f1": round(cv_scores[MICRO].f1, 4), "evidence": metrics["situated"]},
        ),
        "version": version.pk,
    }
    chosen.save(update_fields=["measured"])
    forget_merges()  # the sources were just measured: merges made from now on use the figures
    if activated:
        activate_suggester(suggester_version=version, by=by)
    if progress is not None:
        progress.advance()
        if not unseen:
            verdict = f"{active} stays active (it learnt from every article: nothing new to compare on)"
        else:
            verdict = "it is now active" if activated else f"{active} stays active"
        progress.say(
            f"Trained {version}: cross-validated F1 {cv_scores[MICRO].f1:.3f}; on {len(unseen)} articles "
            f"{f1:.3f} against {baseline_f1:.3f} for {active}; {verdict}."
        )
    return TrainingReport(version, activated, f1, baseline_f1, str(active), len(unseen))


KEEP_SITUATED = 10  # trained versions whose situated evidence the project keeps (the newest)


def _kept_sources(before: dict[str, list[int]] | None, now: dict[str, list[int]]) -> dict[str, list[int]]:
    """The sources just measured, and what earlier trainings measured of the models they made (an
    earlier version, still active when a new one is not better, keeps its evidence)."""
    kept = {
        key: tally
        for key, tally in (before or {}).items()
        if nlp.family(key.rpartition("|")[0]) == "model" and key not in now
    }
    return {**kept, **now}


def _kept_situated(
    before: dict[str, Any] | None, model_source: str, measured: dict[str, Any]
) -> dict[str, Any]:
    """Situated evidence per trained model source: this version's, and the newest earlier ones'."""
    kept = [(source, value) for source, value in (before or {}).items() if source != model_source]
    return dict([*kept[-(KEEP_SITUATED - 1) :], (model_source, measured)])


@transaction.atomic
def activate_suggester(*, suggester_version: SuggesterVersion, by: User | None) -> SuggesterVersion:
    """Make this version the project's active suggester (the previous one stays, inactive)."""
    SuggesterVersion.objects.filter(project_id=suggester_version.project_id, is_active=True).exclude(
        pk=suggester_version.pk
    ).update(is_active=False)
    SuggesterVersion.objects.filter(pk=suggester_version.pk).update(is_active=True)
    suggester_version.is_active = True
    return suggester_version
