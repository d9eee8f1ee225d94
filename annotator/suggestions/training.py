"""Model in the loop: train a suggester from curated gold, measure it on held-out gold, switch versions.

A training run holds out part of the gold articles, trains spaCy NER (and, with enough gold relations, a
relation pair classifier) on the rest, and measures the new suggester and the active one on the same
held-out articles, each with a gazetteer that does not know those articles' gold mentions. The new
version replaces the active one only when it measures better; a manager can activate any version.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.db.models import Prefetch

from annotator.annotations.models import AnnotationSet, Relation, SetKind, SetStatus, Span
from annotator.core.errors import DomainError
from annotator.suggestions import nlp
from annotator.suggestions.engine import (
    RELATIONS_FILE,
    ProjectSchema,
    SuggesterSpec,
    SuggestionRunner,
    spec_for,
)
from annotator.suggestions.generate import ensure_active_suggester
from annotator.suggestions.models import SuggesterKind, SuggesterVersion
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


class TrainingRefused(DomainError):
    """There is not enough gold to train (or to measure what training would make)."""

    code = "not_enough_gold"


@dataclass(frozen=True)
class GoldArticle:
    article_id: int
    text: str
    entities: tuple[tuple[int, int, str], ...]
    relations: tuple[tuple[int, int, str], ...]  # indexes into `entities`, with the relation type


@dataclass(frozen=True)
class TrainingReport:
    version: SuggesterVersion
    activated: bool
    f1: float
    baseline_f1: float
    baseline: str


def curated_gold(project: Project) -> list[GoldArticle]:
    """The project's curated gold sets as plain records (three queries)."""
    sets = (
        AnnotationSet.objects.filter(article__project=project, kind=SetKind.GOLD, status=SetStatus.CURATED)
        .select_related("article")
        .prefetch_related(
            Prefetch("spans", queryset=Span.objects.select_related("entity_type").order_by("start", "end")),
            Prefetch("relations", queryset=Relation.objects.select_related("relation_type")),
        )
        .order_by("article_id")
    )
    gold = []
    for annotation_set in sets:
        spans = list(annotation_set.spans.all())
        index = {span.pk: i for i, span in enumerate(spans)}
        gold.append(
            GoldArticle(
                article_id=annotation_set.article_id,
                text=annotation_set.article.text,
                entities=tuple((s.start, s.end, s.entity_type.name) for s in spans),
                relations=tuple(
                    (index[r.head_id], index[r.tail_id], r.relation_type.name)
                    for r in annotation_set.relations.all()
                ),
            )
        )
    return gold


def holdout_split(project_id: int, article_ids: Sequence[int], share: float) -> tuple[list[int], list[int]]:
    """(train, held out): a stable split (the same articles stay held out as gold grows, mostly)."""
    ranked = sorted(article_ids, key=lambda pk: hashlib.sha256(f"{project_id}:{pk}".encode()).hexdigest())
    held = max(1, math.ceil(len(ranked) * share))
    return sorted(ranked[held:]), sorted(ranked[:held])


def measure_entities(
    *, project_id: int, spec: SuggesterSpec, gold: Sequence[GoldArticle], exclude_articles: Iterable[int]
) -> dict[str, dict[str, Any]]:
    """P/R/F1 per label of a suggester on gold articles, its gazetteer blind to `exclude_articles`."""
    runner = SuggestionRunner(
        project_id=project_id, spec=spec, link_limit=0, exclude_articles=exclude_articles
    )
    predicted, expected = [], []
    for item, suggested in zip(gold, runner.run(g.text for g in gold), strict=True):
        predicted += [((item.article_id, e.start, e.end), e.entity_type) for e in suggested.entities]
        expected += [((item.article_id, start, end), label) for start, end, label in item.entities]
    return as_dicts(score(predicted, expected))


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


def measure_relations(
    gold: Sequence[GoldArticle], schema: ProjectSchema, classifier: PairClassifier | None
) -> dict[str, dict[str, Any]]:
    """P/R/F1 per relation type of the rules (and the classifier) given the gold mentions."""
    directed = {r.name: r.directed for r in schema.relations}
    predicted, expected = [], []
    for item, sentences in zip(gold, _sentences([g.text for g in gold]), strict=True):
        mentions = [Mention(s, e, label) for s, e, label in item.entities]
        found = find_relations(item.text, mentions, sentences, schema.relations, classifier)
        predicted += _relation_items(item, ((r.head, r.tail, r.relation) for r in found), directed)
        expected += _relation_items(item, item.relations, directed)
    return as_dicts(score(predicted, expected))


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


