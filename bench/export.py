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
too, and on PostgreSQL its backends' (read from /proc when the server runs on this machine): on a loaded
machine the wall time is mostly waiting for a core. Runs on SQLite too (without DATABASE_URL), without the
COPY baseline.

4. `--compare N` (PostgreSQL): N rounds, each of COPY, the export on one connection and the export on two
   (ANNOTATOR_EXPORT_SECOND_READER_AFTER -1 and 1000), in turn, so that all three meet the same load:
   each round's seconds and its ratio to that round's COPY, the medians, and the SHA-256 of every
   export's bytes (one connection and two must write the same).
5. `--formats all` (or a list, `conll,spacy`): each format's streamed export in a fresh process, right
   after a COPY of the same rows: seconds and their ratio to that COPY, CPU (the process's and its
   backends') per span and against JSONL's and COPY's CPU, peak RSS, SHA-256. With `--workers N`, each
   format also as an export job whose chunks N worker processes share (run as `db_worker` runs them):
   seconds from the job's start to its whole file, the workers' CPU and peak RSS, and whether the file
   has the streamed bytes (a brat zip stamps its members with the time written, so it differs by that).

    DATABASE_URL=postgres://... python bench/export.py --articles 10000 --length 2500 --formats all --workers 2
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

from _harness import ROOT, bench_database, cpu_seconds

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
import hashlib, json, os, sys, time
sys.path.insert(0, {root!r})
import django
django.setup()
from django.db.backends.signals import connection_created
from annotator.interchange import span_json
from annotator.interchange.exports import ExportQuery, export_bytes
from annotator.projects.models import Project


def backend_cpu(pid):
    try:  # user + system CPU seconds of a backend, when the server runs on this machine
        fields = open(f"/proc/{{pid}}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# The export's backends: the reading thread's (taken from the pool when the export starts, still open in
# the pool after it) and the second reader's (read just before it closes).
backends, database = {{}}, []


def taken(sender, connection, **kwargs):
    if connection.vendor == "postgresql":
        pid = connection.connection.info.backend_pid
        backends.setdefault(pid, backend_cpu(pid))


connection_created.connect(taken)
second = getattr(span_json, "SecondReader", object)
opened, closing = second.__init__, getattr(second, "close", None)


def opening(self):
    opened(self)
    self.bench_cpu = backend_cpu(self._connection.info.backend_pid)


def close(self):
    after = backend_cpu(self._connection.info.backend_pid)
    if None not in (after, self.bench_cpu):
        database.append(after - self.bench_cpu)
    closing(self)


if hasattr(span_json, "SecondReader"):  # (code from before it, run for a comparison, has none)
    span_json.SecondReader.__init__, span_json.SecondReader.close = opening, close
project = Project.objects.get(slug={slug!r})
export_format = os.environ.get("BENCH_EXPORT_FORMAT", "jsonl")
backends.clear()
size, digest = 0, hashlib.sha256()
before = os.times()
start = time.perf_counter()
with open(os.devnull, "wb") as out:
    for chunk in export_bytes(project, ExportQuery(format=export_format)):
        out.write(chunk)
        digest.update(chunk)
        size += len(chunk)
seconds = time.perf_counter() - start
after = os.times()
cpu = after.user + after.system - before.user - before.system
for pid, first in backends.items():
    last = backend_cpu(pid)
    if None not in (first, last):
        database.append(last - first)
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec, so a child would report its parent's peak.
peak = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({{"seconds": seconds, "cpu": cpu, "bytes": size, "peak_rss_mb": int(peak.split()[1]) / 1024,
                  "sha256": digest.hexdigest(), "database_cpu": sum(database) if database else None,
                  "connections": len(database)}}))
"""


def run_export(second_reader_after: int | None = None, export_format: str = "jsonl") -> dict:
    """Export the project's gold in a fresh process, so that its peak RSS is the export's own."""
    code = CHILD.format(root=str(ROOT), slug=SLUG)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BENCH_EXPORT_FORMAT": export_format}
    if second_reader_after is not None:
        env["ANNOTATOR_EXPORT_SECOND_READER_AFTER"] = str(second_reader_after)
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
    return copy_cost(project_id)[0]


def copy_cost(project_id: int) -> tuple[float, float | None]:
    """`copy_out`'s seconds, and the CPU seconds it costs: this process's and its backend's (None when the
    server runs on another machine)."""
    from django.db import connection

    connection.ensure_connection()
    backend = connection.connection.info.backend_pid
    first, before = cpu_seconds(backend), os.times()
    start = time.perf_counter()
    with connection.cursor() as cursor:
        for sql in (ARTICLES_SQL, SPANS_SQL):
            with cursor.cursor.copy(f"COPY ({sql.format(p=project_id)}) TO STDOUT") as copy:
                for _ in copy:
                    pass
    seconds = time.perf_counter() - start
    after, last = os.times(), cpu_seconds(backend)
    own = after.user + after.system - before.user - before.system
    return seconds, (own + last - first) if None not in (first, last) else None


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
    parser.add_argument(
        "--compare", type=int, default=0, metavar="N",
        help="Then N rounds of COPY, the export on one connection and on two, interleaved (PostgreSQL).",
    )  # fmt: skip
    parser.add_argument(
        "--formats", default="", metavar="F,G",
        help="Then each format's streamed export (`all`: every format), each beside a COPY of the same rows.",
    )  # fmt: skip
    parser.add_argument(
        "--workers", type=int, default=0, metavar="N",
        help="With --formats: each format also as an export job, its chunks shared by N worker processes.",
    )  # fmt: skip
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
                f"peak RSS {run['peak_rss_mb']:6.0f} MB   process CPU {run['cpu']:5.2f} s{database_cpu(run)}",
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
        print(f"load average {' '.join(f'{value:.1f}' for value in os.getloadavg())}", flush=True)
        if args.compare and vendor == "postgresql":
            compare(project.pk, args.articles, args.compare)
        if args.formats:
            per_format(project.pk, spans, full, args.formats, args.workers)


def database_cpu(run: dict) -> str:
    if run.get("database_cpu") is None:
        return ""
    return f"   database CPU {run['database_cpu']:5.2f} s ({run['connections']} connection(s))"


def compare(project_id: int, articles: int, rounds: int) -> None:
    """COPY, the export on one connection and the export on two, in turn, `rounds` times."""
    ways = {"one connection": -1, "two connections": 1000}
    copies: list[float] = []
    runs: dict[str, list[dict]] = {name: [] for name in ways}
    for number in range(1, rounds + 1):
        copies.append(copy_out(project_id))
        for name, after in ways.items():
            runs[name].append(run_export(after))
        print(
            f"round {number}: load {os.getloadavg()[0]:5.1f}   COPY {copies[-1]:5.2f} s   "
            + "   ".join(
                f"{name} {made[-1]['seconds']:5.2f} s (x{copies[-1] / made[-1]['seconds']:.2f}, process CPU "
                f"{made[-1]['cpu']:.2f} s{database_cpu(made[-1])})"
                for name, made in runs.items()
            ),
            flush=True,
        )
    copy = statistics.median(copies)
    print(f"COPY (SELECT ...) TO STDOUT, median of {rounds}: {copy:.2f} s", flush=True)
    for name, made in runs.items():
        seconds = statistics.median(run["seconds"] for run in made)
        ratios = statistics.median(copies[at] / run["seconds"] for at, run in enumerate(made))
        cpus = [run["database_cpu"] for run in made if run.get("database_cpu") is not None]
        print(
            f"export on {name:<16} median {seconds:5.2f} s   {articles / seconds:7,.0f} articles/s   "
            f"x{copy / seconds:.2f} of COPY's median rate (median of each round's ratio x{ratios:.2f})   "
            f"process CPU {statistics.median(run['cpu'] for run in made):.2f} s"
            + (f"   database CPU {statistics.median(cpus):.2f} s" if cpus else "")
            + f"   peak RSS {max(run['peak_rss_mb'] for run in made):.0f} MB",
            flush=True,
        )
    digests = {name: {run["sha256"] for run in made} for name, made in runs.items()}
    same = len(set().union(*digests.values())) == 1
    print(
        "SHA-256 of every export: "
        + "; ".join(f"{name} {', '.join(sorted(found))}" for name, found in digests.items())
        + (" (all the same bytes)" if same else " (DIFFERENT BYTES)"),
        flush=True,
    )
    print(f"load average {' '.join(f'{value:.1f}' for value in os.getloadavg())}", flush=True)


JOB_WORKER = """
import hashlib, json, os, sys, time
sys.path.insert(0, {root!r})
import django
django.setup()
from annotator.interchange.exports import export_path
from annotator.jobs.chunks import run_chunk
from annotator.jobs.models import Job, JobChunk, JobStatus
from annotator.jobs.registry import handler_for
from annotator.jobs.services import run_job

