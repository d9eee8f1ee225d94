"""Gold export as JSON Lines, against a bare dump of the same rows measured in the same run.

    DATABASE_URL=postgres://... python bench/export.py                      # the figures the issue asks for
    DATABASE_URL=postgres://... python bench/export.py --articles 20000     # quicker

1. A generated project of news-like articles (~1,000 characters, ~20 PERSON/ORG/GPE spans each, every
   article with a gold set), imported by the import service.
2. The export service streams the gold set as JSONL (entities with provenance, links, relations, article
   metadata) in a fresh process, at a tenth of the articles and at all of them: articles/s, MB/s and the
   process's peak RSS. Constant memory means the two peaks are about the same.
3. Baselines over the same rows, in the same run: on PostgreSQL `COPY (SELECT ...) TO STDOUT` of the
   articles and their gold spans (with type names): the floor the database sets; everywhere, a raw
   cursor read of the same rows written as orjson lines (no ORM, no records, no provenance).

Goals (BENCHMARKS.md, issue 18): 10,000 documents with ~491,000 spans in <= 3 s and >= 0.4x the rate of
`COPY ... TO`; peak RSS <= 200 MB and flat as N grows. The export's own CPU (both of its threads) is shown
too: on a loaded machine the wall time is mostly waiting for a core. Runs on SQLite too (without
DATABASE_URL), without the COPY baseline.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _harness import ROOT, bench_database

generate = importlib.import_module("import")  # bench/import.py: its article generator

SLUG = "bench-export"


def write_articles(path: Path, first: int, count: int, length: int) -> int:
    rng = random.Random(first + 11)
    spans = 0
    with open(path, "w", encoding="utf-8") as out:
        for number in range(first, first + count):
            record = generate.article(rng, number, with_spans=True, length=length)
            spans += len(record["entities"])
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return spans


def import_gold(path: Path) -> float:
    from django.contrib.auth import get_user_model
    from django.db import connection

    from annotator.interchange.formats.sources import open_source
    from annotator.interchange.options import ImportOptions
    from annotator.interchange.services import import_articles, source_limits
    from annotator.projects.models import EntityType, Project

    user, _ = get_user_model().objects.get_or_create(username="bench-curator")
    project, _ = Project.objects.get_or_create(slug=SLUG, defaults={"name": "Bench export"})
    for name in ("PERSON", "ORG", "GPE"):
        EntityType.objects.get_or_create(project=project, name=name)
    start = time.perf_counter()
    options = ImportOptions(format="jsonl", set_kind="gold")
    source = open_source(path, limits=source_limits())
    import_articles(project=project, source=source, options=options, by=user)
    seconds = time.perf_counter() - start
    if connection.vendor == "postgresql":
        # What autovacuum does soon after a bulk load: without statistics the planner takes the span
        # table for empty and scans all of it for every chunk.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return seconds


CHILD = """
import json, os, sys, time
sys.path.insert(0, {root!r})
import django
django.setup()
from annotator.interchange.exports import ExportQuery, export_bytes
from annotator.projects.models import Project

project = Project.objects.get(slug={slug!r})
size = 0
before = os.times()
start = time.perf_counter()
with open(os.devnull, "wb") as out:
    for chunk in export_bytes(project, ExportQuery(format="jsonl")):
        out.write(chunk)
        size += len(chunk)
