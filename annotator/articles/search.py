"""Full-text search over articles' titles, metadata and texts, with a search document per article kept
beside the article, written after the article itself.

PostgreSQL: the side table `articles_search` (article_id, a tsvector in the 'simple' configuration: no
stemming, so it works the same for every project language) with a GIN index, queried with websearch
syntax ("a phrase", -word, or). SQLite: an FTS5 table, `articles_search_fts`, whose rowid is the
article's id. Both are made by the migration 0006_i18bulk_search_backlog, each only on its own database;
the models do not know them.

Why beside the article and not in its row: computing the tsvector and adding it to the GIN index costs
ten times writing the article (a bare COPY of 20,000 articles 2.3 s, with a generated tsvector column
23.9 s, with its GIN index 36 s), and a bulk import paid all of it inside its transaction. Now an import
writes the articles and one `SearchBacklog` row each; after it commits, an `index_search` job writes
the documents in chunks that any worker takes (`index_backlog`), and removes the backlog rows. Articles
are visible and annotatable as soon as the import commits; until their documents are written, a search
matches the project's backlog word by word when it is small (`FALLBACK_MAX`), and the browser and the
API say how many articles are still being indexed. Articles saved one at a time (the page, the API, a
re-import that updates one, the demo) get their document at once, through the same SQL
(`write_documents`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TypeVar

import orjson
from django.db import connection, models
from django.db.models.expressions import RawSQL

from annotator.articles.models import Article, SearchBacklog

ArticlesT = TypeVar("ArticlesT", bound=models.QuerySet[Article])

# What a search reads of each article: its first characters only, because a tsvector holds at most 1 MB
# and a document that overflows would make writing it fail.
SEARCHED_CHARS = 300_000
DOCUMENT = (
    "to_tsvector('simple'::regconfig, left(coalesce(a.title, '') || ' ' || coalesce(a.metadata::text, '') "
    f"|| ' ' || a.text, {SEARCHED_CHARS}))"
)
TABLE = "articles_search"
INDEX_NAME = "article_search_idx"
FTS_TABLE = "articles_search_fts"
QUERY_MAX_CHARS = 500
PROBE_LIMIT = 2_000  # matches read from the index before sorting by id
# Up to this many articles waiting for their documents, a search also reads them word by word (about a
# millisecond per 20 articles of news length on PostgreSQL); past it, a search says it cannot see them yet.
FALLBACK_MAX = 2_000
INDEX_CHUNK_ARTICLES = 2_000  # articles per chunk of an index job
_WORD = re.compile(r"\w+")

_POSTGRES_WRITE = (
    f"INSERT INTO {TABLE} (article_id, document) "  # noqa: S608 - constants of this module
    f"SELECT a.id, {DOCUMENT} FROM articles_article a WHERE a.id IN ({{ids}}) "
    "ON CONFLICT (article_id) DO UPDATE SET document = EXCLUDED.document"
)
_SQLITE_WRITE = [
    f"DELETE FROM {FTS_TABLE} WHERE rowid IN ({{ids}})",  # noqa: S608
    f"INSERT INTO {FTS_TABLE} (rowid, title, metadata, text) "  # noqa: S608
    f"SELECT a.id, a.title, a.metadata, substr(a.text, 1, {SEARCHED_CHARS}) FROM articles_article a "
    "WHERE a.id IN ({ids})",
]


def write_documents(article_ids: Sequence[int]) -> int:
    """Write (or rewrite) the search documents of these articles now, and take them off the backlog.

    For articles saved one at a time or a few at once; returns how many documents were written."""
    ids = [int(pk) for pk in article_ids]
    if not ids:
        return 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("DELETE FROM articles_searchbacklog WHERE article_id = ANY(%s)", [ids])
            cursor.execute(_POSTGRES_WRITE.format(ids="SELECT unnest(%s::bigint[])"), [ids])
            return int(cursor.rowcount)
        listed = orjson.dumps(ids).decode()
        for statement in _SQLITE_WRITE:
            cursor.execute(statement.format(ids="SELECT value FROM json_each(%s)"), [listed])
        written = int(cursor.rowcount)
        cursor.execute(
            "DELETE FROM articles_searchbacklog WHERE article_id IN (SELECT value FROM json_each(%s))",
            [listed],
        )
        return written


def index_backlog(*, project_id: int, first: int, last: int) -> int:
    """Write the documents of the project's waiting articles with ids from `first` to `last`, and take
    them off the backlog: one chunk of an index job. Idempotent: run again, it finds nothing left.

    Run it inside a transaction. On PostgreSQL the backlog rows are claimed FOR UPDATE SKIP LOCKED: rows
    another transaction holds (an import still running, which queues its own job) are left alone, and two
    jobs over the same articles share them out. Returns how many documents were written."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT article_id FROM articles_searchbacklog WHERE project_id = %s "
                "AND article_id BETWEEN %s AND %s ORDER BY article_id FOR UPDATE SKIP LOCKED",
                [project_id, first, last],
            )
            ids = [row[0] for row in cursor.fetchall()]
            if not ids:
                return 0
            cursor.execute(_POSTGRES_WRITE.format(ids="SELECT unnest(%s::bigint[])"), [ids])
            written = int(cursor.rowcount)
            cursor.execute("DELETE FROM articles_searchbacklog WHERE article_id = ANY(%s)", [ids])
            return written
        waiting = "SELECT article_id FROM articles_searchbacklog WHERE project_id = %s AND article_id BETWEEN %s AND %s"
        for statement in _SQLITE_WRITE:
            cursor.execute(statement.format(ids=waiting), [project_id, first, last])
        written = int(cursor.rowcount)
        cursor.execute(
            "DELETE FROM articles_searchbacklog WHERE project_id = %s AND article_id BETWEEN %s AND %s",
            [project_id, first, last],
        )
        return written


