"""A JSON Lines export's entities made by PostgreSQL, for the sets whose spans are plain.

Most spans of a bulk export are plain: no fragments, attributes, link or suggestion, and every span of
the set made by the same person at the same moment (an import, a model run). For such a set, the entity
objects of its JSON line differ only in their number and a few columns; PostgreSQL writes those columns
as JSON (`to_json` escapes strings exactly as orjson does: held by a test on every ASCII character) in
the line's order, and Python splices in the ids and the one provenance object with bytes joins. The
span rows never become Python objects: the database does that share of the work on the other core,
while Python writes the previous chunk.

A set that is not plain (or spans made by several people or at several moments) is read as rows and
written by `exports._json_line`, which makes the same bytes the slow way.

Building that JSON is most of the database's share of an export. A large export splits it over two
backends (`SecondReader`): a connection of its own, opened in the reading transaction's snapshot, writes
two thirds of each chunk's sets while the reading connection writes the rest (`exports.ChunkReader`).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from operator import itemgetter
from typing import Any, NamedTuple

import orjson
import psycopg
from django.db import connection
from psycopg import sql
from psycopg.adapt import Loader

from annotator.annotations.models import Span
from annotator.interchange.chunk_queries import ChunkIds, sent
from annotator.projects.models import EntityType

# Between two spans' JSON in a set's aggregate: a control character, which JSON strings always escape.
_SEPARATOR = b"\x1f"

# Each span as `","start":S,"end":E,"label":"L","text":"T"` (what follows its id, up to its provenance),
# in record order: (start, end, type name in code point order), as `_in_record_order` sorts (a project's
# type names are unique, so no span of a set ties another on all three). With whether the set can be
# written from this (no fragments, types all known, one author, one time), that author and time (ids are
# positive: 0 stands for nobody, so that one min and one max tell all-equal-or-all-null), and how many
# spans there are (what `entities_json` numbers).
# The types come as two arrays (`SpanTypes`), their ids in name order and each one's label JSON: a
# span's type is its position in the first (its rank by name, what the spans are sorted by) and its label
# the same position in the second. A join with the types table and a sort on their names cost a tenth
# more of the query's CPU; a type the arrays do not hold has no position and its set goes the row way.
# The order comes from the subquery, sorted once for the chunk: an ORDER BY inside string_agg sorted each
# set on its own (PostgreSQL 15 does not use sorted input for it), a sixth of the query's CPU. Nothing
# between the subquery and the aggregate reorders rows (no join, no parallel workers), so each set's
# spans reach string_agg in this order; the tests hold ties of types whose names sort differently by
# code point, by id and by collation. `||` rather than concat(): concat looks up each argument's output
# function on every row (4% of the query's backend CPU); a NULL label (no rank) only in a set not plain.
_SQL = f"""
SELECT s.annotation_set_id,
       bool_and(s.fragments IS NULL AND s.rank IS NOT NULL)
         AND min(coalesce(s.created_by_id, 0)) = max(coalesce(s.created_by_id, 0))
         AND min(s.created_at) = max(s.created_at),
       nullif(min(coalesce(s.created_by_id, 0)), 0),
       min(s.created_at)::text,
       count(*),
       string_agg('","start":' || s.start::text || ',"end":' || s."end"::text || (%s::text[])[s.rank]
                  || to_json(s.surface)::text, E'\\x1f')
FROM (SELECT s.annotation_set_id, s.start, s."end", s.surface, s.fragments, s.created_by_id, s.created_at,
             array_position(%s::bigint[], s.entity_type_id) AS rank
      FROM {Span._meta.db_table} s
      WHERE s.annotation_set_id = ANY(%s::bigint[])
      ORDER BY s.annotation_set_id, s.start, s."end", rank) s
