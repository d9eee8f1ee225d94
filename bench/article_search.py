"""The article browser over a generated corpus: a text search and a filtered page, p50/p95.

    DATABASE_URL=postgres://... python bench/article_search.py   # 1,000,000 articles on PostgreSQL
    python bench/article_search.py                               # 100,000 articles on SQLite
    ARTICLE_BENCH_ARTICLES=200000 python bench/article_search.py # another size

Articles are 61 words (~350 characters): two of 1,000 base texts, whose words come from a 5,000-word
vocabulary with a long tail (some words are in most articles, some in a few hundred), around a word of
the article alone. 10% have an annotator's set in progress, 5% an imported set. PostgreSQL rows are
made by one INSERT ... SELECT over generate_series, SQLite rows by executemany; then every article's
search document in one statement (after an import, the index job writes them chunk by chunk).

Each figure times what the page does (`review.browse`: the filtered, sorted keyset page of 50 rows and
the status and annotators of those rows), against a same-run baseline: the bare first page by id.
The goal (BENCHMARKS / issue 14) is p95 < 100 ms on PostgreSQL at 1,000,000 articles.
"""

from __future__ import annotations

import hashlib
import os
import random
import time
from collections import Counter

from _harness import bench_database, report, timed

REPEAT = 30
WORDS = 5000
BASES = 1000


def word(n: int) -> str:
    """Word n of the vocabulary: the same in SQL (`substr(md5(n::text), 1, 3 + n % 6)`) and in Python."""
    return hashlib.md5(str(n).encode()).hexdigest()[: 3 + n % 6]  # noqa: S324 - made-up words, not security


def base_texts(rng: random.Random) -> list[str]:
    """1,000 texts of 30 words, each word drawn with a long tail (squaring a uniform number favours low n)."""
    return [" ".join(word(int((WORDS - 1) * rng.random() ** 2)) for _ in range(30)) for _ in range(BASES)]


def article_text(i: int, bases: list[str]) -> str:
    """Two base texts around a word of this article alone: 1,000,000 different texts of 61 words."""
    return f"{bases[i % BASES]} {hashlib.md5(str(i).encode()).hexdigest()[:8]} {bases[(i // BASES) % BASES]}"  # noqa: S324


def load_postgres(project_id: int, count: int, bases: list[str]) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE bench_base (id int PRIMARY KEY, text text)")
        cursor.executemany("INSERT INTO bench_base VALUES (%s, %s)", list(enumerate(bases)))
        cursor.execute(
            """
            INSERT INTO articles_article
                (project_id, external_id, title, text, metadata, content_hash, revision, created_at, updated_at)
            SELECT %s, 'a' || i, 'Article ' || i || ' ' || substr(md5((i %% 97)::text), 1, 5),
                   b1.text || ' ' || substr(md5(i::text), 1, 8) || ' ' || b2.text,
                   jsonb_build_object('source', 'source-' || (i %% 20)), md5(i::text), 1, now(), now()
              FROM generate_series(1::bigint, %s) i
              JOIN bench_base b1 ON b1.id = i %% %s
              JOIN bench_base b2 ON b2.id = (i / %s) %% %s
            """,
            [project_id, count, BASES, BASES, BASES],
        )
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ANALYZE articles_article")


def write_documents(project_id: int) -> None:
    """Every article's search document, in one statement (what the index job does chunk by chunk after an
    import, articles/search.py), so that the searches below read the index, not the backlog."""
    from django.db import connection

    from annotator.articles.search import DOCUMENT, FTS_TABLE, SEARCHED_CHARS, TABLE

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"INSERT INTO {TABLE} (article_id, document) SELECT a.id, {DOCUMENT} "
                "FROM articles_article a WHERE a.project_id = %s",
                [project_id],
            )
            cursor.execute(f"ANALYZE {TABLE}")
        else:
            cursor.execute(
                f"INSERT INTO {FTS_TABLE} (rowid, title, metadata, text) SELECT id, title, metadata, "
                f"substr(text, 1, {SEARCHED_CHARS}) FROM articles_article WHERE project_id = %s",
                [project_id],
            )


def load_sqlite(project_id: int, count: int, bases: list[str]) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for first in range(1, count + 1, 10_000):
            batch = [
                (project_id, f"a{i}", f"Article {i} {hashlib.md5(str(i % 97).encode()).hexdigest()[:5]}",  # noqa: S324
                 article_text(i, bases), f'{{"source": "source-{i % 20}"}}', f"{i:064x}")
                for i in range(first, min(first + 10_000, count + 1))
            ]  # fmt: skip
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
        from django.db import connection, transaction

        from annotator.projects.models import Project
        from annotator.review import browse

        project = Project.objects.create(name="Bench", slug="bench")
        annotator = get_user_model().objects.create_user("bench-annotator")
        bases = base_texts(random.Random(3))
        started = time.perf_counter()
        with transaction.atomic():
            (load_postgres if vendor == "postgresql" else load_sqlite)(project.pk, count, bases)
            add_sets(project.pk, annotator.pk)
        with transaction.atomic():
            write_documents(project.pk)
        with connection.cursor() as cursor:  # what autovacuum (PostgreSQL) or PRAGMA optimize (SQLite) does
            if vendor == "postgresql":
                cursor.execute("VACUUM ANALYZE articles_article")
                cursor.execute("VACUUM ANALYZE annotations_annotationset")
            else:
                cursor.execute("ANALYZE")
        print(f"{vendor}: {count:,} articles made in {time.perf_counter() - started:.1f} s", flush=True)
        print(f"load average: {', '.join(f'{n:.2f}' for n in os.getloadavg())}", flush=True)

        def show(filters: browse.ArticleFilters, after: str = "") -> int:
            rows, _ = browse.page(browse.filtered(project, filters), filters.sort, after)
            return len(browse.describe(rows))

        # A word of one article, one of the long tail, a middling one, and one in most articles.
        unique = hashlib.md5(str(count // 3).encode()).hexdigest()[:8]  # noqa: S324
        in_bases = Counter(w for text in bases for w in set(text.split()))
        by_count = sorted(in_bases, key=lambda w: (in_bases[w], w))
        rare = next(w for w in by_count if in_bases[w] == 1)  # in 1 of 1,000 base texts: ~0.2% of articles
        middling = next(w for w in by_count if in_bases[w] >= 10)  # ~2%
        common = by_count[-1]
        deep_rows, _ = browse.page(browse.filtered(project, browse.ArticleFilters()), "new")
        baseline = timed(lambda: show(browse.ArticleFilters()), REPEAT)
        cases = [
            ("first page, newest first (baseline)", browse.ArticleFilters(), ""),
            (f"text search, one article's word ({unique})", browse.ArticleFilters(query=unique), ""),
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
            if os.environ.get("ARTICLE_BENCH_EXPLAIN"):
                print(
                    browse.filtered(project, filters).order_by("-pk")[:51].explain(analyze=True), flush=True
                )
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