def train_suggester(*, project: Project, by: User | None, progress: Progress | None = None) -> TrainingReport:
    """Train, measure and record a new suggester version; activate it when it measures better."""
    gold = curated_gold(project)
    needed = settings.ANNOTATOR_TRAIN_MIN_ARTICLES
    if len(gold) < max(needed, 2):
        raise TrainingRefused(
            f"Training needs at least {max(needed, 2)} curated gold articles; this project has {len(gold)}. "
            "Curate more gold first."
        )
    if not any(item.entities for item in gold):
        raise TrainingRefused("The curated gold has no entities to learn from.")
    train_ids, test_ids = holdout_split(
        project.pk, [g.article_id for g in gold], settings.ANNOTATOR_TRAIN_HOLDOUT
    )
    train = [g for g in gold if g.article_id in set(train_ids)]
    test = [g for g in gold if g.article_id in set(test_ids)]
    schema = ProjectSchema.load(project.pk)
    version_number = _next_version(project)
    output = settings.DATA_DIR / "suggesters" / f"project-{project.pk}" / f"{TRAINED_NAME}-{version_number}"
    epochs = settings.ANNOTATOR_TRAIN_MAX_EPOCHS
    if progress is not None:
        progress.set_total(epochs + 1)
        progress.say(f"Training on {len(train)} gold articles, {len(test)} held out.")

    pieces = [piece for g in train for piece in nlp.split_for_training(g.text, g.entities)]
    dev = pieces[: max(1, min(50, len(pieces) // 10))]
    reached = {"epoch": 0}

    def on_progress(epoch: int, step: int) -> None:
        if progress is not None and epoch > reached["epoch"]:
            progress.advance(epoch - reached["epoch"])
            reached["epoch"] = epoch
            progress.say(f"Training: epoch {epoch + 1} of {epochs}.")

    result = nlp.train_ner(train=pieces, dev=dev, output=output, max_epochs=epochs, on_progress=on_progress)
    if progress is not None:
        progress.advance(max(epochs - reached["epoch"], 0))
        progress.say("Measuring on held-out gold.")

    model_source = f"{SuggesterKind.TRAINED}:{TRAINED_NAME}-{version_number}"
    relation_gold = sum(len(g.relations) for g in train)
    classifier = None
    metrics: dict[str, Any] = {"heldout_articles": len(test)}
    if relation_gold >= settings.ANNOTATOR_RELATION_CLASSIFIER_MIN:
        learnt = train_relation_classifier(train, schema, source=f"{model_source}:relations")
        if learnt is not None:
            weights, classifier = learnt
            (output / RELATIONS_FILE).write_text(json.dumps(weights), encoding="utf-8")
    metrics["relations"] = measure_relations(test, schema, classifier)
    metrics["relations_by"] = "rules and classifier" if classifier else "rules"

    candidate = SuggesterSpec(
        key=f"candidate:{output}",
        kind=SuggesterKind.TRAINED,
        name=TRAINED_NAME,
        version=version_number,
        model=str(output),
        rules=True,
        label_map=(),
        model_source=model_source,
        relations_path=None,
    )
    metrics["entities"] = measure_entities(
        project_id=project.pk, spec=candidate, gold=test, exclude_articles=test_ids
    )
    active = ensure_active_suggester(project=project)
    baseline = measure_entities(
        project_id=project.pk, spec=spec_for(active), gold=test, exclude_articles=test_ids
    )
    metrics["baseline"] = {"suggester_version": active.pk, "name": str(active), "entities": baseline}
    nlp.forget_suggesters()  # the measuring pipelines were built for this run only

    version = SuggesterVersion.objects.create(
        project=project,
        name=TRAINED_NAME,
        version=version_number,
        kind=SuggesterKind.TRAINED,
        description=f"spaCy NER trained on {len(train)} curated gold articles, with the gazetteer.",
        config={
            "rules": True,
            "recipe": "spacy init config -p ner -o efficiency (CPU)",
            "max_epochs": epochs,
        },
        trained_on={
            "articles": len(train),
            "heldout_articles": len(test),
            "heldout_ids": test_ids,
            "entities": sum(len(g.entities) for g in train),
            "relations": relation_gold,
            "labels": list(result.labels),
            "skipped_entities": result.skipped_entities,
        },
        metrics=metrics,
        path=str(output),
        created_by=by,
    )
    f1 = metrics["entities"][MICRO]["f1"]
    baseline_f1 = baseline[MICRO]["f1"]
    activated = f1 > baseline_f1
    if activated:
        activate_suggester(suggester_version=version, by=by)
    if progress is not None:
        progress.advance()
        verdict = "it is now active" if activated else f"{active} stays active"
        progress.say(f"Trained {version}: F1 {f1:.3f} against {baseline_f1:.3f} for {active}; {verdict}.")
    return TrainingReport(version, activated, f1, baseline_f1, str(active))


@transaction.atomic
def activate_suggester(*, suggester_version: SuggesterVersion, by: User | None) -> SuggesterVersion:
    """Make this version the project's active suggester (the previous one stays, inactive)."""
    SuggesterVersion.objects.filter(project_id=suggester_version.project_id, is_active=True).exclude(
        pk=suggester_version.pk
    ).update(is_active=False)
    SuggesterVersion.objects.filter(pk=suggester_version.pk).update(is_active=True)
    suggester_version.is_active = True
    return suggester_version
