"""Storing a suggester's output for articles: as a diff against what the version stored before, in bulk.

Internals of the pre-annotation services (`generate.py`): rows are plain tuples, written with COPY on
PostgreSQL or multi-row INSERTs on SQLite, batch by batch, each batch in its own transaction.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import connection, connections, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from annotator.suggestions.engine import ProjectSchema, Suggested
from annotator.suggestions.models import Decision, SuggesterVersion, Suggestion, SuggestionKind, SuggestionRun

if TYPE_CHECKING:
    from annotator.jobs.progress import Progress

OCCURRENCE_SOURCE = "other-occurrence"  # another exact occurrence of a span a reviewer accepted
SPAN_LINK_SOURCE = "kb-candidates:span"  # link candidates for a span someone annotated
ON_DEMAND_SOURCES = (OCCURRENCE_SOURCE, SPAN_LINK_SOURCE)  # not the article run's: a re-run keeps them

# The columns that say what a suggestion is, and those that also say how it was scored.
IDENTITY = (
    "article_id", "kind", "start", "end", "entity_type_id", "tail_start", "tail_end", "tail_entity_type_id",
    "relation_type_id", "kb_entity_id",
)  # fmt: skip
FULL = (*IDENTITY, "rank", "score", "source")


Row = tuple  # the FULL columns of one suggestion, in that order


def rows_of(article_id: int, suggested: Suggested, schema: ProjectSchema) -> list[Row]:
    """The rows of one article's output as tuples of the FULL columns (plain tuples: a batch holds
    tens of thousands, and model instances would cost more than the pipeline)."""
    types, relation_types = schema.type_ids, schema.relation_type_ids
    entity, relation = SuggestionKind.ENTITY.value, SuggestionKind.RELATION.value
    ents = suggested.entities
    rows: list[Row] = [
        (article_id, entity, e.start, e.end, types[e.entity_type], None, None, None, None, None, 0,
         round(e.score, 4), e.source[:100])
        for e in ents
    ]  # fmt: skip
    for r in suggested.relations:
        head, tail = ents[r.head], ents[r.tail]
        rows.append(
            (article_id, relation, head.start, head.end, types[head.entity_type], tail.start, tail.end,
             types[tail.entity_type], relation_types[r.relation_type], None, 0, round(r.score, 4), r.source[:100])
        )  # fmt: skip
    for found in suggested.links:
        mention = ents[found.entity]
        rows.append(
            link_row(article_id, mention.start, mention.end, types[mention.entity_type], found.kb_entity_id,
                     found.rank, found.score, found.source)
        )  # fmt: skip
    return rows


def link_row(
    article_id: int,
    start: int,
    end: int,
    type_id: int,
    kb_entity_id: int,
    rank: int,
    score: float,
    source: str,
) -> Row:
    """The FULL columns of one link suggestion: a KB candidate for the mention [start, end)."""
    return (article_id, SuggestionKind.LINK.value, start, end, type_id, None, None, None, None, kb_entity_id,
            rank, round(min(max(score, 0.0), 1.0), 4), source)  # fmt: skip


def key_of(row: Suggestion, columns: Sequence[str]) -> tuple:
    return tuple(getattr(row, column) for column in columns)


@dataclass
class Diff:
    insert: list[Row]
    delete: list[int]
    kept: int


def _diff(
    version: SuggesterVersion,
    article_ids: list[int],
    new_rows: list[Row],
    *,
    ran: Sequence[int] | None = None,
    kind: str | None = None,
) -> Diff:
    """What to write so that the version's article-run suggestions (of one kind, when given) become
    `new_rows`: decided ones stay (and are not suggested twice), identical undecided ones stay, the
    other undecided ones go. `ran`: the articles the version already ran on (only those can have
    article-run suggestions)."""
    stored_on = article_ids if ran is None else list(ran)
    if not stored_on:
        return Diff(new_rows, [], 0)
    stored = Suggestion.objects.filter(suggester_version=version, article_id__in=stored_on)
    if kind is not None:
        stored = stored.filter(kind=kind)
    # One query, each row with whether any set decided on it; read through the cursor: the ORM's
    # per-row conversions cost more than the rows themselves.
    sql, params = (
        stored.exclude(source__in=ON_DEMAND_SOURCES)
        .annotate(decided=Exists(Decision.objects.filter(suggestion=OuterRef("pk"))))
        .values_list("pk", "decided", *FULL)
        .query.sql_with_params()
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        existing = cursor.fetchall()
    decided: set[tuple] = set()
    undecided: dict[tuple, list[int]] = {}
    for pk, was_decided, *values in existing:
        if was_decided:
            decided.add(tuple(values[: len(IDENTITY)]))
        else:
            undecided.setdefault(tuple(values), []).append(pk)
    if not decided and not undecided:
        return Diff(new_rows, [], 0)
    size = len(IDENTITY)
    insert, kept = [], 0
    for row in new_rows:
        if row[:size] in decided:
            kept += 1  # its decided twin stands for it
            continue
        same = undecided.get(row)
        if same:
            same.pop()
            kept += 1
        else:
            insert.append(row)
    delete = [pk for pks in undecided.values() for pk in pks]
    return Diff(insert, delete, kept)


# The PostgreSQL types of the COPY's columns: FULL, then suggester_version_id and created_at.
COPY_TYPES = (
    "int8", "varchar", "int4", "int4", "int8", "int4", "int4", "int8", "int8", "int8", "int2", "float8", "varchar",
    "int8", "timestamptz",
)  # fmt: skip


# Rows per INSERT statement on SQLite: 66 rows of 15 values bind 990 parameters, under the 999 that SQLite
# builds before 3.32 allow (newer ones allow 32,766; longer statements gained nothing more measurable).
SQLITE_ROWS_PER_INSERT = 66


def _insert(version: SuggesterVersion, rows: list[Row]) -> None:
    """Insert suggestion rows in bulk: binary COPY on PostgreSQL, multi-row INSERTs on SQLite.
    Every value comes from the pipeline and the project's schema; the database's constraints check
    the shapes (entity, relation, link), offsets and scores as for any insert, and its triggers the
    references (once per statement on PostgreSQL, row by row on SQLite: migration suggestions 0006)."""
    if not rows:
        return
    quote = connection.ops.quote_name
    columns = [*FULL, "suggester_version_id", "created_at"]  # FULL names the columns themselves
    table = quote(Suggestion._meta.db_table)
    names = ", ".join(quote(c) for c in columns)
    now = timezone.now()
    if connection.vendor == "postgresql":
        extra: tuple[object, ...] = (version.pk, now)
        # Binary: psycopg's C dumpers write a row in half the time the text format took in Python, and the
        # server parses no text (a timestamp per row was the dearest). Errors come out as Django's
        # (IntegrityError for a missing reference): COPY goes around its cursor wrapper.
        with (
            connection.cursor() as cursor,
            connection.wrap_database_errors,
            cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN (FORMAT BINARY)") as copy,
        ):
            copy.set_types(COPY_TYPES)
            for row in rows:
                copy.write_row(row + extra)
        return
    _insert_sqlite(
        table, names, len(columns), rows, (version.pk, connection.ops.adapt_datetimefield_value(now))
    )


def _insert_sqlite(table: str, names: str, width: int, rows: list[Row], extra: tuple[object, ...]) -> None:
    """SQLITE_ROWS_PER_INSERT rows per INSERT ... VALUES statement: a third less CPU than one prepared
    INSERT run for every row (`executemany`, where the sqlite3 module binds, steps and resets the statement
    row by row): 1.45 -> 0.96 ms per article of 68 rows, the reference triggers included (median of 7
    interleaved rounds). The full-size statement is the same text every time: the driver's statement
    cache compiles it once. Through Django's cursor, so the statements are logged and errors are Django's;
    its rewriting of each "%s" to "?" is most of what remains above the driver's own 0.71 ms."""
    row_marks = "(" + ", ".join(["%s"] * width) + ")"
    full = SQLITE_ROWS_PER_INSERT
    statement = f"INSERT INTO {table} ({names}) VALUES "  # noqa: S608 - quoted model names
    with connection.cursor() as cursor:
        for first in range(0, len(rows), full):
            chunk = rows[first : first + full]
            cursor.execute(
                statement + ", ".join([row_marks] * len(chunk)),
                [value for row in chunk for value in (*row, *extra)],
            )


