"""The reviewers' two hot writes, a new span and a decision on a suggestion, each in ONE statement that also
reads the set: the caller's right to edit it, its article's text and rules, the entity type or suggestion.

The usual way (`set_reads.set_for_writing`, then `add_span_at_once` or the decision's statement) takes two
round trips: a read of the set with its article, role and facts, made into model instances and checked in
Python, then the write. Here one PostgreSQL statement does both: a `facts` CTE reads what the write needs,
only for a request that certainly may write (the user's own annotator set, a member of its project, the
token's project, not archived, overlaps allowed, offsets inside the text, no white space at either edge of
the span's text, the declared text equal); the claim (`UPDATE ... version = version + 1 WHERE version =
<If-Match> AND status = 'in_progress'`, on the set's own row, as `editing._claim` words it) follows, then
the rows and their history rows, as `rows.insert_with_history` writes them. All of it or nothing
(autocommit: one statement).

When the statement writes nothing, the caller answers through the usual way, which reads the set and says
what it would have said (404, 403, 412, 428, 409, 400 with its exact words), or writes when the set changed
in between. Every condition here is one the usual way also requires, so this path never writes where that
one would refuse; what it does not cover (gold and imported sets, projects that refuse overlaps, spans whose
edges the project trims, corrections, SQLite) simply takes the usual way.

Python's `str.strip()` and `str.isspace()` decide what white space is; the statement is given every such
character (`WHITE_SPACE`), so that PostgreSQL refuses exactly the edges Python would.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, connections, router
from django.utils import timezone
from psycopg.types.numeric import Int8

from annotator.annotations.models import AnnotationSet, SetKind, SetStatus, Span
from annotator.annotations.rows import history_insert
from annotator.api.access import token_of, user_of
from annotator.api.annotation_serializers import decision_created_at
from annotator.articles.models import Article
from annotator.core.offsets import OFFSET_MAX
from annotator.core.prepared import prepared_cursor
from annotator.projects.models import EntityType, Membership, Project
from annotator.suggestions.models import Decision, Suggestion, SuggestionKind, Verdict

if TYPE_CHECKING:
    from rest_framework.request import Request

# Every character Python's str.strip() removes (str.isspace()); NUL is not one, and no text column holds it.
WHITE_SPACE = "".join(c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace())

# The span's and the decision's own columns, as these statements fill them; a model with other columns
# (a field added later) is refused when the statement is first built, so that no column is left unwritten.
_SPAN_COLUMNS = ("created_at", "updated_at", "annotation_set_id", "start", "end", "entity_type_id", "surface",
                 "fragments", "created_by_id")  # fmt: skip
_DECISION_COLUMNS = ("suggestion_id", "annotation_set_id", "verdict", "span_id", "relation_id", "link_id",
                     "result", "decided_by_id", "created_at")  # fmt: skip


def if_match_version(request: Request) -> int | None:
    """The version an If-Match header names, as `annotations.expected_version` reads it; None for a missing
    or malformed header (the usual way refuses it, in its order)."""
    found = re.fullmatch(r'(?:W/)?"?(\d+)"?', request.META.get("HTTP_IF_MATCH", "").strip())
    return int(found.group(1)) if found else None


@dataclass(frozen=True)
class Written:
    """What the statement wrote: the answer's body and the set's new version (its ETag)."""

    body: dict[str, Any]
    version: int


def create_span(request: Request, set_id: int, data: dict[str, Any]) -> Written | None:
    """POST /sets/<id>/spans/ with a body `span_create_data` read: the span, or None (the usual way)."""
    start, end = data["start"], data["end"]
    expected = if_match_version(request)
    declared = data.get("text")
    if expected is None or not _at_once(set_id, expected) or not start < end <= OFFSET_MAX:
        return None
    now = timezone.now()
    params = {**_scope_params(request, set_id, expected, now), "start": Int8(start), "end": Int8(end),
              "from": Int8(start + 1), "length": Int8(end - start), "type": data["type"],
              "declared": declared}  # fmt: skip
    row = _run(_statement("span"), params)
    if row is None:
        return None
    span_id, type_id, surface = row
    body = {"id": span_id, "start": start, "end": end, "type": data["type"], "entity_type": type_id,
            "text": surface, "link": None}  # fmt: skip
    return Written(body, expected + 1)


def decide(request: Request, set_id: int, data: dict[str, Any]) -> Written | None:
    """POST /sets/<id>/decisions/ accepting or rejecting (a body `decision_create_data` read): the decision,
    or None (the usual way). Accepting covers entity suggestions; rejecting, any suggestion of the article."""
    expected = if_match_version(request)
    if expected is None or not _at_once(set_id, expected) or not 0 < data["suggestion"] < 2**63:
        return None
    now = timezone.now()
    verdict = data["verdict"]
    params = {**_scope_params(request, set_id, expected, now), "suggestion": Int8(data["suggestion"])}
    row = _run(_statement("accept" if verdict == Verdict.ACCEPTED else "reject"), params)
    if row is None:
        return None
    decision_id, span_id, result = row
    body = {"id": decision_id, "suggestion": data["suggestion"], "verdict": verdict, "span": span_id,
            "relation": None, "link": None, "result": json.loads(result) if isinstance(result, str) else result,
            "created_at": decision_created_at(now)}  # fmt: skip
    return Written(body, expected + 1)


def _at_once(set_id: int, expected: int) -> bool:
    """PostgreSQL, and numbers a set's id and version can be (others: the usual way's answer)."""
    return (
        connections[router.db_for_write(AnnotationSet)].vendor == "postgresql"
        and 0 < set_id < 2**63
        and 0 <= expected < 2**31
    )


def _scope_params(request: Request, set_id: int, expected: int, now: datetime) -> dict[str, Any]:
    token = token_of(request)
    project = token.project_id if token is not None else None
    return {"set": Int8(set_id), "user": Int8(user_of(request).pk), "expected": Int8(expected),
            "project": None if project is None else Int8(project), "now": now, "white": WHITE_SPACE}  # fmt: skip


# A unique key met (a row written after the statement's snapshot) or a row it refers to deleted since: a
# race the usual way answers. Any other refusal (a CHECK, NOT NULL) is a bug of the statement: raised.
_RACED = {"23505", "23503"}


def _run(sql: str, params: dict[str, Any]) -> tuple[Any, ...] | None:
    """The statement's row, or None when it wrote nothing. A row another request wrote under a unique key
    after this statement's snapshot (a client sending its next write before the answer to the last) makes
    the statement fail whole, the version claim with it, instead of claiming a version for no row; the
    usual way then answers what happened."""
    connection = connections[router.db_for_write(AnnotationSet)]
    try:
        with prepared_cursor(connection) as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()
    except IntegrityError as error:
        if getattr(error.__cause__, "sqlstate", None) not in _RACED or connection.in_atomic_block:
            raise  # not a race, or in a caller's transaction (none around a request), which its atomic block undoes
        return None  # autocommit: the statement was its own transaction, undone whole


# The statements' SQL per kind, built once per process (names from the models' metadata, quoted).
_statements: dict[str, str] = {}


def _statement(kind: str) -> str:
    found = _statements.get(kind)
    if found is None:
        found = _statements[kind] = _build(kind)
    return found


def _build(kind: str) -> str:
    connection = connections[router.db_for_write(AnnotationSet)]
    q = connection.ops.quote_name
    for model, columns in ((Span, _SPAN_COLUMNS), (Decision, _DECISION_COLUMNS)):
        own = {str(f.column) for f in model._meta.concrete_fields if not f.primary_key}
        if own != set(columns):
            raise TypeError(f"{model.__name__}'s columns are {sorted(own)}, not those written here.")
    sets, article, project = (q(m._meta.db_table) for m in (AnnotationSet, Article, Project))
    members, types = q(Membership._meta.db_table), q(EntityType._meta.db_table)
    spans, decisions = q(Span._meta.db_table), q(Decision._meta.db_table)
    suggestions = q(Suggestion._meta.db_table)
    # The set the caller may certainly edit: their own annotator set (read first, by its key: the rest joins
    # to this one row, whatever the planner's statistics say), as a member of its project (any role
    # annotates), in the token's project if the token has one, the project not archived.
    target = (
        '"target" AS MATERIALIZED (SELECT "id" AS "set_id", "article_id", "kind", "annotator_id" '  # noqa: S608
        f'FROM {sets} WHERE "id" = %(set)s)'
    )
    tables = (
        f'"target" JOIN {article} "a" ON "a"."id" = "target"."article_id" '
        f'JOIN {project} "p" ON "p"."id" = "a"."project_id"'
    )
    # (the article named by its key as well as joined: found by its key, not among its project's articles)
    may_edit = (
        f""""target"."kind" = '{SetKind.ANNOTATOR.value}' AND "target"."annotator_id" = %(user)s """  # noqa: S608
        'AND "a"."id" = (SELECT "article_id" FROM "target") '
        'AND ("a"."project_id" = %(project)s::bigint OR %(project)s::bigint IS NULL) '
        f'AND EXISTS (SELECT 1 FROM {members} "m" WHERE "m"."project_id" = "a"."project_id" '
        'AND "m"."user_id" = %(user)s) AND "p"."archived_at" IS NULL'
    )
    # The claim on the set's own row (as `editing._claim`): concurrent claims queue on the row, and each
    # re-checks the version once the one before it commits.
    claim = (
        f'UPDATE {sets} SET "version" = {sets}."version" + 1, "updated_at" = %(now)s '  # noqa: S608
        f'WHERE {sets}."id" = (SELECT "set_id" FROM "checked") AND {sets}."version" = %(expected)s '
        f"""AND {sets}."status" = '{SetStatus.IN_PROGRESS.value}'"""
    )
    edges = (
        'strpos(%(white)s::text, left("surface", 1)) = 0 AND strpos(%(white)s::text, right("surface", 1)) = 0'
    )
    undecided = (
        f'NOT EXISTS (SELECT 1 FROM {decisions} "d" WHERE "d"."annotation_set_id" = %(set)s '  # noqa: S608
        'AND "d"."suggestion_id" = %(suggestion)s)'
    )
    span_columns = ", ".join(q(c) for c in _SPAN_COLUMNS)
    decision_columns = ", ".join(q(c) for c in _DECISION_COLUMNS)
    span_history = history_insert(Span, connection, '"new_span"')
    decision_history = history_insert(Decision, connection, '"new_decision"')
    if kind == "span":
        return (
            f'WITH {target}, "facts" AS (SELECT "target"."set_id", "t"."id" AS "type_id", '  # noqa: S608
            'substr("a"."text", %(from)s::integer, %(length)s::integer) AS "surface" '
            f'FROM {tables} JOIN {types} "t" ON "t"."project_id" = "a"."project_id" '
            f'AND "t"."name" = %(type)s::text WHERE {may_edit} AND "p"."allow_overlapping_spans" '
            'AND char_length("a"."text") >= %(end)s), '
            f'"checked" AS (SELECT * FROM "facts" WHERE {edges} '
            'AND (%(declared)s::text IS NULL OR "surface" = %(declared)s::text)), '
            f'"guard" AS ({claim} AND NOT EXISTS (SELECT 1 FROM {spans} "x" WHERE "x"."annotation_set_id" = '
            '%(set)s AND "x"."start" = %(start)s AND "x"."end" = %(end)s AND "x"."entity_type_id" = '
            '(SELECT "type_id" FROM "checked")) RETURNING "id"), '
            f'"new_span" AS (INSERT INTO {spans} ({span_columns}) SELECT %(now)s, %(now)s, "guard"."id", '
            '%(start)s, %(end)s, "checked"."type_id", "checked"."surface", NULL, %(user)s::integer '
            'FROM "guard", "checked" RETURNING *), '
            f'"span_history" AS ({span_history}) '
            'SELECT "id", "entity_type_id", "surface" FROM "new_span"'
        )
    if kind == "reject":
        return (
            f'WITH {target}, "checked" AS (SELECT "target"."set_id" FROM {tables} WHERE {may_edit} '  # noqa: S608
            f'AND EXISTS (SELECT 1 FROM {suggestions} "g" WHERE "g"."id" = %(suggestion)s '
            'AND "g"."article_id" = "target"."article_id")), '
            f'"guard" AS ({claim} AND {undecided} RETURNING "id"), '
            f'"new_decision" AS (INSERT INTO {decisions} ({decision_columns}) SELECT %(suggestion)s, '
            f""""guard"."id", '{Verdict.REJECTED.value}', NULL, NULL, NULL, '{{"created": []}}'::jsonb, """
            '%(user)s::integer, %(now)s FROM "guard" RETURNING *), '
            f'"decision_history" AS ({decision_history}) '
            'SELECT "id", "span_id", "result" FROM "new_decision"'
        )
    # Accepting an entity suggestion of the set's article, of a type of its project: the set's span with
    # its key is reused, or made; the decision records which, with a snapshot of the span. The span reused
    # is read once the claim holds the set's row (the locks in every set edit's order) and locked FOR
    # SHARE: its latest committed version, so that a span another writer deleted or changed while this
    # statement waited for the set's row is not chosen (as suggestions.services reads it).
    return (
        f'WITH {target}, "suggested" AS MATERIALIZED (SELECT "id", "article_id", "kind", "start", "end", '  # noqa: S608
        f'"entity_type_id" FROM {suggestions} WHERE "id" = %(suggestion)s), '
        '"facts" AS (SELECT "target"."set_id", "g"."start", "g"."end", "g"."entity_type_id" AS '
        '"type_id", "t"."name" AS "type_name", substr("a"."text", "g"."start" + 1, "g"."end" - "g"."start") '
        f'AS "surface" FROM {tables} JOIN "suggested" "g" ON '
        f""""g"."article_id" = "target"."article_id" AND "g"."kind" = '{SuggestionKind.ENTITY.value}' """
        f'JOIN {types} "t" ON "t"."id" = "g"."entity_type_id" AND "t"."project_id" = "a"."project_id" '
        f'WHERE {may_edit} AND "p"."allow_overlapping_spans" AND "g"."start" >= 0 '
        'AND "g"."start" < "g"."end" AND char_length("a"."text") >= "g"."end"), '
        f'"checked" AS (SELECT * FROM "facts" WHERE {edges}), '
        f'"guard" AS ({claim} AND {undecided} RETURNING "id"), '
        f'"existing" AS (SELECT "x"."id" FROM {spans} "x", "checked" WHERE EXISTS (SELECT 1 FROM "guard") '
        'AND "x"."annotation_set_id" = %(set)s AND "x"."start" = "checked"."start" AND "x"."end" = '
        '"checked"."end" AND "x"."entity_type_id" = "checked"."type_id" ORDER BY "x"."id" LIMIT 1 '
        'FOR SHARE OF "x"), '
        f'"new_span" AS (INSERT INTO {spans} ({span_columns}) SELECT %(now)s, %(now)s, "guard"."id", '
        '"checked"."start", "checked"."end", "checked"."type_id", "checked"."surface", NULL, '
        '%(user)s::integer FROM "guard", "checked" WHERE NOT EXISTS (SELECT 1 FROM "existing") '
        "RETURNING *), "
        f'"span_history" AS ({span_history}), '
        '"chosen" AS (SELECT "id", TRUE AS "made" FROM "new_span" UNION ALL SELECT "existing"."id", FALSE '
        'FROM "existing", "guard"), '
        f'"new_decision" AS (INSERT INTO {decisions} ({decision_columns}) SELECT %(suggestion)s, %(set)s, '
        f"""'{Verdict.ACCEPTED.value}', "chosen"."id", NULL, NULL, jsonb_build_object('created', CASE WHEN """
        """"chosen"."made" THEN jsonb_build_array('span:' || "chosen"."id") ELSE '[]'::jsonb END, 'span', """
        """jsonb_build_object('start', "checked"."start", 'end', "checked"."end", 'type', "checked"."type_name", """
        """'text', "checked"."surface")), %(user)s::integer, %(now)s FROM "chosen", "checked" """
        "RETURNING *), "
        f'"decision_history" AS ({decision_history}) '
        'SELECT "id", "span_id", "result" FROM "new_decision"'
    )
