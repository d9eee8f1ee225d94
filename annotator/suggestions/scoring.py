"""Precision, recall and F1 of predictions against gold, per label and over all labels. Pure Python."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable
from dataclasses import dataclass

MICRO = "ALL"  # the label of the figures over every label


@dataclass(frozen=True)
class Score:
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
        }


def score(
    predicted: Iterable[tuple[Hashable, str]], gold: Iterable[tuple[Hashable, str]]
) -> dict[str, Score]:
    """Scores of (item, label) predictions against (item, label) gold, exact matches only, per label
    and under MICRO. An item predicted with the wrong label counts as a false positive of the label
    predicted and a false negative of the gold label."""
    predicted_set, gold_set = set(predicted), set(gold)
    tp: Counter[str] = Counter(label for item, label in predicted_set & gold_set)
    fp: Counter[str] = Counter(label for item, label in predicted_set - gold_set)
    fn: Counter[str] = Counter(label for item, label in gold_set - predicted_set)
    labels = sorted(set(tp) | set(fp) | set(fn))
    scores = {label: Score(tp[label], fp[label], fn[label]) for label in labels}
    scores[MICRO] = Score(sum(tp.values()), sum(fp.values()), sum(fn.values()))
    return scores


def as_dicts(scores: dict[str, Score]) -> dict[str, dict[str, float | int]]:
    return {label: value.as_dict() for label, value in scores.items()}