job = Job.objects.get(pk={job!r})
handler = handler_for(job.kind)
before, ran = os.times(), 0
if {first!r}:  # the worker that took the job's task: it plans the chunks and runs the first
    run_job(job, spread=True)
    ran += 1
while True:  # then, like every worker, the queued chunks any worker may take, until the job ends
    status = Job.objects.filter(pk=job.pk).values_list("status", flat=True).get()
    if status not in (JobStatus.QUEUED, JobStatus.RUNNING):
        break
    queued = JobChunk.objects.filter(job=job, status=JobStatus.QUEUED).order_by("number")
    chunk = queued.values_list("pk", flat=True).first()
    if chunk is None:
        time.sleep(0.02)
        continue
    if run_chunk(chunk, handler) == JobStatus.SUCCEEDED:  # (not when another worker claimed it first)
        ran += 1
after = os.times()
peak = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({{"cpu": after.user + after.system - before.user - before.system, "chunks": ran,
                  "peak_rss_mb": int(peak.split()[1]) / 1024, "status": status}}))
"""


def run_job_export(export_format: str, workers: int) -> dict:
    """The export as a job whose chunks `workers` processes share (each runs chunks as a `db_worker` does,
    taking them from the job's queued chunks): seconds from the job's start to the file whole (the workers'
    start-up not counted), every worker's CPU, the largest peak RSS, the file's SHA-256."""
    import hashlib

    from annotator.interchange.exports import ExportQuery, export_path, start_export
    from annotator.projects.models import Project

    job = start_export(
        project=Project.objects.get(slug=SLUG), query=ExportQuery(format=export_format), by=None, queue=False
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    children = [
        subprocess.Popen(
            [sys.executable, "-c", JOB_WORKER.format(root=str(ROOT), job=job.pk, first=number == 0)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for number in range(workers)
    ]
    outputs = [child.communicate() for child in children]
    if any(child.returncode for child in children):
        raise SystemExit("\n".join(err[-3000:] for _, err in outputs))
    runs = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    job.refresh_from_db()
    if job.status != "succeeded":
        raise SystemExit(f"The export job ended {job.status}: {job.message}")
    seconds = (job.finished_at - job.started_at).total_seconds()
    path = export_path(job)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    size = path.stat().st_size
    path.unlink()
    return {"seconds": seconds, "cpu": sum(run["cpu"] for run in runs), "bytes": size, "sha256": digest,
            "peak_rss_mb": max(run["peak_rss_mb"] for run in runs),
            "chunks": [run["chunks"] for run in runs]}  # fmt: skip


def per_format(project_id: int, spans: int, jsonl: dict, formats: str, workers: int) -> None:
    """Each format's streamed export in a fresh process, right after a COPY of the same rows (so that both
    meet the same load), and with `workers`, as a job shared by that many worker processes."""
    from annotator.interchange.formats import FORMATS

    names = sorted(FORMATS.writers) if formats == "all" else formats.split(",")
    jsonl_cpu = jsonl["cpu"] + (jsonl.get("database_cpu") or 0)
    for name in names:
        copy, copy_cpu = copy_cost(project_id)
        run = run_export(export_format=name)
        cpu = run["cpu"] + (run.get("database_cpu") or 0)
        print(
            f"{name:<12} streamed {run['seconds']:6.2f} s (x{copy / run['seconds']:.2f} of COPY's {copy:.2f} s)   "
            f"CPU {run['cpu']:5.2f} s + database {run.get('database_cpu') or 0:4.2f} s = "
            f"{cpu * 1e6 / spans:5.1f} us/span (x{cpu / jsonl_cpu:4.1f} JSONL's"
            + (f", x{cpu / copy_cpu:4.1f} COPY's {copy_cpu:.2f} s" if copy_cpu else "")
            + f")   {run['bytes'] / 1e6:6.1f} MB   peak RSS {run['peak_rss_mb']:5.0f} MB   "
            f"sha256 {run['sha256'][:16]}   load {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        if workers:
            job = run_job_export(name, workers)
            print(
                f"{name:<12} job, {workers} worker(s) {job['seconds']:6.2f} s   workers' CPU {job['cpu']:5.2f} s   "
                f"chunks per worker {job['chunks']}   peak RSS {job['peak_rss_mb']:5.0f} MB   "
                f"sha256 {job['sha256'][:16]}"
                + (
                    " (= streamed)"
                    if job["sha256"] == run["sha256"]
                    else " (not the streamed bytes: brat's zip times)"
                ),
                flush=True,
            )
    print(f"load average {' '.join(f'{value:.1f}' for value in os.getloadavg())}", flush=True)


if __name__ == "__main__":
    main()
