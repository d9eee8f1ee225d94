"""Full-text search over articles' titles, metadata and texts, with the index of each database.

PostgreSQL: a stored generated tsvector column (`search_document`, the 'simple' configuration: no stemming,
so it works the same for every project language) with a GIN index, queried with websearch syntax ("a
phrase", -word, or). Stored, not an expression index: when a word is common the planner walks the
primary key and tests each row, and recomputing to_tsvector per row costs ~100x reading the stored one.
SQLite: an FTS5 table kept in step with the articles by triggers. Both are made by the migration
0003_i14_article_search, each only on its own database; the models do not know the column.
"""

from __future__ import annotations

import re
from typing import TypeVar

from django.db import connection, models
from django.db.models.expressions import RawSQL

from annotator.articles.models import Article

ArticlesT = TypeVar("ArticlesT", bound=models.QuerySet[Article])

# What a search reads of each article: its first characters only, because a tsvector holds at most 1 MB
# and a document that overflows would make inserting the article fail.
SEARCHED_CHARS = 300_000
DOCUMENT = (
    "to_tsvector('simple'::regconfig, left(coalesce(title, '') || ' ' || coalesce(metadata::text, '') || ' ' "
    f"|| text, {SEARCHED_CHARS}))"
)
COLUMN = "search_document"
INDEX_NAME = "article_search_idx"
FTS_TABLE = "articles_article_fts"
QUERY_MAX_CHARS = 500
PROBE_LIMIT = 2_000  # matches read from the index before sorting by id
_WORD = re.compile(r"\w+")


def fts5_query(query: str) -> str:
    """The user's words as an FTS5 query: every word must occur (quoted, so no word is FTS5 syntax)."""
    return " ".join(f'"{word}"' for word in _WORD.findall(query))


def matching(articles: ArticlesT, query: str) -> ArticlesT:
    """The articles whose title, metadata or text contain the query's words."""
    query = query.strip()[:QUERY_MAX_CHARS]
    if not query:
        return articles
    if connection.vendor == "postgresql":
        # The query is a parameter; the SQL around it is this module's constant (the index's expression).
        hit = RawSQL(  # noqa: S611
            f'"articles_article"."{COLUMN}" @@ websearch_to_tsquery(\'simple\'::regconfig, %s)',
            (query,),
            output_field=models.BooleanField(),
        )
        # The planner cannot tell a word of one article from a word of thousands (both are rare in its
        # statistics); sorted by id it may then walk the whole table testing each row. So ask first, with no
        # order: a few matches come straight from the index and are the answer; many mean that walking the
        # ids finds a page of them soon.
        found = list(articles.filter(hit).order_by().values_list("pk", flat=True)[: PROBE_LIMIT + 1])
        return articles.filter(pk__in=found) if len(found) <= PROBE_LIMIT else articles.filter(hit)
    words = fts5_query(query)
    if not words:
        return articles.none()
    rowids = RawSQL(f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s", (words,))  # noqa: S608, S611
    return articles.filter(pk__in=rowids)
