"""The article browser's reads: search, filters, sorting and keyset paging over a project's articles.

Keyset paging (`WHERE (sort key, id) beyond the last row ORDER BY ... LIMIT n`) costs the same on page
1 and page 20,000, where OFFSET would read every row before the page.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from django.db.models import CharField, Exists, F, Func, OuterRef, QuerySet

from annotator.annotations.models import AnnotationSet, SetKind, Span
from annotator.annotations.status import with_status
from annotator.articles.models import TITLE_SORT_CHARS, Article, ArticleStatus
from annotator.articles.search import matching
from annotator.projects.models import Project
from annotator.suggestions.models import Decision, Suggestion

PAGE_SIZE = 50


class TitleSortKey(Func):
    """What the title sort orders by: the start of the title, written exactly as the index's expression
    (article_title_sort_idx). The length is a literal, not a parameter as in Django's Left: SQLite uses an
    index on an expression only for the very same expression, and `SUBSTR(title, ?, ?)` is not
    `SUBSTR(title, 1, 100)`."""

    output_field = CharField()
    template = f"LEFT(%(expressions)s, {TITLE_SORT_CHARS})"

    def __init__(self) -> None:
        super().__init__(F("title"))

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template=f"SUBSTR(%(expressions)s, 1, {TITLE_SORT_CHARS})")


TITLE_KEY = TitleSortKey()
SORTS = {"new": "Newest first", "old": "Oldest first", "title": "Title"}


@dataclass(frozen=True)
class ArticleFilters:
    """What the browser shows: all fields optional, as read from the query string."""

    query: str = ""
    status: str = ""
    assignee: int | None = None
    entity_type: int | None = None
    undecided: bool = False
    imported_set: str = ""
    sort: str = "new"

    @property
    def active(self) -> bool:
        return bool(
            self.query
            or self.status
            or self.assignee
            or self.entity_type
            or self.undecided
            or self.imported_set
        )


def filtered(project: Project, filters: ArticleFilters, *, waiting: int | None = None) -> QuerySet[Article]:
    """The project's articles that pass the filters; `waiting` is how many have no search document yet,
    when the caller has counted them (articles/search.py)."""
    articles = matching(
        Article.objects.filter(project=project), filters.query, project_id=project.pk, waiting=waiting
    )
    if filters.status in ArticleStatus.values:
        articles = with_status(articles).filter(status=filters.status)  # type: ignore[misc]
    sets = AnnotationSet.objects.filter(article=OuterRef("pk"))
    if filters.assignee is not None:
        articles = articles.filter(Exists(sets.filter(kind=SetKind.ANNOTATOR, annotator_id=filters.assignee)))
    if filters.entity_type is not None:
        spans = Span.objects.filter(
            annotation_set__article=OuterRef("pk"), entity_type_id=filters.entity_type
        )
        articles = articles.filter(Exists(spans))
    if filters.undecided:
        decided = Decision.objects.filter(suggestion=OuterRef("pk"))
        undecided = Suggestion.objects.filter(article=OuterRef("pk")).exclude(Exists(decided))
        articles = articles.filter(Exists(undecided))
    if filters.imported_set:
        articles = articles.filter(Exists(sets.filter(kind=SetKind.IMPORTED, name=filters.imported_set)))
    return articles


def encode_cursor(row: Article, sort: str) -> str:
    key: list[Any] = [row.title[:TITLE_SORT_CHARS], row.pk] if sort == "title" else [row.pk]
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> list[Any] | None:
    """The key a cursor carries, or None for a cursor that is not one of ours (the first page then)."""
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    if sort == "title":
        valid = isinstance(key, list) and len(key) == 2 and isinstance(key[0], str)
    else:
        valid = isinstance(key, list) and len(key) == 1
    return key if valid and isinstance(key[-1], int) and not isinstance(key[-1], bool) else None


def page(articles: QuerySet[Article], sort: str, cursor: str = "") -> tuple[list[Article], str | None]:
    """One page of rows after the cursor, and the cursor of the next page (None on the last)."""
    sort = sort if sort in SORTS else "new"
    key = decode_cursor(cursor, sort) if cursor else None
    if key is not None:
        if sort == "new":
            articles = articles.filter(pk__lt=key[0])
        elif sort == "old":
            articles = articles.filter(pk__gt=key[0])
        else:
            # `>=` first, so that the index range starts at the cursor; then the rows of equal key up to it go.
            articles = articles.annotate(title_key=TITLE_KEY).filter(title_key__gte=key[0])
            articles = articles.exclude(title_key=key[0], pk__lte=key[1])
    orders: dict[str, list[Any]] = {"new": ["-pk"], "old": ["pk"], "title": [TITLE_KEY, "pk"]}
    order = orders[sort]
    rows = list(articles.order_by(*order).only("pk", "title", "external_id", "project_id")[: PAGE_SIZE + 1])
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return rows, encode_cursor(rows[-1], sort) if more else None


def describe(rows: list[Article]) -> list[dict[str, Any]]:
    """Each row's status and the annotators who have a set of it: two queries for the whole page."""
    ids = [row.pk for row in rows]
    statuses = dict(with_status(Article.objects.filter(pk__in=ids)).values_list("pk", "status"))  # type: ignore[misc]
    annotators: dict[int, list[str]] = {}
    sets = AnnotationSet.objects.filter(article_id__in=ids, kind=SetKind.ANNOTATOR).select_related(
        "annotator"
    )
    for annotation_set in sets.order_by("article_id", "annotator__username"):
        annotators.setdefault(annotation_set.article_id, []).append(annotation_set.annotator.get_username())  # type: ignore[union-attr]
    return [
        {"article": row, "status": ArticleStatus(statuses[row.pk]), "annotators": annotators.get(row.pk, [])}
        for row in rows
    ]
