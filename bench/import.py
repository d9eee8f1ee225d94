"""Bulk import, against a raw COPY of the same rows into a bare table measured in the same run.

    DATABASE_URL=postgres://... python bench/import.py            # the figures the issue asks for
    DATABASE_URL=postgres://... python bench/import.py --articles 20000 --spans-articles 2000   # quicker

1. 100,000 generated news-like articles (~2,500 characters each) as JSONL, imported by the import service
   (read, check, hash, write into the indexed tables, one transaction): articles/s, and the ratio to
   `COPY` of the same rows (already in COPY's text format, nothing to parse) into a bare table without
   indexes: the floor PostgreSQL sets. Goal: ratio >= 0.5. The articles' search documents are written
   after the import commits, by the index job (articles/search.py): timed on its own line, with the
   ratio of import + index to the same baseline.
2. Peak RSS of the importing process at a quarter of the file and at the whole file (each in a fresh
   process): constant memory means they are about the same.
3. The BENCHMARKS.md figure: 10,000 articles with 491,000 pre-labelled spans (JSONL with entities), goal
   <= 10 s; then the same file with one bad offset in its last article, and in its middle one: nothing
   written (from the first problem on, an import only reads and checks the rest, for the report).

Each import also prints its CPU: the importing process's (reader thread included; its writer thread's
alone in brackets) and its PostgreSQL backend's (read from /proc when the server runs on this machine), per
article or span; and the writer thread's plus the backend's, which take turns on one connection: a floor
under the import's time on an idle machine. On a shared machine seconds follow the load; CPU hardly
does, so compare runs (A/B) by those lines. `--spans-only` runs part 3 alone.

Runs on SQLite too (without DATABASE_URL), where the baseline is an executemany INSERT into a bare table.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _harness import ROOT, bench_database, cpu_seconds

FIRST = ["Sergey", "Alexander", "Viktor", "Anna", "Olga", "Dmitry", "Ivan", "Natalia", "Pavel", "Elena"]
LAST = ["Naryshkin", "Lukashenko", "Tertel", "Volkova", "Petrov", "Sidorova", "Kuznetsov", "Orlova"]
ORGS = [
    "Foreign Intelligence Service", "State Security Committee", "Ministry of Defence", "Security Council",
    "Collective Security Treaty Organization", "Interior Ministry", "Border Guard Service",
]  # fmt: skip
PLACES = ["Minsk", "Moscow", "Vitebsk", "Brest", "Grodno", "Kyiv", "Warsaw", "Vilnius", "Riga", "Gomel"]
TEMPLATES = [
    "{PERSON}, director of the {ORG}, met {PERSON} in {GPE} on Tuesday.",
    "Officials in {GPE} said the {ORG} had shared intelligence with {GPE} for years.",
    "{PERSON} accused the {ORG} of preparing provocations near {GPE}.",
    "According to {PERSON}, the talks in {GPE} covered “joint work” against Western services.",
    "The {ORG} and the {ORG} signed a plan for 2024–2025, {PERSON} told reporters.",
    "The statement gave no further details, and neither side answered questions about the meeting.",
    "Analysts said the cooperation had deepened since 2020, when protests shook the country.",
    "Reporters were not allowed to attend, and the agenda was published only afterwards.",
]
LABELS = {"PERSON": None, "ORG": ORGS, "GPE": PLACES}


def article(rng: random.Random, number: int, *, with_spans: bool, length: int = 2500) -> dict:
    """A news-like article of about `length` characters, with its entity offsets."""
    text, entities = "", []
    while len(text) < length:
        template = rng.choice(TEMPLATES)
        sentence, rest = "", template
        while "{" in rest:
            before, _, after = rest.partition("{")
            label, _, rest = after.partition("}")
            sentence += before
            name = (
                f"{rng.choice(FIRST)} {rng.choice(LAST)}" if label == "PERSON" else rng.choice(LABELS[label])
            )
            start = len(text) + len(sentence)
            entities.append({"start": start, "end": start + len(name), "label": label, "text": name})
            sentence += name
        text += sentence + rest + (" " if rng.random() < 0.8 else "\n\n")
    record = {
        "external_id": f"news-{number:07d}",
        "title": f"Report {number}: {entities[0]['text']} in {rng.choice(PLACES)}",
        "text": text.strip(),
        "metadata": {
            "source": "bench",
            "url": f"https://news.example/{number}",
            "published_at": "2024-04-15",
        },
    }
    if with_spans:
        record["entities"] = [e for e in entities if e["end"] <= len(record["text"])]
    return record


def write_jsonl(path: Path, count: int, *, with_spans: bool, seed: int = 7) -> int:
    rng = random.Random(seed)
    spans = 0
    with open(path, "w", encoding="utf-8") as out:
        for number in range(count):
            record = article(rng, number, with_spans=with_spans)
            spans += len(record.get("entities", ()))
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return spans


def copy_text(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def baselines(path: Path, vendor: str, repeat: int = 3) -> tuple[float, float | None, float | None]:
    """Median seconds to COPY the file's rows, prepared beforehand in COPY's own format (nothing left to
    parse or check), into a bare table; and (PostgreSQL) into the articles table itself, with its indexes
    and foreign key, in a transaction rolled back: the floor this schema sets for any importer. Third, the
    database server's median CPU seconds for the bare COPY (None when it runs elsewhere): CPU, unlike
    seconds, hardly depends on what else the machine runs."""
    import hashlib

    from django.db import connection, transaction

    from annotator.projects.models import Project

    project = Project.objects.create(name="Floor", slug="bench-floor")
    rows = []
    with open(path, encoding="utf-8") as source:
        for line in source:
            record = json.loads(line)
            digest = hashlib.sha256(record["text"].encode()).hexdigest()
            rows.append(
                (
                    record["external_id"],
                    record["title"],
                    record["text"],
                    json.dumps(record["metadata"]),
                    digest,
                )
            )
    if vendor != "postgresql":
        times = []
        for _ in range(repeat):
            with connection.cursor() as cursor:
                cursor.execute(
                    "CREATE TABLE bench_bare (external_id text, title text, text text, metadata text, h text)"
                )
                start = time.perf_counter()
                cursor.executemany("INSERT INTO bench_bare VALUES (%s, %s, %s, %s, %s)", rows)
                times.append(time.perf_counter() - start)
                cursor.execute("DROP TABLE bench_bare")
        return statistics.median(times), None, None
    bare = "".join("\t".join(copy_text(v) for v in row[:4]) + "\n" for row in rows).encode()
    stamp = "2026-01-01T00:00:00+00:00"
    real = "".join(
        f"{project.pk}\t" + "\t".join(copy_text(v) for v in row) + f"\t1\t{stamp}\t{stamp}\n" for row in rows
    ).encode()
    del rows

    def copy(statement: str, payload: bytes) -> float:
        start = time.perf_counter()
        with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
            for offset in range(0, len(payload), 2**20):
                copy.write(payload[offset : offset + 2**20])
        return time.perf_counter() - start

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    bare_times, real_times, bare_cpu = [], [], []
    columns = "project_id, external_id, title, text, metadata, content_hash, revision, created_at, updated_at"
    for _ in range(repeat):
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE TABLE bench_bare (external_id text, title text, text text, metadata jsonb)"
            )
        before = cpu_seconds(backend)
        bare_times.append(copy("COPY bench_bare FROM STDIN", bare))
        after = cpu_seconds(backend)
        if before is not None and after is not None:
            bare_cpu.append(after - before)
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE bench_bare")
        with transaction.atomic():
            start = time.perf_counter()
            copy(f"COPY articles_article ({columns}) FROM STDIN", real)
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the deferred foreign key checks, timed too
            real_times.append(time.perf_counter() - start)
            transaction.set_rollback(True)
    cpu = statistics.median(bare_cpu) if bare_cpu else None
    return statistics.median(bare_times), statistics.median(real_times), cpu


CHILD = """
import json, os, sys, time
sys.path.insert(0, {root!r})
import django
django.setup()
from pathlib import Path
from django.db import connection
from annotator.interchange.formats.sources import open_source
from annotator.interchange.options import ImportOptions
from annotator.interchange.services import ImportRejected, import_articles, source_limits
from annotator.projects.models import EntityType, Project