def queue_project(project_id: int) -> None:
    """Put every article of the project that has no search document on the backlog (a restored project,
    whose articles came in by bulk_create)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO articles_searchbacklog (article_id, project_id) SELECT id, project_id "
            "FROM articles_article WHERE project_id = %s ON CONFLICT (article_id) DO NOTHING",
            [project_id],
        )


def backlog_ranges(project_id: int, size: int | None = None) -> list[tuple[int, int, int]]:
    """The project's waiting articles as (first id, last id, count) runs of at most `size` articles
    (INDEX_CHUNK_ARTICLES)."""
    size = size or INDEX_CHUNK_ARTICLES
    ids = list(
        SearchBacklog.objects.filter(project_id=project_id).order_by("pk").values_list("pk", flat=True)
    )
    return [
        (part[0], part[-1], len(part))
        for part in (ids[start : start + size] for start in range(0, len(ids), size))
    ]


def unindexed(project_id: int) -> int:
    """How many of the project's articles have no search document yet (one count on an index)."""
    return SearchBacklog.objects.filter(project_id=project_id).count()


def fts5_query(query: str) -> str:
    """The user's words as an FTS5 query: every word must occur (quoted, so no word is FTS5 syntax)."""
    return " ".join(f'"{word}"' for word in _WORD.findall(query))


def matching(articles: ArticlesT, query: str, *, project_id: int, waiting: int | None = None) -> ArticlesT:
    """The articles whose title, metadata or text contain the query's words.

    `waiting` is the project's count of articles without a search document (`unindexed`), when the
    caller has it. Up to FALLBACK_MAX of them are matched word by word as well; more are not searched."""
    query = query.strip()[:QUERY_MAX_CHARS]
    if not query:
        return articles
    waiting = unindexed(project_id) if waiting is None else waiting
    fallback = 0 < waiting <= FALLBACK_MAX
    if connection.vendor == "postgresql":
        # The query is a parameter; the SQL around it is this module's constants.
        found_sql = (
            f"SELECT article_id FROM {TABLE} WHERE document @@ websearch_to_tsquery('simple'::regconfig, %s)"  # noqa: S608
        )
        params: list[object] = [query]
        if fallback:
            found_sql += (
                " UNION ALL SELECT a.id FROM articles_searchbacklog b JOIN articles_article a ON a.id = "  # noqa: S608
                f"b.article_id WHERE b.project_id = %s AND {DOCUMENT} @@ websearch_to_tsquery('simple'::regconfig, %s)"
            )
            params += [project_id, query]
        hit = RawSQL(found_sql, params)  # noqa: S611
        # The planner cannot tell a word of one article from a word of thousands (both are rare in its
        # statistics); sorted by id it may then walk the whole table testing each row. So ask first, with no
        # order: a few matches come straight from the index and are the answer; many mean that walking the
        # ids finds a page of them soon.
        found = list(articles.filter(pk__in=hit).order_by().values_list("pk", flat=True)[: PROBE_LIMIT + 1])
        return articles.filter(pk__in=found) if len(found) <= PROBE_LIMIT else articles.filter(pk__in=hit)
    words = _WORD.findall(query)
    if not words:
        return articles.none()
    sql = f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s"  # noqa: S608
    params = [fts5_query(query)]
    if fallback:
        # A plain match, case-blind for ASCII as SQLite's LIKE is: each word somewhere in the document.
        likes = " AND ".join(
            ["(a.title || ' ' || a.metadata || ' ' || a.text) LIKE %s ESCAPE '\\'"] * len(words)
        )
        sql += (
            " UNION ALL SELECT a.id FROM articles_searchbacklog b JOIN articles_article a ON "  # noqa: S608
            f"a.id = b.article_id WHERE b.project_id = %s AND {likes}"
        )
        params += [project_id, *(f"%{_like(word)}%" for word in words)]
    return articles.filter(pk__in=RawSQL(sql, params))  # noqa: S611


def _like(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
