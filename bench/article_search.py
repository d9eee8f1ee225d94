"""The article browser over a generated corpus: a text search and a filtered page, p50/p95.

    DATABASE_URL=postgres://... python bench/article_search.py   # 1,000,000 articles on PostgreSQL
    python bench/article_search.py                               # 100,000 articles on SQLite
    ARTICLE_BENCH_ARTICLES=200000 python bench/article_search.py # another size

Articles are ~60 words (~400 characters) drawn from a 5,000-word vocabulary with a long tail, so that
some words occur in most articles and some in a handful; 10% have an annotator's set in progress and
5% an imported set. PostgreSQL rows are made by one INSERT ... SELECT over generate_series (with the
search index dropped during the load and built after it, as a bulk import would); SQLite rows by
executemany, its FTS5 triggers on.

Each figure times what the page does (`review.browse`: the filtered, sorted keyset page of 50 rows and
the status and annotators of those rows), against a same-run baseline: the bare first page by id.
The goal (BENCHMARKS / issue 14) is p95 < 100 ms on PostgreSQL at 1,000,000 articles.
"""

from __future__ import annotations

import os
import random
import time

from _harness import bench_database, report, timed

REPEAT = 40
WORDS = 5000


def vocabulary() -> list[str]:
    rng = random.Random(3)
    letters = "abcdefghijklmnopqrstuvwxyz"
    words: set[str] = set()
    while len(words) < WORDS:
        words.add("".join(rng.choice(letters) for _ in range(rng.randint(3, 9))))
    return sorted(words)


def load_postgres(project_id: int, count: int, words: list[str]) -> None:
    from importlib import import_module

    from django.db import connection

    from annotator.articles.search import INDEX_NAME

    migration = import_module("annotator.articles.migrations.0003_i14_article_search")
    with connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX IF EXISTS {INDEX_NAME}")
        # Word k of article i: a long-tailed pick (squaring a uniform number favours the first words).
        cursor.execute(
            """
            INSERT INTO articles_article
                (project_id, external_id, title, text, metadata, content_hash, revision, created_at, updated_at)
            SELECT %s, 'a' || i, 'Article ' || i || ' ' || w[1 + (i * 7919) %% %s],
                   (SELECT string_agg(w[1 + floor(%s * power(((i * 40503 + k * 9973) %% 65536) / 65536.0, 2))::int],
                                      ' ')
                      FROM generate_series(1, 60) k),
                   jsonb_build_object('source', 'source-' || (i %% 20)), md5(i::text), 1, now(), now()
              FROM generate_series(1::bigint, %s) i, (SELECT %s::text[] AS w) words
            """,
            [project_id, len(words), len(words) - 1, count, words],
        )
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the deferred key checks run now, before the index
        cursor.execute("SET maintenance_work_mem = '512MB'")
        for statement in migration.POSTGRES_CREATE:
            cursor.execute(statement)
        cursor.execute("ANALYZE articles_article")


def load_sqlite(project_id: int, count: int, words: list[str]) -> None:
    from django.db import connection

    rng = random.Random(5)
    weights = [1 / (rank + 1) for rank in range(len(words))]
    with connection.cursor() as cursor:
        for first in range(1, count + 1, 10_000):
            batch = []
            for i in range(first, min(first + 10_000, count + 1)):
                text = " ".join(rng.choices(words, weights, k=60))
                batch.append((project_id, f"a{i}", f"Article {i} {words[i % len(words)]}", text,
                              f'{{"source": "source-{i % 20}"}}', f"{i:064x}"))  # fmt: skip
            cursor.executemany(
                "INSERT INTO articles_article (project_id, external_id, title, text, metadata, content_hash, "
                "revision, created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, 1, datetime(), datetime())",
                batch,
            )


def add_sets(project_id: int, annotator_id: int) -> None:
    """An annotator's set in progress on every tenth article, an imported set on every twentieth."""
    from django.db import connection

    with connection.cursor() as cursor:
        for kind, annotator, name, every in (
            ("annotator", annotator_id, "", 10),
            ("imported", None, "ner-v1", 20),
        ):
            cursor.execute(
                "INSERT INTO annotations_annotationset (article_id, kind, annotator_id, name, status, version, "
                "created_at, updated_at, submitted_at, guideline_version_id) "
                "SELECT id, %s, %s, %s, 'in_progress', 1, created_at, created_at, NULL, NULL "
                "FROM articles_article WHERE project_id = %s AND id %% %s = 0",
                [kind, annotator, name, project_id, every],
            )
        if connection.vendor == "postgresql":
            cursor.execute("ANALYZE annotations_annotationset")


def main() -> None:
    with bench_database("article_search") as vendor:
        count = int(
            os.environ.get("ARTICLE_BENCH_ARTICLES", "1000000" if vendor == "postgresql" else "100000")
        )
        from django.contrib.auth import get_user_model
        from django.db import transaction

        from annotator.projects.models import Project
        from annotator.review import browse

        project = Project.objects.create(name="Bench", slug="bench")
        annotator = get_user_model().objects.create_user("bench-annotator")
        words = vocabulary()
        started = time.perf_counter()
        with transaction.atomic():
            (load_postgres if vendor == "postgresql" else load_sqlite)(project.pk, count, words)
            add_sets(project.pk, annotator.pk)
        print(f"{vendor}: {count:,} articles made in {time.perf_counter() - started:.1f} s", flush=True)
        print(f"load average: {', '.join(f'{n:.2f}' for n in os.getloadavg())}", flush=True)

        def show(filters: browse.ArticleFilters, after: str = "") -> int:
            rows, _ = browse.page(browse.filtered(project, filters), filters.sort, after)
            return len(browse.describe(rows))

        # A word of the long tail (a few hundred articles), a middling one, and one in most articles.
        rare, middling, common = words[4000], words[300], words[1]
        deep_rows, _ = browse.page(browse.filtered(project, browse.ArticleFilters()), "new")
        baseline = timed(lambda: show(browse.ArticleFilters()), REPEAT)
        cases = [
            ("first page, newest first (baseline)", browse.ArticleFilters(), ""),
            (f"text search, a rare word ({rare})", browse.ArticleFilters(query=rare), ""),
            (f"text search, a middling word ({middling})", browse.ArticleFilters(query=middling), ""),
            (f"text search, a common word ({common})", browse.ArticleFilters(query=common), ""),
            ("text search, two words", browse.ArticleFilters(query=f"{middling} {common}"), ""),
            ("filtered: status in progress", browse.ArticleFilters(status="in_progress"), ""),
            ("filtered: annotator", browse.ArticleFilters(assignee=annotator.pk), ""),
            (
                "filtered: imported set + word",
                browse.ArticleFilters(imported_set="ner-v1", query=middling),
                "",
            ),
            ("sorted by title", browse.ArticleFilters(sort="title"), ""),
        ]
        for name, filters, after in cases:
            hits = show(filters, after)
            report(f"{name} [{hits} rows]", timed(lambda f=filters, a=after: show(f, a), REPEAT), baseline)
        # Deep in the keyset: the page after the 500,000th-newest article costs what the first one does.
        middle = browse.encode_cursor(type(deep_rows[0])(pk=deep_rows[0].pk - count // 2, title=""), "new")
        report(
            "page half-way down, newest first",
            timed(lambda: show(browse.ArticleFilters(), middle), REPEAT),
            baseline,
        )
        print(f"load average: {', '.join(f'{n:.2f}' for n in os.getloadavg())}", flush=True)


if __name__ == "__main__":
    main()