from django.contrib.auth import get_user_model
user, _ = get_user_model().objects.get_or_create(username="bench-manager")  # imports record who ran them
project, _ = Project.objects.get_or_create(slug={slug!r}, defaults={{"name": "Bench"}})
for name in ("PERSON", "ORG", "GPE"):
    EntityType.objects.get_or_create(project=project, name=name)
source = open_source(Path({path!r}), limits=source_limits())
with connection.cursor() as cursor:
    cursor.execute("SELECT pg_backend_pid()" if connection.vendor == "postgresql" else "SELECT NULL")
    backend = cursor.fetchone()[0]

def backend_cpu():
    try:
        fields = open(f"/proc/{{backend}}/stat").read().rsplit(")", 1)[1].split()
    except (OSError, TypeError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

database_before, cpu_before, writer_before = backend_cpu(), time.process_time(), time.thread_time()
start = time.perf_counter()
try:
    result = import_articles(project=project, source=source, options=ImportOptions(format="jsonl"), by=user)
    outcome = {{"created": result.created, "spans": result.spans}}
except ImportRejected as rejected:
    outcome = {{"rejected": rejected.problems}}
seconds = time.perf_counter() - start
# CPU of the import (this process, reader thread included, and its database backend), before the index
# job below adds to either.
outcome["cpu"] = time.process_time() - cpu_before
outcome["writer_cpu"] = time.thread_time() - writer_before  # this thread: the writer (the rest: the reader)
database_after = backend_cpu()
outcome["database_cpu"] = None if database_after is None else database_after - database_before
outcome["vendor"] = connection.vendor
if "created" in outcome:
    # The search documents, written after the import committed by the index job (its chunks run here one
    # after the other, as one worker would run them): timed on its own.
    from annotator.articles.indexing import start_search_indexing
    from annotator.articles.search import unindexed
    from annotator.jobs.services import run_job

    outcome["waiting"] = unindexed(project.pk)
    indexing = time.perf_counter()
    job = start_search_indexing(project=project, by=user, queue=False)
    if job is not None:
        job = run_job(job)
        outcome["index_status"] = job.status
    outcome["index_seconds"] = time.perf_counter() - indexing
    outcome["index_left"] = unindexed(project.pk)
with connection.cursor() as cursor:
    cursor.execute("SELECT count(*) FROM articles_article WHERE project_id = %s", [project.pk])
    outcome["rows"] = cursor.fetchone()[0]
outcome["seconds"] = seconds
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec, so a child would report its parent's peak.
peak = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
outcome["peak_rss_mb"] = int(peak.split()[1]) / 1024
print(json.dumps(outcome))
"""


def cpu_line(run: dict, units: int, unit: str, floor_cpu: float | None = None) -> str:
    """The import's CPU: the importing process (both its threads) and its database backend, per unit of
    work; with the bare COPY's server CPU as a ratio when given. Seconds vary with the machine's load,
    CPU hardly does: compare runs by this line."""
    database = run["database_cpu"]
    both = run["cpu"] + (database or 0.0)
    line = (
        f"CPU: importer {run['cpu']:.2f} s (writer thread {run['writer_cpu']:.2f} s) + database "
        + (
            f"{database:.2f} s"
            if database is not None
            else "(in the importer's)"
            if run["vendor"] == "sqlite"
            else "(not on this machine)"
        )
        + f" = {both * 1e6 / units:.1f} µs per {unit}"
    )
    if floor_cpu is not None:
        line += f"; the bare COPY's server CPU is x{floor_cpu / both:.2f} of it"
    if database is not None:
        # The writer thread and its backend take turns (one connection): their sum is the import's least
        # time on an idle machine, whatever the reader thread does beside them.
        line += f"; writer + database {(run['writer_cpu'] + database) * 1e6 / units:.1f} µs per {unit}"
    return line


def run_import(path: Path, slug: str) -> dict:
    """Import the file in a fresh process (so that its peak RSS is the import's own)."""
    code = CHILD.format(root=str(ROOT), slug=slug, path=str(path))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the import process ended with {done.returncode}:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def break_offset(source: Path, target: Path, *, line: int = -1) -> None:
    """The same file, with one article's (the last one's) last entity ending after the text."""
    lines = source.read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[line])
    record["entities"][-1]["end"] = len(record["text"]) + 5
    lines[line] = json.dumps(record, ensure_ascii=False)
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--spans-articles", type=int, default=10_000)
    parser.add_argument("--spans-only", action="store_true", help="only part 3: the import with spans")
    args = parser.parse_args()
    with bench_database("import") as vendor, tempfile.TemporaryDirectory(prefix="annotator-import-") as tmp:
        directory = Path(tmp)
        if not args.spans_only:
            big, quarter = directory / "articles.jsonl", directory / "quarter.jsonl"
            write_jsonl(big, args.articles, with_spans=False)
            write_jsonl(quarter, args.articles // 4, with_spans=False, seed=8)
            size = big.stat().st_size
            print(
                f"database: {vendor}; {args.articles:,} articles, {size / 1e6:,.0f} MB of JSONL", flush=True
            )

            floor, schema_floor, floor_cpu = baselines(big, vendor)
            floor_rate = args.articles / floor
            what = (
                "raw COPY into a bare table"
                if vendor == "postgresql"
                else "one executemany into a bare table"
            )
            server = f"   server CPU {floor_cpu:.2f} s" if floor_cpu is not None else ""
            print(
                f"{what + ' (baseline)':<40} {floor:7.2f} s   {floor_rate:9,.0f} rows/s{server}", flush=True
            )
            if schema_floor is not None:
                print(
                    f"raw COPY into articles_article (indexes) {schema_floor:7.2f} s   "
                    f"{args.articles / schema_floor:9,.0f} rows/s   x{floor / schema_floor:.2f} the baseline",
                    flush=True,
                )

            small = run_import(quarter, "bench-quarter")
            full = run_import(big, "bench-full")
            assert full["rows"] == args.articles, full
            rate = args.articles / full["seconds"]
            versus = (
                f"; x{schema_floor / full['seconds']:.2f} the COPY into articles_article"
                if schema_floor
                else ""
            )
            print(
                f"import_articles, whole file              {full['seconds']:7.2f} s   {rate:9,.0f} articles/s"
                f"   x{rate / floor_rate:.2f} the baseline (goal >= 0.5){versus}",
                flush=True,
            )
            print(f"  {cpu_line(full, args.articles, 'article', floor_cpu)}", flush=True)
            assert (full["waiting"], full["index_left"], full["index_status"]) == (
                args.articles,
                0,
                "succeeded",
            ), full
            both = full["seconds"] + full["index_seconds"]
            print(
                f"  then the search index job (after commit) {full['index_seconds']:7.2f} s   "
                f"{args.articles / full['index_seconds']:9,.0f} articles/s   import + index "
                f"{both:.2f} s = x{floor / both:.2f} the baseline",
                flush=True,
            )
            print(
                f"peak RSS: {small['peak_rss_mb']:.0f} MB importing {args.articles // 4:,} articles, "
                f"{full['peak_rss_mb']:.0f} MB importing {args.articles:,} "
                f"(x{full['peak_rss_mb'] / small['peak_rss_mb']:.2f} for x4 the file)",
                flush=True,
            )

        spans_file, broken = directory / "spans.jsonl", directory / "broken.jsonl"
        spans = write_jsonl(spans_file, args.spans_articles, with_spans=True, seed=9)
        labelled = run_import(spans_file, "bench-spans")
        assert (labelled["rows"], labelled["spans"]) == (args.spans_articles, spans), labelled
        print(
            f"{args.spans_articles:,} articles with {spans:,} pre-labelled spans   {labelled['seconds']:7.2f} s"
            f"   {spans / labelled['seconds']:9,.0f} spans/s (goal <= 10 s for 491,000 spans); "
            f"then the search index job {labelled['index_seconds']:.2f} s",
            flush=True,
        )
        print(f"  {cpu_line(labelled, spans, 'span')}", flush=True)
        for where, line in (("last", -1), ("middle", args.spans_articles // 2)):
            break_offset(spans_file, broken, line=line)
            refused = run_import(broken, f"bench-broken-{where}")
            assert (refused["rows"], len(refused["rejected"])) == (0, 1), refused
            problem = refused["rejected"][0]
            print(
                f"same file, the {where} article's last offset broken: refused in {refused['seconds']:.2f} s, "
                f"0 rows written; report: line {problem['line']}, {problem['field']}: {problem['message']}",
                flush=True,
            )
            print(f"  {cpu_line(refused, spans, 'span')}", flush=True)
        print(f"load average at the end: {' '.join(f'{n:.2f}' for n in os.getloadavg())}", flush=True)


if __name__ == "__main__":
    main()