seconds = time.perf_counter() - start
after = os.times()
cpu = after.user + after.system - before.user - before.system
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec, so a child would report its parent's peak.
peak = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({{"seconds": seconds, "cpu": cpu, "bytes": size, "peak_rss_mb": int(peak.split()[1]) / 1024}}))
"""


def run_export() -> dict:
    """Export the project's gold in a fresh process, so that its peak RSS is the export's own."""
    code = CHILD.format(root=str(ROOT), slug=SLUG)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


ARTICLES_SQL = "SELECT id, external_id, title, text, metadata FROM articles_article WHERE project_id = {p}"
SPANS_SQL = (
    "SELECT s.annotation_set_id, s.start, s.end, t.name FROM annotations_span s "
    "JOIN annotations_annotationset a ON a.id = s.annotation_set_id "
    "JOIN articles_article r ON r.id = a.article_id "
    "JOIN projects_entitytype t ON t.id = s.entity_type_id "
    "WHERE r.project_id = {p} AND a.kind = 'gold'"
)


def copy_out(project_id: int) -> float:
    """Seconds to COPY the articles and their gold spans out as text (PostgreSQL's own floor)."""
    from django.db import connection

    start = time.perf_counter()
    with connection.cursor() as cursor:
        for sql in (ARTICLES_SQL, SPANS_SQL):
            with cursor.cursor.copy(f"COPY ({sql.format(p=project_id)}) TO STDOUT") as copy:
                for _ in copy:
                    pass
    return time.perf_counter() - start


def raw_lines(project_id: int) -> float:
    """Seconds to read the same rows with a bare cursor and write them as orjson lines to /dev/null."""
    import orjson
    from django.db import connection

    start = time.perf_counter()
    with open(os.devnull, "wb") as out, connection.cursor() as cursor:
        for sql in (ARTICLES_SQL, SPANS_SQL):
            cursor.execute(sql.format(p=project_id))
            while rows := cursor.fetchmany(5000):
                out.write(b"".join(orjson.dumps(row, default=str) + b"\n" for row in rows))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument(
        "--length", type=int, default=1000, help="Characters per article (~20 spans per 1,000)."
    )
    parser.add_argument("--repeat", type=int, default=3, help="Baseline runs (the median is shown).")
    args = parser.parse_args()
    tenth = max(1, args.articles // 10)
    with bench_database("export") as vendor, tempfile.TemporaryDirectory(prefix="annotator-export-") as tmp:
        from annotator.projects.models import Project

        first, rest = Path(tmp) / "first.jsonl", Path(tmp) / "rest.jsonl"
        spans = write_articles(first, 0, tenth, args.length)
        spans += write_articles(rest, tenth, args.articles - tenth, args.length)
        print(f"database: {vendor}; {args.articles:,} articles with {spans:,} spans in gold", flush=True)
        seconds = import_gold(first)
        project = Project.objects.get(slug=SLUG)
        print(f"imported {tenth:,} articles in {seconds:.1f} s", flush=True)
        small = run_export()
        if args.articles > tenth:
            seconds = import_gold(rest)
            print(f"imported {args.articles - tenth:,} more in {seconds:.1f} s", flush=True)
        full = run_export()
        copy_times = [copy_out(project.pk) for _ in range(args.repeat)] if vendor == "postgresql" else []
        raw_times = [raw_lines(project.pk) for _ in range(args.repeat)]
        for label, count, run in (
            (f"{tenth:,} articles", tenth, small),
            (f"{args.articles:,} articles", args.articles, full),
        ):
            print(
                f"JSONL export, {label:<18} {run['seconds']:7.2f} s   {count / run['seconds']:8,.0f} articles/s   "
                f"{run['bytes'] / 1e6 / run['seconds']:6.1f} MB/s   {run['bytes'] / 1e6:7.1f} MB   "
                f"peak RSS {run['peak_rss_mb']:6.0f} MB   process CPU {run['cpu']:5.2f} s",
                flush=True,
            )
        rate = args.articles / full["seconds"]
        for name, times in (
            ("COPY (SELECT ...) TO STDOUT", copy_times),
            ("raw cursor -> orjson lines", raw_times),
        ):
            if times:
                median = statistics.median(times)
                print(
                    f"{name + ' (baseline)':<40} {median:7.2f} s   {args.articles / median:8,.0f} articles/s   "
                    f"export at x{rate / (args.articles / median):.2f} its rate",
                    flush=True,
                )
        growth = full["peak_rss_mb"] / small["peak_rss_mb"]
        print(
            f"peak RSS grows x{growth:.2f} from {tenth:,} to {args.articles:,} articles (flat: ~x1)",
            flush=True,
        )


if __name__ == "__main__":
    main()
