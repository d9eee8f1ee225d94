"""Candidate search: which KB entities a mention may refer to, best first. One entry point for every caller.

Exact alias matches first: the mention's normalised form against the aliases' normalised forms. When
that finds nothing, or nothing of a type that fits the span, fuzzy matches join them (pg_trgm on
PostgreSQL, an FTS5 trigram index on SQLite, both re-scored with rapidfuzz; see `retrieval.py`).
Candidates are ranked by name similarity, prior, type fit and, when the caller passes the text around
the mention, its overlap with the entity's description (see `scoring.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

from annotator.kb import scoring
from annotator.kb.models import KBEntity, KnowledgeBase
from annotator.kb.normalize import normalize_alias
from annotator.kb.retrieval import (
    AliasHit,
    exact_aliases,
    exact_aliases_many,
    prefix_aliases,
    similar_aliases,
)

# Kept for callers that read the weights from here.
NAME_WEIGHT, PRIOR_WEIGHT, TYPE_WEIGHT = scoring.NAME_WEIGHT, scoring.PRIOR_WEIGHT, scoring.TYPE_WEIGHT
# A fuzzy match less similar than this is noise, not a candidate.
MIN_FUZZY_SIMILARITY = 0.6
MAX_LIMIT = 100


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
    knowledge_base_id: int = 0
    type_fit: float = 0.5  # 1 same type as the span, 0 another type, 0.5 unknown
    context_overlap: float | None = None  # None when no context was given


def find_candidates(
    *,
    project_id: int,
    mention: str,
    entity_type: str | None = None,
    limit: int = 10,
    context: str = "",
) -> list[Candidate]:
    """KB entities of the project's knowledge bases that the mention may name, best first.

    `entity_type` is the span's type name (e.g. PERSON): entities of that type rank higher, entities of
    another type lower, untyped entities in between. `context` is text around the mention (a sentence,
    a paragraph); entities whose description shares its words rank higher. Merged-away entities are
    never candidates. At most `limit` (up to 100) candidates.
    """
    key = normalize_alias(mention)
    limit = max(0, min(limit, MAX_LIMIT))
    if not key or not limit:
        return []
    kb_ids = list(KnowledgeBase.objects.filter(project_id=project_id).values_list("pk", flat=True))
    if not kb_ids:
        return []
    return _ranked(kb_ids, key, exact_aliases(kb_ids, key), entity_type, limit, context)


def find_candidates_many(
    *, project_id: int, mentions: list[tuple[str, str | None]], limit: int = 10
) -> dict[tuple[str, str | None], list[Candidate]]:
    """`find_candidates` for many (mention, type) pairs at once, without context: the exact aliases of
    all of them in one query (per 500 names) and their entities in one more; the fuzzy search only for
    those with no exact match of a fitting type. Pre-annotation looks a batch of articles up so."""
    limit = max(0, min(limit, MAX_LIMIT))
    result: dict[tuple[str, str | None], list[Candidate]] = {pair: [] for pair in mentions}
    kb_ids = list(KnowledgeBase.objects.filter(project_id=project_id).values_list("pk", flat=True))
    if not kb_ids or not limit:
        return result
    keys = {pair: normalize_alias(pair[0]) for pair in mentions}
    exact = exact_aliases_many(kb_ids, [key for key in keys.values() if key])
    known = _entities({hit.entity_id: (hit, 1.0) for hits in exact.values() for hit in hits})
    for pair, key in keys.items():
        if key:
            result[pair] = _ranked(kb_ids, key, exact.get(key, []), pair[1], limit, "", known)
    return result


def _ranked(
    kb_ids: list[int],
    key: str,
    exact: list[AliasHit],
    entity_type: str | None,
    limit: int,
    context: str,
    known: dict[int, KBEntity] | None = None,
) -> list[Candidate]:
    matches: dict[int, tuple[AliasHit, float]] = {}
    for hit in exact:
        matches.setdefault(hit.entity_id, (hit, 1.0))
    entities = _entities(matches, known={pk: e for pk, e in (known or {}).items() if pk in matches})
    if not any(scoring.type_fit(entity_type, entity.type) >= 0.5 for entity in entities.values()):
        for hit in similar_aliases(kb_ids, key):
            similarity = scoring.name_similarity(key, hit.normalized)
            seen = matches.get(hit.entity_id)
            if similarity >= MIN_FUZZY_SIMILARITY and (seen is None or similarity > seen[1]):
                matches[hit.entity_id] = (hit, similarity)
        entities = _entities(matches, known=entities)
    words = scoring.context_words(context) if context.strip() else None
    ranked = [
        _candidate(entities[entity_id], hit, similarity, entity_type, words)
        for entity_id, (hit, similarity) in matches.items()
        if entity_id in entities
    ]
    return sorted(ranked, key=lambda c: (-c.score, c.name, c.kb_id))[:limit]


def _entities(
    matches: dict[int, tuple[AliasHit, float]], known: dict[int, KBEntity] | None = None
) -> dict[int, KBEntity]:
    """The matched entities that are candidates (not merged away), read once each."""
    known = dict(known or {})
    missing = matches.keys() - known.keys()
    if missing:
        fields = ["id", "kb_id", "name", "description", "type", "prior", "knowledge_base_id"]
        known.update(
            (entity.pk, entity) for entity in KBEntity.objects.active().filter(pk__in=missing).only(*fields)
        )
    return known


def _candidate(
    entity: KBEntity, hit: AliasHit, similarity: float, entity_type: str | None, words: frozenset[str] | None
) -> Candidate:
    fit = scoring.type_fit(entity_type, entity.type)
    overlap = None if words is None else round(scoring.context_overlap(words, entity.description), 4)
    return Candidate(
        entity_id=entity.pk,
        kb_id=entity.kb_id,
        name=entity.name,
        description=entity.description,
        type=entity.type,
        prior=entity.prior,
        matched_alias=hit.text,
        name_similarity=round(similarity, 4),
        score=scoring.score(similarity=similarity, prior=entity.prior, fit=fit, overlap=overlap),
        knowledge_base_id=entity.knowledge_base_id,
        type_fit=fit,
        context_overlap=overlap,
    )


def search_entities(*, knowledge_base_id: int, query: str, limit: int = 50) -> list[KBEntity]:
    """The browse page's search: the entity with that id, then names that start with the query
    (alphabetically), then names like it (typos), best first. Merged-away entities are left out."""
    key = normalize_alias(query)
    if not key:
        return []
    kb_ids = [knowledge_base_id]
    order: dict[int, None] = dict.fromkeys(
        KBEntity.objects.active()
        .filter(knowledge_base_id=knowledge_base_id, kb_id=query.strip())
        .values_list("pk", flat=True)
    )
    for hit in prefix_aliases(kb_ids, key, limit=limit * 4):
        order.setdefault(hit.entity_id)
    if len(order) < limit:
        similar = sorted(
            similar_aliases(kb_ids, key), key=lambda hit: -scoring.name_similarity(key, hit.normalized)
        )
        for hit in similar:
            if scoring.name_similarity(key, hit.normalized) >= MIN_FUZZY_SIMILARITY:
                order.setdefault(hit.entity_id)
    wanted = list(order)[:limit]
    entities = KBEntity.objects.active().filter(pk__in=wanted).prefetch_related("aliases").in_bulk()
    return [entities[pk] for pk in wanted if pk in entities]
