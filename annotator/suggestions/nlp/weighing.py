"""What a pretrained pipeline in `add` mode is worth next to the project's other sources, measured on gold.

Pure Python, no spaCy. For each gold article, the other sources settle among themselves as the merge
settles them; each of the pipeline's entities is then put in its relation to what they settled (a gap,
a gap where it does not read as a name, the same span, the same span with another type, wider, narrower
or crossing: see `merge.relation`), and
counted right or wrong against the gold, as are the entities it would displace. The merge then lays the
pipeline over the other sources by these counts (`Merge.layered`), and leaves out what is measured to
lose more than it gains: a type the pipeline gets wrong here, or its entities in the gaps the gazetteer
and rules leave, when the project's texts follow other guidelines than the pipeline's training data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from annotator.suggestions.nlp.merge import (
    ANY_TYPE,
    MUTE_BELOW,
    SAME,
    Candidate,
    Layered,
    Measured,
    Merge,
    is_pipeline,
    mapped,
    relation,
    settle,
)

Gold = set[tuple[int, int, str]]  # (start, end, project type) of one article


@dataclass
class LayerTally:
    """Counts over the gold articles seen so far: per (pipeline source, project type, relation), its
    entities [right, total] and the other sources' entities they overlap [right, total]; and how the
    other sources alone scored (for the threshold: half their F1)."""

    counts: dict[tuple[str, str, str], list[int]] = field(default_factory=dict)
    others_right: int = 0
    others_found: int = 0
    gold: int = 0

    def add(self, candidates: Iterable[Candidate], gold: Gold, merge: Merge, text: str | None = None) -> None:
        """Count one article's candidates (every source's, unmerged) against its gold; with the article's
        text, the gaps where the pipeline's entity does not read as a name are counted apart (UNNAMED),
        as the merge tells them apart."""
        scored = mapped(candidates, merge)
        over = [c for c in scored if is_pipeline(c.source)]
        settled = settle([c for c in scored if not is_pipeline(c.source)])
        self.gold += len(gold)
        self.others_found += len(settled)
        self.others_right += sum((c.start, c.end, c.label) in gold for c in settled)
        for entity in over:
            kind, overlapped = relation(entity, settled, text)
            if kind == SAME:
                continue
            tally = self.counts.setdefault((entity.source, entity.label, kind), [0, 0, 0, 0])
            tally[0] += (entity.start, entity.end, entity.label) in gold
            tally[1] += 1
            tally[2] += sum((c.start, c.end, c.label) in gold for c in overlapped)
            tally[3] += len(overlapped)

    @property
    def others_f1(self) -> float:
        found = self.others_found + self.gold
        return 2 * self.others_right / found if found else 0.0

    def as_json(self, articles: int) -> dict[str, Any]:
        """What the project stores: see `layered_evidence`."""
        return {
            "articles": articles,
            "others_f1": round(self.others_f1, 4),
            "keep": keep_above(self.others_f1),
            "evidence": {"|".join(key): tally for key, tally in sorted(self.counts.items())},
        }


def keep_above(f1: float) -> float:
    """Half the F1 (an item right with probability p raises the expected F1 only when p is above it)."""
    return max(MUTE_BELOW, round(f1 / 2, 4))


def layered_evidence(stored: Mapping[str, Any] | None) -> tuple[dict[tuple[str, str, str], Layered], float]:
    """The merge's `layered` and `layered_keep` from what `LayerTally.as_json` stored, with each relation's
    counts over all types too (what decides for a type measured too few times on its own)."""
    if not stored:
        return {}, MUTE_BELOW
    evidence = {}
    pooled: dict[tuple[str, str, str], list[int]] = {}
    for key, counts in (stored.get("evidence") or {}).items():
        source, label, kind = key.rsplit("|", 2)
        right, total, displaced_right, displaced = map(int, counts)
        evidence[(source, label, kind)] = Layered(
            Measured(right, total), Measured(displaced_right, displaced)
        )
        into = pooled.setdefault((source, ANY_TYPE, kind), [0, 0, 0, 0])
        for index, value in enumerate((right, total, displaced_right, displaced)):
            into[index] += value
    for key, (right, total, displaced_right, displaced) in pooled.items():
        evidence[key] = Layered(Measured(right, total), Measured(displaced_right, displaced))
    return evidence, float(stored.get("keep") or MUTE_BELOW)
