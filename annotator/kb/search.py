"""Candidate search: which KB entities a mention may refer to, best first. One entry point for every caller.

This is the exact-alias backend: the mention's normalised form against the aliases' normalised forms,
ranked by the entity's prior and by whether its type fits the span's type. Fuzzy matching (pg_trgm on
PostgreSQL, rapidfuzz on SQLite) and context overlap plug in behind the same function.
"""

from __future__ import annotations

from dataclasses import dataclass

from annotator.kb.models import Alias
from annotator.kb.normalize import normalize_alias

# How much each signal weighs in a candidate's score (they sum to 1, so scores stay in [0, 1]).
NAME_WEIGHT, PRIOR_WEIGHT, TYPE_WEIGHT = 0.6, 0.25, 0.15


@dataclass(frozen=True)
class Candidate:
    entity_id: int
    kb_id: str
    name: str
    description: str
    type: str
    prior: float
    matched_alias: str
    name_similarity: float  # 1.0 for an exact alias match
    score: float


def find_candidates(
    *, project_id: int, mention: str, entity_type: str | None = None, limit: int = 10
) -> list[Candidate]:
    """KB entities of the project's knowledge bases that the mention may name, best first.

    `entity_type` is the span's type name (e.g. PERSON): entities of that type rank higher, entities of
    another type lower, untyped entities in between. Merged-away entities are never candidates.
    """
    key = normalize_alias(mention)
    if not key:
        return []
    aliases = (
        Alias.objects.filter(
            knowledge_base__project_id=project_id, normalized=key, entity__merged_into__isnull=True
        )
        .select_related("entity")
        .order_by("entity_id", "text")
    )
    best: dict[int, Candidate] = {}
    for alias in aliases:
        entity = alias.entity
        if entity.pk in best:
            continue
        fit = 0.5 if not entity_type or not entity.type else float(entity.type == entity_type)
        score = NAME_WEIGHT * 1.0 + PRIOR_WEIGHT * entity.prior + TYPE_WEIGHT * fit
        best[entity.pk] = Candidate(
            entity_id=entity.pk,
            kb_id=entity.kb_id,
            name=entity.name,
            description=entity.description,
            type=entity.type,
            prior=entity.prior,
            matched_alias=alias.text,
            name_similarity=1.0,
            score=round(score, 4),
        )
    return sorted(best.values(), key=lambda c: (-c.score, c.name, c.kb_id))[:limit]
