"""KB candidate search over a generated KB of 1,000,000 aliases, and KB import throughput.

    python bench/kb_search.py                   # SQLite (temporary file)
    DATABASE_URL=postgres://... python bench/kb_search.py
    KB_BENCH_ALIASES=200000 python bench/kb_search.py   # a smaller KB

Prints, for `find_candidates`: p50/p95 of exact mentions (an alias as it is), typo mentions (one letter
deleted, replaced or added) and type-filtered mentions (exact, with the span's type), against a same-run
baseline: a bare indexed SELECT of the aliases equal to the mention (the floor the database sets).
Typo mentions also report how often the right entity comes first, and in the top 10. The BENCHMARKS.md
goal is p95 < 50 ms on PostgreSQL.

Then KB import throughput in entities/s for JSONL and Wikidata dump lines (through the import service:
parse, check, batch upsert), against a baseline taken in the same run: a bare bulk insert of the same
entities and aliases (no parsing, no checks, no lookups).
"""

from __future__ import annotations

import gzip
import json
import os
import random
import tempfile
import time
from pathlib import Path

from _harness import bench_database, report, timed

ALIASES = int(os.environ.get("KB_BENCH_ALIASES", "1000000"))
QUERIES = 300
IMPORT_ENTITIES = int(os.environ.get("KB_BENCH_IMPORT", "50000"))

# fmt: off
ONSETS = [
    "b", "br", "bl", "ch", "d", "dr", "f", "fr", "g", "gr", "gl", "h", "j", "k", "kh", "kr", "l", "m",
    "n", "p", "pr", "pl", "r", "s", "sh", "sk", "sl", "st", "sv", "t", "tr", "ts", "v", "vl", "y", "z",
    "zh", "w", "wh", "th"
]
VOWELS = [
    "a", "e", "i", "o", "u", "y", "ya", "ie", "ou", "ai", "ei", "ea", "oo", "ue", "io", "au"
]
CODAS = [
    "", "", "n", "r", "s", "k", "v", "sh", "l", "m", "t", "nd", "rt", "ng", "ck", "x", "lt", "nk", "st",
    "ff"
]
# fmt: on
TYPES = ["PERSON", "ORG", "GPE", "LOC", ""]


def word(rng: random.Random, syllables: int) -> str:
    return "".join(
        rng.choice(ONSETS) + rng.choice(VOWELS) + rng.choice(CODAS) for _ in range(syllables)
    ).capitalize()


