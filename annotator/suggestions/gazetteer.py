"""The gazetteer's patterns: the project's KB names and aliases, its gold mentions, the shipped lists.

`fingerprint` is cheap (two aggregate queries) and changes whenever the patterns would, so a cached
ruler is checked against it before every use and reloaded only when it moved.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from functools import cache
from itertools import groupby
from pathlib import Path

from django.conf import settings as django_settings
from django.db.models import Count, Max, Sum

from annotator.annotations.models import AnnotationSet, SetKind, Span
from annotator.kb.models import Alias
from annotator.suggestions.nlp import Pattern

LISTS_DIR = Path(__file__).resolve().parent / "lists"
# The shipped lists and the label their entries take.
LISTS = {
    "countries": "GPE",
    "cities": "GPE",
    "regions": "GPE",
    "areas": "LOC",
    "demonyms": "NORP",
    "igos": "ORG",
    "media": "ORG",
}
# Lists whose names also match in capitals, as datelines and results tables write them ("LISBON").
CAPITALISED_LISTS = frozenset({"countries", "cities", "regions"})
LIST_LANGUAGES = frozenset({"en"})  # the lists are English names


@cache
def shipped_patterns() -> tuple[Pattern, ...]:
    """Countries, capitals and large cities, regions, continents and seas, nationalities and groups,
    intergovernmental organisations, news media. Places also in capitals."""
    patterns: list[Pattern] = []
    for name, label in LISTS.items():
        for line in (LISTS_DIR / f"{name}.txt").read_text(encoding="utf-8").splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            texts = [text.strip() for text in line.split("|")]
            if name in CAPITALISED_LISTS:
                texts += [text.upper() for text in texts if text.upper() not in texts]
            patterns.extend(Pattern(label, text, f"list:{name}") for text in texts)
    return tuple(patterns)


@cache
def _lists_digest() -> str:
    digest = hashlib.sha256()
    for pattern in shipped_patterns():
        digest.update(f"{pattern.label}\t{pattern.text}\n".encode())
    return digest.hexdigest()[:12]


def _kb_aliases(project_id: int):  # type: ignore[no-untyped-def]
    return Alias.objects.filter(
        knowledge_base__project_id=project_id, entity__merged_into__isnull=True
    ).exclude(entity__type="")


def _gold_sets(project_id: int, exclude_articles: Iterable[int]):  # type: ignore[no-untyped-def]
    return AnnotationSet.objects.filter(article__project_id=project_id, kind=SetKind.GOLD).exclude(
        article_id__in=list(exclude_articles)
    )


def kb_fingerprint(project_id: int) -> str:
    """Names the state of the project's KB names: every KB change touches an alias or its entity.
    Entities without a type count too: they are no patterns, but they are link candidates."""
    aliases = Alias.objects.filter(knowledge_base__project_id=project_id, entity__merged_into__isnull=True)
    kb = aliases.aggregate(n=Count("id"), top=Max("id"), total=Sum("id"), touched=Max("entity__updated_at"))
    return hashlib.sha256(str(sorted(kb.items())).encode()).hexdigest()[:40]


def fingerprint(
    project_id: int, *, exclude_articles: Iterable[int] = (), kb: str | None = None, settings: str = ""
) -> str:
    """Names the patterns `project_patterns` would return now (`kb`: the KB's fingerprint, when the
    caller has it; `settings`: the digest of the project's suggester settings). Every gold edit bumps
    its set's version and `updated_at`, so it moves too."""
    excluded = sorted(exclude_articles)
    gold = _gold_sets(project_id, excluded).aggregate(
        n=Count("id"), top=Max("id"), versions=Sum("version"), touched=Max("updated_at")
    )
    parts = [
        _lists_digest(),
        kb if kb is not None else kb_fingerprint(project_id),
        str(sorted(gold.items())),
        ",".join(map(str, excluded)),
        settings,
    ]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:40]


_recent: dict[tuple[int, str], tuple[float, str, str]] = {}
_recent_lock = threading.Lock()


def recent_fingerprints(project_id: int, settings: str = "") -> tuple[str, str]:
    """(`kb_fingerprint`, `fingerprint`) of the project as this process read them at most
    ANNOTATOR_SUGGESTION_FRESHNESS_SECONDS ago: for requests that suggest for raw text many times a
    second, as page opens check freshness (see freshness.py). KB and gold edits count after that long."""
    key = (project_id, settings)
    now = time.monotonic()
    found = _recent.get(key)
    if found is not None and found[0] > now:
        return found[1], found[2]
    kb = kb_fingerprint(project_id)
    full = fingerprint(project_id, kb=kb, settings=settings)
    with _recent_lock:
        if len(_recent) >= 1000:
            _recent.clear()
        _recent[key] = (now + django_settings.ANNOTATOR_SUGGESTION_FRESHNESS_SECONDS, kb, full)
    return kb, full


def forget_recent() -> None:
    """Drop the fingerprints `recent_fingerprints` remembers (tests; see freshness.forget)."""
    with _recent_lock:
        _recent.clear()


def _kb_patterns(project_id: int) -> Iterator[Pattern]:
    """The KB's names, as patterns whose id is the entity's KB id. A name several entities share is one
    pattern per label (id "kb-shared:<name>"): a common surname shared by thirty people is one match,
    not thirty; which of them it names is for the candidate search to rank."""
    aliases = _kb_aliases(project_id).order_by("text").values_list("text", "entity__type", "entity__kb_id")
    for text, group in groupby(aliases.iterator(chunk_size=5000), key=lambda row: row[0]):
        named = {(label, kb_id) for _, label, kb_id in group}
        if len({kb_id for _, kb_id in named}) == 1:
            ((label, kb_id),) = named
            yield Pattern(label, text, f"kb:{kb_id}")
        else:
            yield from (
                Pattern(label, text, f"kb-shared:{text}") for label in sorted({lb for lb, _ in named})
            )


def project_patterns(
    project_id: int,
    *,
    exclude_articles: Iterable[int] = (),
    lang: str = "en",
    dropped: Iterable[tuple[str, str]] = (),
) -> Iterator[Pattern]:
    """Every pattern of the project's gazetteer: the shipped lists (English projects only), the KB's
    names, and the gold mentions (those `dropped` for measuring poorly left out). Gold mentions
    written with different types take the type they have most often."""
    if lang in LIST_LANGUAGES:
        yield from shipped_patterns()
    yield from _kb_patterns(project_id)
    skip = set(dropped)
    votes: dict[str, Counter[str]] = defaultdict(Counter)
    gold = (
        Span.objects.filter(annotation_set__in=_gold_sets(project_id, exclude_articles))
        .values_list("surface", "entity_type__name")
        .annotate(n=Count("id"))
        .order_by()
    )
    for surface, label, n in gold:
        votes[surface][label] += n
    for surface, counts in votes.items():
        label = max(counts.items(), key=lambda item: (item[1], item[0]))[0]
        if (label, surface) not in skip:
            yield Pattern(label, surface, f"gold:{surface}")