def _pending_links(suggested: Suggested, schema: ProjectSchema) -> list[list[int]] | None:
    """The mentions whose link candidates a run left for later, as [start, end, entity type id]."""
    if not suggested.links_pending:
        return None
    linked = schema.linked_type_ids
    pending = [[e.start, e.end, linked[e.entity_type]] for e in suggested.entities if e.entity_type in linked]
    return pending or None


def store_batch(
    version: SuggesterVersion, results: list[tuple[int, Suggested]], schema: ProjectSchema, fingerprint: str
) -> Diff:
    """Write one batch of articles' output and record the runs, in one transaction."""
    article_ids = [article_id for article_id, _ in results]
    new_rows: list[Row] = []
    counts: dict[int, dict[str, int]] = {}
    pending: dict[int, list[list[int]] | None] = {}
    for article_id, suggested in results:
        new_rows.extend(rows_of(article_id, suggested, schema))
        counts[article_id] = {
            "entity": len(suggested.entities),
            "relation": len(suggested.relations),
            "link": len(suggested.links),
        }
        pending[article_id] = _pending_links(suggested, schema)
    with transaction.atomic():
        runs = SuggestionRun.objects.filter(suggester_version=version, article_id__in=article_ids)
        known = {run.article_id: run for run in runs}
        diff = _diff(version, article_ids, new_rows, ran=list(known))
        if diff.delete:
            Suggestion.objects.filter(pk__in=diff.delete).delete()
        _insert(version, diff.insert)
        stale = []
        for article_id, run in known.items():
            if (run.fingerprint, run.counts, run.pending_links) != (
                fingerprint,
                counts[article_id],
                pending[article_id],
            ):
                run.fingerprint, run.counts, run.updated_at = fingerprint, counts[article_id], timezone.now()
                run.pending_links = pending[article_id]
                stale.append(run)
        if stale:
            SuggestionRun.objects.bulk_update(stale, ["fingerprint", "counts", "pending_links", "updated_at"])
        SuggestionRun.objects.bulk_create(
            SuggestionRun(
                article_id=a, suggester_version=version, fingerprint=fingerprint, counts=counts[a],
                pending_links=pending[a],
            )
            for a in article_ids
            if a not in known
        )  # fmt: skip
    return diff