def generate(count_aliases: int, seed: int = 7) -> list[tuple[str, str, str, float, list[str]]]:
    """(kb_id, name, type, prior, aliases): people-like names, each with a surname and an initial form."""
    rng = random.Random(seed)
    first_names = [word(rng, rng.choice([1, 2])) for _ in range(20000)]
    entities = []
    for n in range(count_aliases // 3):
        first, last = rng.choice(first_names), word(rng, rng.choice([2, 3]))
        name = f"{first} {last}"
        entities.append(
            (f"Q{n + 1}", name, rng.choice(TYPES), round(rng.random(), 3), [last, f"{first[0]}. {last}"])
        )
    return entities


def typo(rng: random.Random, text: str) -> str:
    position = rng.randrange(1, len(text) - 1)
    edit = rng.choice(["delete", "replace", "insert"])
    letter = rng.choice("aeiouknrst")
    if edit == "delete":
        return text[:position] + text[position + 1 :]
    if edit == "replace":
        return text[:position] + letter + text[position + 1 :]
    return text[:position] + letter + text[position:]


def load_kb(vendor: str, knowledge_base, entities) -> dict[str, int]:
    """Write the generated KB the fastest way the database has (COPY / executemany); return kb_id -> id."""
    from django.db import connection, transaction
    from django.utils import timezone

    from annotator.kb.normalize import normalize_alias

    now = timezone.now()
    kb = knowledge_base.pk
    with transaction.atomic(), connection.cursor() as cursor:
        columns = (
            "knowledge_base_id, kb_id, name, description, type, instance_of, prior, metadata, "
            "created_at, updated_at"
        )
        rows = [
            (kb, kb_id, name, "", kind, "[]", prior, "{}", now, now)
            for kb_id, name, kind, prior, _ in entities
        ]
        if vendor == "postgresql":
            with cursor.cursor.copy(f"COPY kb_kbentity ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            cursor.executemany(f"INSERT INTO kb_kbentity ({columns}) VALUES ({', '.join(['%s'] * 10)})", rows)
        cursor.execute("SELECT kb_id, id FROM kb_kbentity WHERE knowledge_base_id = %s", [kb])
        ids = dict(cursor.fetchall())
        aliases = [
            (ids[kb_id], kb, text, normalize_alias(text), "", False)
            for kb_id, name, _, _, others in entities
            for text in (name, *others)
        ]
        columns = "entity_id, knowledge_base_id, text, normalized, language, manual"
        if vendor == "postgresql":
            with cursor.cursor.copy(f"COPY kb_alias ({columns}) FROM STDIN") as copy:
                for row in aliases:
                    copy.write_row(row)
            cursor.execute("ANALYZE kb_alias")
            cursor.execute("ANALYZE kb_kbentity")
        else:
            cursor.executemany(f"INSERT INTO kb_alias ({columns}) VALUES (%s, %s, %s, %s, %s, %s)", aliases)
    if vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return ids


def bench_search(vendor: str) -> None:
    from django.db import connection

    from annotator.kb.models import KnowledgeBase
    from annotator.kb.normalize import normalize_alias
    from annotator.kb.search import find_candidates
    from annotator.projects.models import Project

    project = Project.objects.create(name="Bench", slug="bench")
    knowledge_base = KnowledgeBase.objects.create(project=project, name="Generated")
    entities = generate(ALIASES)
    started = time.perf_counter()
    load_kb(vendor, knowledge_base, entities)
    count = sum(1 + len(e[4]) for e in entities)
    print(
        f"KB: {len(entities):,} entities, {count:,} aliases, loaded in {time.perf_counter() - started:.0f} s"
    )

    rng = random.Random(3)
    sample = rng.sample(entities, QUERIES)
    exact = [rng.choice([name, *others]) for _, name, _, _, others in sample]
    typos = [(typo(rng, name), kb_id) for kb_id, name, _, _, _ in sample]
    typed = [(name, kind or "PERSON") for _, name, kind, _, _ in sample]

    def bare(texts):
        queue = iter(texts)

        def run() -> None:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT entity_id, text FROM kb_alias WHERE knowledge_base_id = %s AND normalized = %s",
                    [knowledge_base.pk, normalize_alias(next(queue))],
                )
                cursor.fetchall()

        return run

    baseline = timed(bare(exact), QUERIES)
    report("bare indexed alias SELECT (baseline)", baseline)

    queue = iter(exact)
    report(
        "find_candidates, exact mention",
        timed(lambda: find_candidates(project_id=project.pk, mention=next(queue)), QUERIES),
        baseline,
    )
    queue_typed = iter(typed)

    def one_typed() -> None:
        mention, kind = next(queue_typed)
        find_candidates(project_id=project.pk, mention=mention, entity_type=kind)

    report("find_candidates, exact + entity type", timed(one_typed, QUERIES), baseline)

    results = []
    queue_typos = iter(typos)

    def one_typo() -> None:
        mention, kb_id = next(queue_typos)
        results.append((kb_id, [c.kb_id for c in find_candidates(project_id=project.pk, mention=mention)]))

    report("find_candidates, mention with a typo", timed(one_typo, QUERIES), baseline)
    first = sum(ranked[:1] == [kb_id] for kb_id, ranked in results)
    top10 = sum(kb_id in ranked for kb_id, ranked in results)
    print(f"typo mentions: right entity first {first}/{QUERIES}, in the top 10 {top10}/{QUERIES}", flush=True)


def bench_import(vendor: str) -> None:
    from django.db import transaction

    from annotator.kb.imports import import_kb_file
    from annotator.kb.models import Alias, KBEntity, KnowledgeBase
    from annotator.kb.normalize import normalize_alias
    from annotator.projects.models import Project

    project = Project.objects.create(name="Import bench", slug="import-bench")
    entities = generate(IMPORT_ENTITIES * 3, seed=11)[:IMPORT_ENTITIES]
    print(f"import: {len(entities):,} entities with {3 * len(entities):,} aliases", flush=True)

    # Baseline: the same rows, bulk-inserted with nothing checked or looked up.
    knowledge_base = KnowledgeBase.objects.create(project=project, name="Baseline")
    started = time.perf_counter()
    with transaction.atomic():
        created = KBEntity.objects.bulk_create(
            (
                KBEntity(knowledge_base=knowledge_base, kb_id=kb_id, name=name, type=kind, prior=prior)
                for kb_id, name, kind, prior, _ in entities
            ),
            batch_size=1000,
        )
        Alias.objects.bulk_create(
            (
                Alias(
                    entity=entity, knowledge_base=knowledge_base, text=text, normalized=normalize_alias(text)
                )
                for entity, (_, name, _, _, others) in zip(created, entities, strict=True)
                for text in (name, *others)
            ),
            batch_size=1000,
        )
    baseline = len(entities) / (time.perf_counter() - started)
    print(f"{'bare bulk_create of the same rows (baseline)':<44} {baseline:9,.0f} entities/s", flush=True)

    with tempfile.TemporaryDirectory() as directory:
        jsonl = Path(directory) / "kb.jsonl"
        with jsonl.open("w", encoding="utf-8") as out:
            for kb_id, name, kind, prior, others in entities:
                item = {
                    "id": kb_id,
                    "name": name,
                    "aliases": others,
                    "description": "",
                    "type": kind,
                    "prior": prior,
                }
                out.write(json.dumps(item) + "\n")
        wikidata = Path(directory) / "latest-all.json.gz"
        with gzip.open(wikidata, "wt", encoding="utf-8") as out:
            out.write("[\n")
            for n, (_, name, _, _, others) in enumerate(entities):
                item = {
                    "type": "item", "id": f"Q{n + 1}",
                    "labels": {"en": {"language": "en", "value": name}, "de": {"language": "de", "value": name}},
                    "descriptions": {"en": {"language": "en", "value": "generated person"}},
                    "aliases": {"en": [{"language": "en", "value": alias} for alias in others]},
                    "claims": {"P31": [{"mainsnak": {"snaktype": "value", "property": "P31", "datavalue": {
                        "value": {"entity-type": "item", "numeric-id": 5, "id": "Q5"}, "type": "wikibase-entityid"}},
                        "type": "statement", "rank": "normal"}]},
                    "sitelinks": {"enwiki": {"site": "enwiki", "title": name}},
                }  # fmt: skip
                out.write(json.dumps(item) + (",\n" if n + 1 < len(entities) else "\n"))
            out.write("]\n")
        for label, path, name in [("JSONL", jsonl, "JSONL"), ("Wikidata dump (gzip)", wikidata, "Wikidata")]:
            target = KnowledgeBase.objects.create(project=project, name=name, languages=["en"])
            started = time.perf_counter()
            outcome = import_kb_file(knowledge_base=target, path=path, file_label=path.name)
            rate = outcome.entities / (time.perf_counter() - started)
            print(
                f"{'import ' + label:<44} {rate:9,.0f} entities/s   x{rate / baseline:4.2f} the baseline",
                flush=True,
            )
            started = time.perf_counter()
            again = import_kb_file(knowledge_base=target, path=path, file_label=path.name)
            rate = again.entities / (time.perf_counter() - started)
            print(f"{'re-import ' + label + ' (all unchanged)':<44} {rate:9,.0f} entities/s", flush=True)


def main() -> None:
    with bench_database("kb") as vendor:
        print(f"database: {vendor}")
        bench_search(vendor)
        bench_import(vendor)


if __name__ == "__main__":
    main()
