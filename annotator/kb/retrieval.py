"""Finding aliases by name, indexed on both databases: exact, by prefix, and by trigram similarity.

These return alias hits only; `search.py` turns them into ranked candidates. Each call is one or a few
indexed queries, however many aliases the knowledge bases hold.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection

from annotator.kb.models import Alias
from annotator.kb.search_index import FTS_TABLE, FTS_VOCAB_TABLE

# Fuzzy search looks at this many aliases at most, the most similar first.
FUZZY_POOL = 50
# PostgreSQL: pg_trgm's `%` keeps aliases whose trigram similarity is at least the threshold, and the GIN
# index's work shrinks as it rises (see `trigram_threshold`). A typo in a short name breaks most of its few
# trigrams ("minks" / "minsk": 0.33): no key gets a threshold under this.
LOWEST_THRESHOLD = 0.3
# The edits a mention may have and still find its alias: each changes at most three of its trigrams.
EDITS = 2
_TRIGRAM_WORD = re.compile(r"\w+")
# SQLite: trigrams are read rarest first; at least LEAST of them, then more while the posting lists read
# stay under BUDGET rows (and MOST trigrams at the most). The aliases sharing the most of them are
# kept (TOP_BY_COUNT) and compared with rapidfuzz. Tuned in bench/kb_search.py on 1.2M aliases.
LEAST, MOST, BUDGET, TOP_BY_COUNT = 5, 12, 40_000, 400
# Below three characters a name has no trigram: such mentions are looked up exactly only.
MIN_FUZZY_LENGTH = 3


@dataclass(frozen=True)
class AliasHit:
    entity_id: int
    text: str
    normalized: str


def exact_aliases(kb_ids: Sequence[int], key: str, *, limit: int = 200) -> list[AliasHit]:
    """Aliases whose normalised form is `key`, of entities not merged away, the most popular first."""
    rows = (
        Alias.objects.filter(knowledge_base_id__in=kb_ids, normalized=key, entity__merged_into__isnull=True)
        .order_by("-entity__prior", "entity_id", "text")
        .values_list("entity_id", "text", "normalized")[:limit]
    )
    return [AliasHit(*row) for row in rows]


def exact_aliases_many(
    kb_ids: Sequence[int], keys: Sequence[str], *, limit: int = 200
) -> dict[str, list[AliasHit]]:
    """`exact_aliases` for many keys in one query per 500 keys: key -> its hits, the most popular first."""
    found: dict[str, list[AliasHit]] = {key: [] for key in keys}
    unique = sorted(set(keys))
    for start in range(0, len(unique), 500):
        rows = (
            Alias.objects.filter(
                knowledge_base_id__in=kb_ids, normalized__in=unique[start : start + 500],
                entity__merged_into__isnull=True,
            )
            .order_by("normalized", "-entity__prior", "entity_id", "text")
            .values_list("entity_id", "text", "normalized")
        )  # fmt: skip
        for row in rows:
            hits = found[row[2]]
            if len(hits) < limit:
                hits.append(AliasHit(*row))
    return found


def prefix_aliases(kb_ids: Sequence[int], prefix: str, *, limit: int) -> list[AliasHit]:
    """Aliases whose normalised form starts with `prefix`, in alphabetical order of that form."""
    aliases = Alias.objects.filter(knowledge_base_id__in=kb_ids, entity__merged_into__isnull=True)
    if connection.vendor == "postgresql":
        aliases = aliases.filter(normalized__startswith=prefix)  # LIKE 'x%': the varchar_pattern_ops index
    else:
        # SQLite compares text by its UTF-8 bytes, so this range is exactly "starts with", on the index.
        aliases = aliases.filter(normalized__gte=prefix, normalized__lt=prefix + "\U0010ffff")
    rows = aliases.order_by("normalized", "entity_id").values_list("entity_id", "text", "normalized")[:limit]
    return [AliasHit(*row) for row in rows]


def similar_aliases(kb_ids: Sequence[int], key: str) -> list[AliasHit]:
    """Aliases whose normalised form is like `key` (typos, spelling variants): a pool to re-score."""
    if len(key) < MIN_FUZZY_LENGTH or not kb_ids:
        return []
    if connection.vendor == "postgresql":
        return _similar_postgresql(kb_ids, key)
    return _similar_sqlite(kb_ids, key)


def trigram_threshold(key: str) -> float:
    """The similarity threshold for `key`: the lowest pg_trgm similarity an alias EDITS edits away from it
    can have. pg_trgm pads each word with two spaces before and one after (a word of n letters has n + 1
    trigrams); an edit takes at most three of the key's trigrams away and adds three others, so an alias
    within EDITS edits shares at least n - 3 * EDITS of the key's n trigrams, of at most n + 3 * EDITS in
    all. A long name then needs many shared trigrams, which is what lets the GIN index skip its frequent
    ones (half the time at p95 on 1M aliases) while a short one keeps the LOWEST_THRESHOLD."""
    count = len(
        {f"  {word} "[i : i + 3] for word in _TRIGRAM_WORD.findall(key) for i in range(len(word) + 1)}
    )
    reach = 3 * EDITS
    # Rounded down a little: pg_trgm computes in single precision.
    return max(LOWEST_THRESHOLD, round((count - reach) / (count + reach) - 0.005, 3))


def _similar_postgresql(kb_ids: Sequence[int], key: str) -> list[AliasHit]:
    with connection.cursor() as cursor:
        # `%` is pg_trgm's similarity operator, answered from the GIN index, with this threshold.
        cursor.execute(f"SET pg_trgm.similarity_threshold = {trigram_threshold(key)}")
        cursor.execute(
            "SELECT entity_id, text, normalized FROM kb_alias "
            "WHERE knowledge_base_id = ANY(%s) AND normalized %% %s "
            "ORDER BY similarity(normalized, %s) DESC, id LIMIT %s",
            [list(kb_ids), key, key, FUZZY_POOL],
        )
        return [AliasHit(*row) for row in cursor.fetchall()]


def _trigrams(key: str) -> list[str]:
    return sorted({key[i : i + 3] for i in range(len(key) - 2)})


def _similar_sqlite(kb_ids: Sequence[int], key: str) -> list[AliasHit]:
    grams = _trigrams(key)
    with connection.cursor() as cursor:
        marks = ", ".join(["%s"] * len(grams))
        cursor.execute(f"SELECT term, doc FROM {FTS_VOCAB_TABLE} WHERE term IN ({marks})", grams)  # noqa: S608
        frequency = dict(cursor.fetchall())
        chosen: list[str] = []
        read = 0
        for count, gram in sorted((frequency[gram], gram) for gram in grams if gram in frequency):
            if len(chosen) >= LEAST and (read + count > BUDGET or len(chosen) >= MOST):
                break
            chosen.append(gram)
            read += count
        if not chosen:
            return []
        # One row per (alias, shared trigram), in one query: counting the rows counts the shared trigrams.
        one = f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s"  # noqa: S608
        cursor.execute(
            " UNION ALL ".join([one] * len(chosen)), ['"' + g.replace('"', '""') + '"' for g in chosen]
        )
        shared: Counter[int] = Counter(row[0] for row in cursor.fetchall())
        top = [alias_id for alias_id, _ in shared.most_common(TOP_BY_COUNT)]
    rows = Alias.objects.filter(pk__in=top, knowledge_base_id__in=kb_ids).values_list(
        "entity_id", "text", "normalized"
    )
    return [AliasHit(*row) for row in rows]
