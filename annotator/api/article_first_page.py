"""The article list's usual call, the first page of a project's articles without filters, in one statement:
whether the caller reaches the project, how many of its articles search cannot see yet, and the page's rows
as JSON text (`api/json_rows.py`), in the pagination's order, one row more than a page (whether there is a
next page).

The list read these with two compiled queries (`api/reachable.py`'s project and its backlog, then the
page): two round trips, each through Django's iterables. The answer is the same: a caller who is not a
member, or whose token is limited to another project, gets the same 404 (`reachable.py`'s words), and the
rows are those `json_rows.rows` reads, ordered and sliced as the cursor pagination asks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from django.db import connections, router
from django.http import Http404
from psycopg.types.numeric import Int8

from annotator.api import json_rows
from annotator.api.access import token_of, user_of
from annotator.articles.models import Article, SearchBacklog
from annotator.core.prepared import prepared_cursor
from annotator.projects.models import Membership, Project

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.serializers import Serializer


class Row(NamedTuple):
    """A listed article as `json_rows.rows` gives it: its key (the cursor pagination reads `id`) and its JSON."""

    id: int
    row_json: str


NOT_REACHED = "No Project matches the given query."

# The statement per (serializer, database alias, rows): built once per process.
_statements: dict[tuple[type[Serializer], str, int], str] = {}


def first_page(
    request: Request, project_id: int, serializer_class: type[Serializer], rows: int
) -> tuple[int, list[Row]]:
    """(How many of the project's articles search cannot see yet, the first `rows` of its articles by id);
    404 when the caller does not reach the project. PostgreSQL (`json_rows.applies`)."""
    token = token_of(request)
    if token is not None and token.project_id is not None and token.project_id != project_id:
        raise Http404(NOT_REACHED)
    if not 0 < project_id < 2**63:
        raise Http404(NOT_REACHED)  # no project has that key (the database would refuse to bind it)
    alias = router.db_for_read(Article)
    sql = _statements.get((serializer_class, alias, rows))
    if sql is None:
        sql = _statements[(serializer_class, alias, rows)] = _build(serializer_class, alias, rows)
    with prepared_cursor(connections[alias]) as cursor:
        cursor.execute(sql, {"project": Int8(project_id), "user": Int8(user_of(request).pk)})
        found = cursor.fetchall()
    if not found:
        raise Http404(NOT_REACHED)
    return found[0][0] or 0, [Row(key, text) for _, key, text in found if key is not None]


def _build(serializer_class: type[Serializer], alias: str, rows: int) -> str:
    q = connections[alias].ops.quote_name
    written = json_rows.expression(serializer_class, Article, alias)
    if written is None:
        raise ValueError(f"{serializer_class.__name__}'s rows are not written by the database.")
    article, project = q(Article._meta.db_table), q(Project._meta.db_table)
    members, backlog = q(Membership._meta.db_table), q(SearchBacklog._meta.db_table)
    # The project if the user is a member (as `projects_for`), with its backlog's count; then its articles.
    # Names from the models' metadata, quoted; the values are parameters.
    return (
        f'WITH "project" AS MATERIALIZED (SELECT "p"."id", (SELECT COUNT("b"."article_id") FROM {backlog} "b" '  # noqa: S608
        f'WHERE "b"."project_id" = "p"."id") AS "unindexed" FROM {project} "p" WHERE "p"."id" = %(project)s '
        f'AND EXISTS (SELECT 1 FROM {members} "m" WHERE "m"."project_id" = "p"."id" AND "m"."user_id" = %(user)s)) '
        f'SELECT "project"."unindexed", "page"."id", "page"."row_json" FROM "project" LEFT JOIN LATERAL '
        f'(SELECT {article}."id", {written} AS "row_json" FROM {article} WHERE {article}."project_id" = '
        f'"project"."id" ORDER BY {article}."id" LIMIT {int(rows)}) "page" ON TRUE ORDER BY "page"."id"'
    )