GROUP BY s.annotation_set_id
"""  # noqa: S608 - a table name from the model; values bound


class SpanTypes(NamedTuple):
    """A project's entity types as the span query takes them: their ids in record order (by name, in code
    point order, as Python sorts) as an array literal, and each one's `,"label":<name>,"text":` in that
    order (the name's JSON as orjson writes it, as the rows' way does)."""

    ids: str
    labels: list[str]


def span_types(types: dict[int, str]) -> SpanTypes:
    """`SpanTypes` of these types (id: name)."""
    ordered = sorted(types.items(), key=itemgetter(1))
    return SpanTypes(
        "{" + ",".join(str(int(pk)) for pk, _ in ordered) + "}",
        [f',"label":{orjson.dumps(name).decode()},"text":' for _, name in ordered],
    )


def project_span_types(project_id: int) -> SpanTypes:
    return span_types(dict(EntityType.objects.filter(project_id=project_id).values_list("pk", "name")))


class _Raw(Loader):
    """Text as its UTF-8 bytes, as they came: the aggregate is spliced into the line without decoding."""

    def load(self, data: Any) -> bytes:
        return bytes(data)


class PlainSpans(NamedTuple):
    """A plain set's spans as PostgreSQL wrote them: their author's id and time (TimeText), the JSON of
    each span without its id and provenance, joined by `_SEPARATOR`, and how many there are."""

    created_by: int | None
    created_at: str
    spans: bytes
    span_count: int = 0


def plain_spans(project_id: int, set_ids: ChunkIds) -> dict[int, PlainSpans | None]:
    """For each of these sets with spans: its spans as JSON, or None when they are not plain."""
    return send_plain_spans(project_span_types(project_id), set_ids)()


def send_plain_spans(types: SpanTypes, set_ids: ChunkIds) -> Callable[[], dict[int, PlainSpans | None]]:
    """`plain_spans` of sets whose project has these types, sent now and fetched when called (see
    `chunk_queries.one_round_trip`)."""
    if not set_ids.ids:
        return dict
    fetch = sent(_SQL, [types.labels, types.ids, set_ids.param], prepare=_raw_text)
    return lambda: _by_set(fetch())


def _raw_text(cursor: psycopg.Cursor[Any]) -> None:
    cursor.adapters.register_loader("text", _Raw)


def _by_set(rows: list[tuple[Any, ...]]) -> dict[int, PlainSpans | None]:
    return {
        set_id: PlainSpans(by, at.decode(), spans, count) if plain else None
        for set_id, plain, by, at, count, spans in rows
    }


# What the second connection calls itself in pg_stat_activity.
SECOND_READER_NAME = "annotator export, second reader"


class SecondReader:
    """A second connection in the snapshot of the export's reading transaction, with a thread of its own:
    `plain_spans` of part of a chunk runs there while the reading connection runs the rest, so that the
    JSON is built by two backends (two cores) at once.

    It is made by the reading thread, inside its repeatable read transaction (which exports its snapshot
    for this one), and is a connection of its own, not one of the web pool's: `close` (always called, in a
    `finally`, also when the client goes away mid-download) waits for the query under way and closes it.
    Its session has the reading connection's time zone and date style (the spans' times are read as text)."""

    def __init__(self) -> None:
        info = connection.connection.info
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_export_snapshot()")
            (snapshot,) = cursor.fetchone()
        params = {
            key: value
            for key, value in connection.get_connection_params().items()
            if key not in ("cursor_factory", "context")
        }
        self._connection = psycopg.connect(**params, application_name=SECOND_READER_NAME)
        try:
            with self._connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                cursor.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot)))
                # Its statements bind on the server, so PostgreSQL plans them for their values as before
                # (plan_cache_mode='auto'): the web pool's connections force generic plans (settings.py).
                cursor.execute(
                    "SELECT set_config('TimeZone', %s, true), set_config('DateStyle', %s, true), "
                    "set_config('max_parallel_workers_per_gather', '0', true), "
                    "set_config('plan_cache_mode', 'auto', true)",
                    [info.parameter_status("TimeZone"), info.parameter_status("DateStyle")],
                )
        except BaseException:
            self._connection.close()
            raise
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="export-second-reader")

    def plain_spans(self, types: SpanTypes, set_ids: ChunkIds) -> Future[dict[int, PlainSpans | None]]:
        """`send_plain_spans(types, set_ids)`, run on this connection while the caller goes on."""
        return self._thread.submit(self._read, types, set_ids)

    def _read(self, types: SpanTypes, set_ids: ChunkIds) -> dict[int, PlainSpans | None]:
        if not set_ids.ids:
            return {}
        with self._connection.cursor() as cursor:
            _raw_text(cursor)
            cursor.execute(_SQL, [types.labels, types.ids, set_ids.param])
            return _by_set(cursor.fetchall())

    def close(self) -> None:
        try:
            self._thread.shutdown(wait=True, cancel_futures=True)
        finally:
            self._connection.close()


# The numbers of a set's spans after the first, as bytes (`%b` in `entities_json`'s template: `%d` would
# format each int anew): one tuple per process, sliced per set. A longer one replaces the shorter whole,
# so that threads exporting at once never see one half made.
_NUMBERS = tuple(b"%d" % number for number in range(2, 1026))


def _numbers(count: int) -> tuple[bytes, ...]:
    """b"2" to b"<count>": the numbers of a set's spans after T1."""
    global _NUMBERS
    numbers = _NUMBERS
    if len(numbers) < count - 1:
        numbers = _NUMBERS = tuple(b"%d" % number for number in range(2, max(count, 2 * len(numbers)) + 2))
    return numbers[: count - 1]


def entities_json(plain: PlainSpans, provenance: bytes) -> bytes:
    """The set's `entities` array: each span numbered from T1, with the provenance they share.

    One template holds the whole array: each separator becomes the span's provenance and the next span's
    `{"id":"T%b`, and one bytes formatting numbers them all (memchr hops from `%` to `%`). Splitting the
    spans into half a million bytes objects and joining them back with their pieces cost twice as much."""
    spans = plain.spans
    if not spans:
        return b"[]"
    tail = (b',"provenance":' + provenance + b"}").replace(b"%", b"%%")
    if spans.find(b"%") != -1:  # a `%` in a surface or a type's name is the template's `%%`
        spans = spans.replace(b"%", b"%%")
    template = b"".join((b'[{"id":"T1', spans.replace(_SEPARATOR, tail + b',{"id":"T%b'), tail, b"]"))
    return template % _numbers(plain.span_count)