def store_links(version: SuggesterVersion, runs: list[SuggestionRun], rows: list[Row]) -> Diff:
    """Store the link suggestions looked up for runs whose links were pending (the rows of the FULL
    columns, kind link, of those runs' articles) and mark the runs complete, in the caller's
    transaction. A decided link suggestion stands for its twin, as in `store_batch`."""
    article_ids = [run.article_id for run in runs]
    diff = _diff(version, article_ids, rows, kind=SuggestionKind.LINK.value)
    if diff.delete:
        Suggestion.objects.filter(pk__in=diff.delete).delete()
    _insert(version, diff.insert)
    stored: dict[int, int] = dict.fromkeys(article_ids, 0)
    for row in rows:
        stored[row[0]] += 1
    now = timezone.now()
    for run in runs:
        run.pending_links, run.counts, run.updated_at = (
            None,
            {**run.counts, "link": stored[run.article_id]},
            now,
        )
    SuggestionRun.objects.bulk_update(runs, ["pending_links", "counts", "updated_at"])
    return diff


@dataclass
class Totals:
    created: int = 0
    deleted: int = 0
    kept: int = 0

    def add(self, diff: Diff) -> None:
        self.created += len(diff.insert)
        self.deleted += len(diff.delete)
        self.kept += diff.kept


class InlineWriter:
    """Stores each batch as it comes, on this thread."""

    def __init__(
        self, store: Callable[[list[tuple[int, Suggested]]], Diff], progress: Progress | None
    ) -> None:
        self.store = store
        self.progress = progress
        self.totals = Totals()

    def submit(self, results: list[tuple[int, Suggested]]) -> None:
        self.totals.add(self.store(results))
        if self.progress is not None:
            self.progress.advance(len(results))

    def close(self) -> Totals:
        return self.totals


class ThreadWriter(InlineWriter):
    """Stores batches on a thread of its own, with its own database connection, so that the database's
    work overlaps the pipeline's. At most two batches wait; the first failure stops everything."""

    def __init__(
        self, store: Callable[[list[tuple[int, Suggested]]], Diff], progress: Progress | None
    ) -> None:
        super().__init__(store, progress)
        self.queue: queue.Queue[list[tuple[int, Suggested]] | None] = queue.Queue(maxsize=2)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="suggestion-writer", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            while (results := self.queue.get()) is not None:
                if self.error is None:
                    super().submit(results)
        except BaseException as error:
            self.error = error
            while self.queue.get() is not None:
                pass  # let the producer finish putting (it stops at its next submit)
        finally:
            connections.close_all()  # this thread's connections

    def submit(self, results: list[tuple[int, Suggested]]) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put(results)

    def close(self) -> Totals:
        self.queue.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error
        return self.totals
