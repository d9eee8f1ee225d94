"""Exporting annotations: one service behind the API, `manage.py export`, the export page and export jobs.

`ExportQuery` says what to export (which sets, which articles, which format); `export_records` reads
it from the database in chunks of articles, a constant number of queries per chunk whatever the
chunk holds, and yields plain `DocumentRecord`s; the format's writer turns them into bytes as they
come. Memory stays bounded by the chunk, not the project. Formats that are not streamable (a DocBin
is one blob) and large selections run as a job that writes a file (`start_export`, `run_export`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

import orjson
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import (
    CharField,
    Exists,
    F,
    Func,
    OuterRef,
    Q,
    QuerySet,
    TextField,
)
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.text import slugify

from annotator.annotations.models import (
    AnnotationSet,
    EntityLink,
    Relation,
    SetKind,
    SetStatus,
    Span,
    SpanAttribute,
)
from annotator.annotations.status import with_status
from annotator.articles.models import Article, ArticleStatus
from annotator.core.errors import DomainError
from annotator.interchange.chunk_queries import (
    CHUNK,
    After,
    ChunkIds,
    ChunkQuery,
    InIds,
    InSubquery,
    KeysetQuery,
    one_round_trip,
)
from annotator.interchange.formats import FORMATS
from annotator.interchange.formats.base import (
    DocumentRecord,
    FormatError,
    LinkRecord,
    RelationRecord,
    SpanRecord,
    Writer,
    attribute_pairs,
)
from annotator.interchange.formats.jsonl import JsonLinesWriter
from annotator.interchange.json_text import json_string, raw_text
from annotator.interchange.readahead import ReadAhead
from annotator.interchange.span_json import (
    PlainSpans,
    SecondReader,
    SpanTypes,
    entities_json,
    send_plain_spans,
    span_types,
)
from annotator.jobs.models import Job, JobKind
from annotator.jobs.services import create_job, enqueue_job
from annotator.projects.models import EntityType, RelationType
from annotator.suggestions.models import Decision, SuggestionKind

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from annotator.projects.models import Project


class SetChoice(StrEnum):
    """Which annotation sets an export holds."""

    GOLD = "gold"
    ANNOTATOR = "annotator"  # one annotator's sets (ExportQuery.annotator names them)
    ALL = "all"  # every annotator's set: one record per (article, annotator)
    IMPORTED = "imported"  # the imported sets (pre-annotations, other tools' work): one record per set


class InvalidExport(DomainError):
    """An export asked for something that cannot be done, before anything is read."""


@dataclass(frozen=True)
class ExportQuery:
    """What to export. Empty filters select everything; by default the gold sets, as JSON Lines.

    `set_status` filters the sets (`curated` alone: only gold a curator has finished), `article_status`
    the articles (new, in progress, annotated, curated), `updated_since` the sets changed since then,
    `guideline_version` the sets made under that guideline version number, `article_ids` the articles.
    """

    format: str = "jsonl"
    sets: SetChoice = SetChoice.GOLD
    annotator: str | None = None
    set_status: tuple[str, ...] = ()
    article_status: tuple[str, ...] = ()
    updated_since: datetime | None = None
    guideline_version: int | None = None
    article_ids: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        try:
            FORMATS.writer(self.format)
        except FormatError as error:
            raise InvalidExport(str(error), field="format") from None
        if self.sets not in SetChoice.__members__.values():
            raise InvalidExport("Export gold, an annotator's sets, or all annotators' sets.", field="set")
        object.__setattr__(self, "sets", SetChoice(self.sets))
        if (self.sets == SetChoice.ANNOTATOR) != bool(self.annotator):
            raise InvalidExport("Name the annotator when (and only when) exporting one annotator's sets.",
                                field="annotator")  # fmt: skip
        for name, allowed in (("set_status", SetStatus.values), ("article_status", ArticleStatus.values)):
            unknown = sorted(set(getattr(self, name)) - set(allowed))
            if unknown:
                raise InvalidExport(
                    f"Unknown {name.replace('_', ' ')} {unknown[0]!r} (choose from {', '.join(allowed)}).",
                    field=name,
                )
        if self.updated_since is not None and timezone.is_naive(self.updated_since):
            object.__setattr__(self, "updated_since", timezone.make_aware(self.updated_since))

    @property
    def writer(self) -> Writer:
        return FORMATS.writer(self.format)

    def as_params(self) -> dict[str, Any]:
        params = asdict(self)
        params.update(
            sets=str(self.sets), set_status=list(self.set_status), article_status=list(self.article_status),
            article_ids=list(self.article_ids),
            updated_since=self.updated_since.isoformat() if self.updated_since else None,
        )  # fmt: skip
        return params

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> ExportQuery:
        since = params.get("updated_since")
        return cls(
            format=params.get("format", "jsonl"), sets=params.get("sets", SetChoice.GOLD),
            annotator=params.get("annotator"), set_status=tuple(params.get("set_status", ())),
            article_status=tuple(params.get("article_status", ())),
            updated_since=datetime.fromisoformat(since) if since else None,
            guideline_version=params.get("guideline_version"), article_ids=tuple(params.get("article_ids", ())),
        )  # fmt: skip


class IsoTime(Func):
    """A timestamp as ISO 8601 text, made by the database: the Python loader Django installs for
    PostgreSQL's timestamptz costs more than everything else an export does with a span row."""

    output_field = CharField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template="to_json(%(expressions)s) #>> '{}'", **extra)

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        # %%%% survives the template's formatting and Django's placeholder conversion as one %.
        template = "strftime('%%%%Y-%%%%m-%%%%dT%%%%H:%%%%M:%%%%f+00:00', %(expressions)s)"
        return self.as_sql(compiler, connection, template=template, **extra)


def iso(field: str) -> IsoTime:
    return IsoTime(F(field))


class TimeText(IsoTime):
    """A timestamp as the database writes it as text, cheaper than IsoTime on PostgreSQL for every span
    row (to_json costs the server a third of the span query); `iso_text` makes it ISO 8601 in Python, once
    per distinct value. Needs psycopg's own DateStyle (ISO) and Django's session time zone (UTC)."""

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template="(%(expressions)s)::text", **extra)


def iso_text(value: str | None) -> str | None:
    """A TimeText value as IsoTime gives it: PostgreSQL's '2026-01-02 03:04:05.5+00' becomes
    '2026-01-02T03:04:05.5+00:00' (to_json's form); SQLite's is ISO already."""
    if value is None or value[10:11] != " ":
        return value
    value = f"{value[:10]}T{value[11:]}"
    return f"{value}:00" if value[-3] in "+-" else value


def as_text(field: str) -> Cast:
    """A JSON column as its text, parsed only where it is not null (Django would convert every row)."""
    return Cast(field, TextField())


def matching(sets: QuerySet[AnnotationSet], query: ExportQuery) -> QuerySet[AnnotationSet]:
    """The sets the query selects, among these."""
    if query.sets == SetChoice.GOLD:
        sets = sets.filter(kind=SetKind.GOLD)
    elif query.sets == SetChoice.ANNOTATOR:
        sets = sets.filter(kind=SetKind.ANNOTATOR, annotator__username=query.annotator)
    elif query.sets == SetChoice.IMPORTED:
        sets = sets.filter(kind=SetKind.IMPORTED)
    else:
        sets = sets.filter(kind=SetKind.ANNOTATOR)
    if query.set_status:
        sets = sets.filter(status__in=query.set_status)
    if query.updated_since is not None:
        sets = sets.filter(updated_at__gte=query.updated_since)
    if query.guideline_version is not None:
        sets = sets.filter(guideline_version__number=query.guideline_version)
    if query.article_ids:
        sets = sets.filter(InIds("article_id", query.article_ids))
    return sets


def selected_sets(project: Project, query: ExportQuery) -> QuerySet[AnnotationSet]:
    return matching(AnnotationSet.objects.filter(article__project=project), query)


def selected_articles(project: Project, query: ExportQuery, *, after: int | After = 0) -> QuerySet[Article]:
    """The articles that have a selected set, in id order, from the one after `after` (an id, or `After()`
    in a query compiled once for every chunk).

    The bound is on both sides of the semi-join: PostgreSQL does not carry `id > after` from the
    articles over to the sets, and would read every set before it from the start, for every chunk.
    """
    articles = Article.objects.filter(project=project, pk__gt=after)
    if query.article_status:
        articles = with_status(articles).filter(status__in=query.article_status)  # type: ignore[misc]
    sets = matching(AnnotationSet.objects.filter(article=OuterRef("pk"), article_id__gt=after), query)
    return articles.filter(Exists(sets)).order_by("pk")


def count_articles(project: Project, query: ExportQuery) -> int:
    return selected_articles(project, query).count()


def missing_articles(project: Project, ids: tuple[int, ...]) -> list[int]:
    """The ids that are not articles of this project (another project's ids are as good as none)."""
    found = set(Article.objects.filter(project=project, pk__in=ids).values_list("pk", flat=True))
    return sorted(set(ids) - found)


def runs_as_job(project: Project, query: ExportQuery) -> bool:
    """Whether the export is too big to build inside one request (a format that is not streamed)."""
    if query.writer.streamable:
        return False
    return count_articles(project, query) > settings.ANNOTATOR_EXPORT_INLINE_MAX_ARTICLES


def export_records(
    project: Project, query: ExportQuery, *, chunk_size: int | None = None
) -> Iterator[DocumentRecord]:
    """The selected sets as records, article by article, read a chunk of articles at a time: the same
    few queries per chunk, each an index range as cheap at the end of a large project as at its start."""
    for parts in _read_chunks(project, query, chunk_size):
        yield from map(_record, parts)


T = TypeVar("T")


def _read_chunks(
    project: Project, query: ExportQuery, chunk_size: int | None, *, plain_json: bool = False
) -> Iterator[list[SetRows]]:
    """The chunks' rows. On PostgreSQL (outside a transaction) a thread with a connection of its own reads
    the next chunk while this one is written: the database's share of an export then costs no wall time.

    The caller's own connection goes back to the pool first: nothing in this thread reads while the
    thread does, so a streamed download holds one pooled connection (the reader's), not two; the
    caller's next query takes one again."""
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        # In its own snapshot, the reading thread may share the JSON's making with a second connection.
        chunks = _chunk_parts(project, query, chunk_size, plain_json=plain_json, second_reader=True)
        connection.close()
        # One chunk ahead: memory stays that of two chunks whatever the export's size. The reading thread
        # only reads (the database is the slower side); the rows are put together in this one.
        with ReadAhead(_on_own_connection(_in_one_snapshot(chunks)), depth=1) as parts:
            yield from map(_assemble, parts)
    else:  # SQLite's transactions here take the write lock: read without one, and skip what vanished
        yield from map(_assemble, _chunk_parts(project, query, chunk_size, plain_json=plain_json))


def _on_own_connection(items: Iterator[T]) -> Iterator[T]:
    """Items read in a thread, on the thread's own connection, which goes back when they are done."""
    try:
        yield from items
    finally:
        connection.close()


def _in_one_snapshot(items: Iterator[T]) -> Iterator[T]:
    # One snapshot for the whole export: chunks read at different moments still agree (a relation never
    # names a span deleted in between). Read only, so it blocks no one.
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            # A chunk is a few index ranges: starting parallel workers for each costs more than they
            # save (a third more time per chunk on two cores).
            cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        yield from items


class Names:
    """What span and relation rows name by id (types, people), read once per export (people once each,
    when first met): a dictionary look-up in Python costs less than the joins that would bring the
    names along on half a million rows."""

    def __init__(self, project: Project) -> None:
        self.relation_types = {
            pk: (name, directed)
            for pk, name, directed in RelationType.objects.filter(project=project).values_list(
                "pk", "name", "directed"
            )
        }
        self.project = project
        self.entity_types: dict[int, str] = {}
        self._span_types: tuple[dict[int, str], SpanTypes] | None = None
        self.people: dict[int | None, str | None] = {None: None}
        self.stamps: dict[tuple[int | None, str], bytes] = {}

    def meet(self, people: set[int | None]) -> None:
        """Read the usernames of the people not met yet."""
        new = {pk for pk in people if pk not in self.people}
        if new:
            self.people.update(dict.fromkeys(new))  # gone meanwhile (read without a snapshot): nobody
            found = get_user_model().objects.filter(pk__in=[pk for pk in new if pk is not None])
            self.people.update(found.values_list("pk", "username"))

    def meet_types(self, types: set[int]) -> None:
        """Read the project's entity types when a span has one not read yet (the first time; again when
        one was made during an export read without a snapshot, on SQLite)."""
        if not types <= self.entity_types.keys():
            self._read_types()

    def _read_types(self) -> None:
        rows = EntityType.objects.filter(project=self.project).values_list("pk", "name")
        self.entity_types = dict(rows)

    def span_types(self) -> SpanTypes:
        """The entity types as the span JSON query takes them (`span_json.SpanTypes`): read with the
        first chunk, made again only when the types are read again."""
        if not self.entity_types:
            self._read_types()
        if self._span_types is None or self._span_types[0] is not self.entity_types:
            self._span_types = (self.entity_types, span_types(self.entity_types))
        return self._span_types[1]

    def person(self, pk: int | None) -> str | None:
        return self.people[pk]

    def stamp_json(self, by: int | None, at: str) -> bytes:
        """A span's provenance object as JSON, from its author's id and its time as TimeText (met)."""
        stamp = self.stamps.get((by, at))
        if stamp is None:
            stamp = self.stamps[(by, at)] = orjson.dumps(
                {"created_by": self.people[by], "created_at": iso_text(at)}
            )
        return stamp


def _chunk_parts(
    project: Project,
    query: ExportQuery,
    chunk_size: int | None,
    *,
    plain_json: bool = False,
    second_reader: bool = False,
) -> Iterator[ReadChunk]:
    """The selected sets' rows, a chunk of articles at a time (what records and JSON lines are made of).
    `second_reader`: read in a snapshot of its own, which a second connection may share (`ChunkReader`)."""
    size = chunk_size or settings.ANNOTATOR_EXPORT_CHUNK_SIZE
    reader = ChunkReader(project, query, size, plain_json=plain_json, second_reader=second_reader)
    try:
        yield from reader.chunks()
    finally:  # also when the export stops early (a client that went away): the second connection closes
        reader.close()


def _metadata(text: str | bytes | None) -> dict[str, Any] | None:
    """An article's metadata from its JSON text (or its UTF-8 bytes), as Django's JSONField reads it
    (json.loads: orjson only refuses what JSON allows beyond its 64-bit integers)."""
    if text is None:
        return None
    if text in ("{}", b"{}"):
        return {}
    try:
        return orjson.loads(text)  # type: ignore[no-any-return]
    except orjson.JSONDecodeError:
        return json.loads(text)  # type: ignore[no-any-return]


def _json_value(text: str | None) -> Any:
    return None if text is None else json.loads(text)


class SetRows(NamedTuple):
    """One selected set with everything its record holds, as read: the spans in their record order
    (start, end, type name, id), each row (set id, pk, start, end, type id, fragments JSON, created by id,
    created at as TimeText); the relations (pk, head, tail, label, created by, created at, directed); and,
    shared by the chunk, the links by span (KB id, KB name, linked by id, linked at), which suggestion
    each span and relation came from, the spans' attribute values, and the names of types and people."""

    article: tuple[Any, ...]
    set_row: tuple[Any, ...]
    spans: list[tuple[Any, ...]]
    relations: list[tuple[Any, ...]]
    links: dict[int, tuple[Any, ...]]
    suggested: dict[int, dict[str, Any]]
    attributes: dict[int, dict[str, Any]]
    relation_suggested: dict[int, dict[str, Any]]
    names: Names
    plain: PlainSpans | None = None  # the spans as JSON, when the set is plain (see span_json)


def _in_record_order(rows: list[tuple[Any, ...]], types: dict[int, str]) -> list[tuple[Any, ...]]:
    """A set's span rows, read in the unique index's order (start, end, type id), in record order: spans
    of the same extent by type name (code point order, as Python sorts), which the index cannot give."""
    if len({(row[2], row[3]) for row in rows}) == len(rows):
        return rows
    return sorted(rows, key=lambda row: (row[2], row[3], types[row[4]], row[1]))


class ChunkReader:
    """An export's per-chunk queries, compiled once (`ChunkQuery`), and the names they refer to.

    With `plain_json` (a JSON Lines export on PostgreSQL), the spans of plain sets come as JSON made by the
    database (`span_json`), and only the other sets' spans as rows. With `second_reader` too (the reader is
    in a snapshot of its own), once `ANNOTATOR_EXPORT_SECOND_READER_AFTER` articles are read, a second
    connection in that snapshot makes two thirds of each chunk's JSON at the same time (`SecondReader`,
    `_split`): a small export does not pay for the connection, a large one has its JSON made by two cores."""

    def __init__(
        self,
        project: Project,
        query: ExportQuery,
        size: int,
        *,
        plain_json: bool = False,
        second_reader: bool = False,
    ) -> None:
        self.project = project
        self.query = query
        self.size = size
        self._names: Names | None = None
        self._chunk_queries: tuple[KeysetQuery, KeysetQuery] | None = None
        self.plain_json = plain_json and connection.vendor == "postgresql"
        # The articles' texts as their UTF-8 bytes: a JSON line writes them as they are (`json_text`).
        self.raw_text = self.plain_json
        after = settings.ANNOTATOR_EXPORT_SECOND_READER_AFTER
        self.second_reader_after = after if self.plain_json and second_reader and after >= 0 else None
        self.second_reader: SecondReader | None = None
        self.articles_read = 0
        # In the order of the unique index on (set, start, end, type): no sort and no join. Links are fewer
        # than spans: joined on every span row, their columns cost a third of the span query.
        self.spans = ChunkQuery(
            Span.objects.filter(InIds("annotation_set_id", CHUNK))
            .order_by("annotation_set_id", "start", "end", "entity_type_id")
            .values_list("annotation_set_id", "pk", "start", "end", "entity_type_id", as_text("fragments"),
                         "created_by_id", TimeText(F("created_at")))
        )  # fmt: skip
        self.links = ChunkQuery(
            EntityLink.objects.filter(InIds("span__annotation_set_id", CHUNK))
            .order_by()
            .values_list("span__annotation_set_id", "span_id", "kb_entity__kb_id",
                         "kb_entity__knowledge_base__name", "created_by_id", iso("created_at"))
        )  # fmt: skip
        self.relations = ChunkQuery(
            Relation.objects.filter(InIds("annotation_set_id", CHUNK))
            .order_by("annotation_set_id", "id")
            .values_list("annotation_set_id", "pk", "head_id", "tail_id", "relation_type_id", "created_by_id",
                         iso("created_at"))
        )  # fmt: skip
        self.decisions = ChunkQuery(
            Decision.objects.filter(
                Q(span__isnull=False, suggestion__kind=SuggestionKind.ENTITY)
                | Q(relation__isnull=False, suggestion__kind=SuggestionKind.RELATION),
                InIds("annotation_set_id", CHUNK),
            ).values_list("annotation_set_id", "span_id", "relation_id", as_text("result"), "suggestion_id",
                          "suggestion__source", "suggestion__suggester_version__name",
                          "suggestion__suggester_version__version", "suggestion__score", "verdict")
        )  # fmt: skip
        self.attributes = ChunkQuery(
            SpanAttribute.objects.filter(InIds("span__annotation_set_id", CHUNK))
            .order_by()
            .values_list("span__annotation_set_id", "span_id", "attribute__name", as_text("value"))
        )  # fmt: skip

    @property
    def names(self) -> Names:
        """The names, read when the export has a chunk (an empty export reads none)."""
        if self._names is None:
            self._names = Names(self.project)
        return self._names

    def _send_chunk(self, after: int) -> tuple[Callable[[], list[tuple[Any, ...]]], ...]:
        """The articles of the chunk after `after`, and their sets: sent, to be fetched."""
        if self._chunk_queries is None:
            chunk = selected_articles(self.project, self.query, after=After())[: self.size]
            # The set query takes the chunk's articles by id, not by a join (which checked again that they
            # are the project's, scanning all its articles for every chunk).
            sets = (
                matching(AnnotationSet.objects.all(), self.query)
                .filter(InSubquery("article_id", chunk.values("pk")))
                .order_by("article_id", "annotator__username", "name", "id")
                .values_list("pk", "article_id", "kind", "annotator__username", "status", "version",
                             "guideline_version__number", iso("updated_at"), "name")
            )  # fmt: skip
            articles = chunk.values_list("pk", "external_id", "title", "text", as_text("metadata"))
            prepare = raw_text if self.raw_text else None  # (the metadata's text comes as bytes too)
            self._chunk_queries = (KeysetQuery(articles, prepare=prepare), KeysetQuery(sets))
        return tuple(query.send(after) for query in self._chunk_queries)

    def chunks(self) -> Iterator[ReadChunk]:
        """Each chunk's rows, in one round trip per chunk on PostgreSQL (`one_round_trip`): its sets'
        links, relations, decisions and attribute values; the plain sets' spans as JSON (`plain_json`) or
        the sets' spans as rows; and the next chunk's articles and sets. The spans of sets that turn out not
        to be plain take one more, and the usernames of people the export has not met before. The second
        connection (`_split`) is asked for its share of the next chunk before this one is handed on, so
        that it works while this thread waits for the writer."""
        with one_round_trip():
            articles, sets = (fetch() for fetch in self._send_chunk(after=0))
        mine, helped = self._split(sets)
        while articles:
            chunk, chunk_sets = articles, sets
            set_ids = ChunkIds([row[0] for row in chunk_sets])
            self.articles_read += len(chunk)
            types = self.names.span_types() if self.plain_json else None  # (read before the round trip)
            with one_round_trip():
                # The JSON is asked for the sets that turn out to have links, relations, decisions or
                # attributes too, and left out: they are few in an export that asks for JSON, and knowing
                # them first would cost a round trip.
                fetches = [
                    query.send(set_ids)
                    for query in (self.links, self.relations, self.decisions, self.attributes)
                ]
                own = send_plain_spans(types, mine) if types is not None else dict
                all_spans = None if self.plain_json else self.spans.send(set_ids)
                following = self._send_chunk(after=chunk[-1][0])
                link_rows, relation_rows, decision_rows, attribute_rows = [fetch() for fetch in fetches]
                found = own()
                span_rows = all_spans() if all_spans is not None else []
                articles, sets = (fetch() for fetch in following)
            plain: dict[int, PlainSpans] = {}
            if all_spans is None:
                if helped is not None:
                    found.update(helped.result())
                # Sets with links, relations, suggestions or attributes are written from rows.
                special = {
                    row[0]
                    for rows in (link_rows, relation_rows, decision_rows, attribute_rows)
                    for row in rows
                }
                no_spans = PlainSpans(None, "", b"")  # a set without spans (not in `found`) is plain too
                plain = {
                    pk: made
                    for pk in set_ids.ids
                    if pk not in special and (made := found.get(pk, no_spans)) is not None
                }
                # Sets made by hand (spans at many moments, or with relations or links) are not plain: their
                # JSON is wasted work for the database. When a chunk's are mostly such, the rest of the
                # export reads rows only.
                if len(plain) * 10 < len(set_ids):
                    self.plain_json = False
                span_rows = self.spans.rows(ChunkIds([pk for pk in set_ids.ids if pk not in plain]))
            mine, helped = self._split(sets)
            yield self._read(chunk, chunk_sets, span_rows, plain, link_rows, relation_rows, decision_rows,
                             attribute_rows)  # fmt: skip

    def _split(
        self, sets: list[tuple[Any, ...]]
    ) -> tuple[ChunkIds, Future[dict[int, PlainSpans | None]] | None]:
        """This connection's share of a chunk's sets, and the second connection's JSON of the others,
        asked for now, when there is a second connection. This connection also reads the articles, the
        sets, their links, relations, decisions and attributes: with a third of the JSON to make, its
        backend spends about what the second one does (0.50 s against 0.30 s with half each, on the
        10,000-article bench)."""
        set_ids = ChunkIds([row[0] for row in sets])
        second = self._second_reader() if self.plain_json and len(set_ids) > 1 else None
        if second is None:
            return set_ids, None
        third = len(set_ids.ids) // 3
        return ChunkIds(set_ids.ids[:third]), second.plain_spans(
            self.names.span_types(), ChunkIds(set_ids.ids[third:])
        )

    def _read(
        self,
        chunk: list[tuple[Any, ...]],
        sets: list[tuple[Any, ...]],
        span_rows: list[tuple[Any, ...]],
        plain: dict[int, PlainSpans],
        link_rows: list[tuple[Any, ...]],
        relation_rows: list[tuple[Any, ...]],
        decision_rows: list[tuple[Any, ...]],
        attribute_rows: list[tuple[Any, ...]],
    ) -> ReadChunk:
        """The chunk's rows, with the names they refer to (the usernames of people not met before read)."""
        names = self.names
        names.meet_types(set(map(itemgetter(4), span_rows)))
        names.meet(
            set(map(itemgetter(6), span_rows))
            | {spans.created_by for spans in plain.values()}
            | {row[4] for row in link_rows}
            | {row[5] for row in relation_rows}
        )
        return ReadChunk(chunk, sets, span_rows, plain, link_rows, relation_rows, decision_rows, attribute_rows,
                         names)  # fmt: skip

    def _second_reader(self) -> SecondReader | None:
        """The second connection, opened once this many articles are read (and the sets are plain)."""
        after = self.second_reader_after
        if self.second_reader is None and after is not None and self.articles_read >= after:
            self.second_reader = SecondReader()
        return self.second_reader

    def close(self) -> None:
        if self.second_reader is not None:
            self.second_reader.close()


class ReadChunk(NamedTuple):
    """A chunk's rows as the queries return them, read in the reading thread (`ChunkReader.read`) and put
    together in the writing one (`_assemble`), so that the reading thread keeps the database busy."""

    articles: list[tuple[Any, ...]]  # pk, external id, title, text (or its UTF-8 bytes), metadata JSON
    sets: list[tuple[Any, ...]]
    span_rows: list[tuple[Any, ...]]
    plain: dict[int, PlainSpans]
    link_rows: list[tuple[Any, ...]]
    relation_rows: list[tuple[Any, ...]]
    decision_rows: list[tuple[Any, ...]]
    attribute_rows: list[tuple[Any, ...]]
    names: Names


def _assemble(read: ReadChunk) -> list[SetRows]:
    """Each set of the chunk with everything its record or line holds."""
    names, span_rows, set_ids = read.names, read.span_rows, [row[0] for row in read.sets]
    spans: dict[int, list[tuple[Any, ...]]] = {pk: [] for pk in set_ids}
    # Spans of one extent with several types are rare: when the chunk has none, no set needs sorting.
    ties = len(set(map(itemgetter(0, 2, 3), span_rows))) < len(span_rows)
    for set_id, group in groupby(span_rows, key=itemgetter(0)):
        rows = list(group)
        spans[set_id] = _in_record_order(rows, names.entity_types) if ties else rows
    links = {row[1]: row[2:] for row in read.link_rows}
    suggested, relation_suggested = _suggested(read.decision_rows)
    attributes: dict[int, dict[str, Any]] = {}
    for _, span_id, name, value in read.attribute_rows:
        attributes.setdefault(span_id, {})[name] = _json_value(value)
    relations: dict[int, list[tuple[Any, ...]]] = {pk: [] for pk in set_ids}
    for set_id, relation_pk, head, tail, type_id, by, at in read.relation_rows:
        label, directed = names.relation_types[type_id]
        relations[set_id].append((relation_pk, head, tail, label, names.person(by), at, directed))
    articles = {
        pk: (pk, external_id, title, text, _metadata(metadata))
        for pk, external_id, title, text, metadata in read.articles
    }
    return [
        SetRows(articles[set_row[1]], set_row, spans[set_row[0]], relations[set_row[0]], links, suggested,
                attributes, relation_suggested, names, read.plain.get(set_row[0]))
        for set_row in read.sets
    ]  # fmt: skip


def _suggested(
    rows: list[tuple[Any, ...]],
) -> tuple[dict[int, dict[str, Any]], dict[int, dict[str, Any]]]:
    """Which suggestion each span and relation came from, from the sets' decisions.

    An entity suggestion's decision names its span. A relation suggestion's names its relation, and lists
    the head and tail spans it had to make (`result["created"]`): those came from the suggestion too."""
    spans: dict[int, dict[str, Any]] = {}
    relations: dict[int, dict[str, Any]] = {}
    for _, span_id, relation_id, result, suggestion_id, source, name, version, score, verdict in rows:
        origin = {"suggestion": suggestion_id, "source": source, "suggester": f"{name} {version}",
                  "score": score, "verdict": verdict}  # fmt: skip
        if relation_id is None:
            spans[span_id] = origin
            continue
        relations[relation_id] = origin
        for made in (_json_value(result) or {}).get("created", []):
            kind, _, pk = made.partition(":")
            if kind == "span":
                spans.setdefault(int(pk), origin)
    return spans, relations


_SPAN_IDS = [f"T{number}" for number in range(1024)]


def _span_ids(count: int) -> list[str]:
    """The span ids of records, "T0" to at least "T<count>", made once per process. A longer list replaces
    the shorter one whole, so that threads exporting at once never see one half made."""
    global _SPAN_IDS
    ids = _SPAN_IDS
    if len(ids) <= count:
        ids = _SPAN_IDS = [f"T{number}" for number in range(max(count + 1, 2 * len(ids)))]
    return ids


def _when(value: str | datetime | None) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


_new = object.__new__
_set = object.__setattr__


def _record(rows: SetRows) -> DocumentRecord:
    article, set_row, span_rows, relation_rows, links, suggested, attributes, relation_suggested, names, _ = (
        rows
    )
    article_id, external_id, title, text, metadata = article
    _, _, kind, annotator, status, version, guidelines, updated_at, set_name = set_row
    types, people = names.entity_types, names.people
    ids: dict[int, str] = {}
    spans, link_records = [], []
    stamps: dict[tuple[Any, Any], dict[str, Any]] = {}  # one dict per author and time (imports share both)
    last: tuple[Any, Any] | None = None
    provenance: dict[str, Any] = {}
    span_ids = _span_ids(len(span_rows))
    for number, row in enumerate(span_rows, start=1):
        _, pk, start, end, type_id, fragments, by, at = row
        ids[pk] = span_id = span_ids[number]
        if last is None or last[0] != by or last[1] != at:  # most spans share the one before's
            last = (by, at)
            provenance = stamps.get(last) or stamps.setdefault(
                last, {"created_by": people[by], "created_at": iso_text(at)}
            )
        if fragments:
            pieces = tuple((a, b) for a, b in orjson.loads(fragments))
            surface = " ".join(text[a:b] for a, b in pieces) if pieces else text[start:end]
        else:
            pieces, surface = (), text[start:end]
        # `SpanRecord(span_id, start, end, ...)`, equal to it in every way, without the frozen dataclass's
        # nine setattrs (a third of the records' time), as `formats.base.span_record` makes it.
        span = _new(SpanRecord)
        _set(span, "__dict__", {
            "id": span_id, "start": start, "end": end, "label": types[type_id], "text": surface,
            "fragments": pieces, "where": None,
            "provenance": {**provenance, "suggestion": suggested[pk]} if pk in suggested else provenance,
            "attributes": attribute_pairs(attributes[pk]) if pk in attributes else (),
        })  # fmt: skip
        spans.append(span)
        if pk in links:
            kb_id, kb, linked_by, linked_at = links[pk]
            link_provenance = {"created_by": people[linked_by], "created_at": _when(linked_at)}
            link_records.append(
                LinkRecord(span_id, kb_id, kb if kb_id is not None else None, provenance=link_provenance)
            )
    relations = [
        RelationRecord(
            ids[head], ids[tail], label, f"R{number}",
            provenance={"created_by": by, "created_at": _when(at)}
            | ({"suggestion": relation_suggested[pk]} if pk in relation_suggested else {}),
            symmetric=not directed,
        )
        for number, (pk, head, tail, label, by, at, directed) in enumerate(relation_rows, start=1)
        if head in ids and tail in ids  # always, in one snapshot; without one a span may go in between
    ]  # fmt: skip
    return DocumentRecord(
        text=text, external_id=external_id, title=title, metadata=metadata, annotated=True, spans=tuple(spans),
        relations=tuple(relations), links=tuple(link_records),
        provenance={"article_id": article_id, "set": kind, "annotator": annotator, "status": status,
                    "version": version, "guideline_version": guidelines, "updated_at": _when(updated_at)}
        | ({"set_name": set_name} if set_name else {}),
    )  # fmt: skip


def _json_line(rows: SetRows) -> dict[str, Any]:
    """What `JsonLinesWriter.line(_record(rows))` is, made straight from the rows: the same keys in the
    same order, without a record, a span record or a link record per span (half an export's time).
    `test_export_service` holds the two to the same bytes on every kind of span, link and relation."""
    (
        article,
        set_row,
        span_rows,
        relation_rows,
        links,
        suggested,
        attributes,
        relation_suggested,
        names,
        plain_spans,
    ) = rows
    article_id, external_id, title, text, metadata = article
    _, _, kind, annotator, status, version, guidelines, updated_at, set_name = set_row
    if isinstance(text, bytes):  # read as its UTF-8 bytes (`ChunkReader.raw_text`): written as they are
        line_text: Any = orjson.Fragment(json_string(text))
        text = text.decode() if span_rows else ""
    else:
        line_text = text
    types, people = names.entity_types, names.people
    ids: dict[int, str] = {}
    entities = []
    stamps: dict[tuple[Any, Any], dict[str, Any]] = {}
    # Most spans of a bulk export have no suggestion, attribute, link or fragments, and share their
    # author and time with the span before: those take the short way (a third of the line's time).
    plain = not (suggested or attributes or links)
    last: tuple[Any, Any] | None = None
    provenance: dict[str, Any] = {}
    span_ids = _span_ids(len(span_rows))
    for number, row in enumerate(span_rows, start=1):
        _, pk, start, end, type_id, fragments, by, at = row
        ids[pk] = span_id = span_ids[number]
        if last is None or last[0] != by or last[1] != at:
            last = (by, at)
            provenance = stamps.get(last) or stamps.setdefault(
                last, {"created_by": people[by], "created_at": iso_text(at)}
            )
        if plain and not fragments:
            entities.append({"id": span_id, "start": start, "end": end, "label": types[type_id],
                             "text": text[start:end], "provenance": provenance})  # fmt: skip
            continue
        entity_provenance = provenance
        if pk in suggested:
            entity_provenance = {**provenance, "suggestion": suggested[pk]}
        pieces = orjson.loads(fragments) if fragments else None
        if pieces:
            surface = " ".join(text[a:b] for a, b in pieces)
            entity = {"id": span_id, "start": start, "end": end, "label": types[type_id], "text": surface,
                      "fragments": [[a, b] for a, b in pieces]}  # fmt: skip
        else:
            entity = {
                "id": span_id,
                "start": start,
                "end": end,
                "label": types[type_id],
                "text": text[start:end],
            }
        if pk in attributes:
            entity["attributes"] = dict(attribute_pairs(attributes[pk]))
        if pk in links:
            kb_id, kb, linked_by, linked_at = links[pk]
            entity["kb_id"] = kb_id
            if kb_id is not None and kb is not None:
                entity["kb"] = kb
            link = {"created_by": people[linked_by], "created_at": _when(linked_at)}
            entity_provenance = {**entity_provenance, "link": link}
        entity["provenance"] = entity_provenance
        entities.append(entity)
    line: dict[str, Any] = {"external_id": external_id, "title": title, "text": line_text}
    if metadata:
        line["metadata"] = metadata
    if plain_spans is None:
        line["entities"] = entities
    elif plain_spans.spans:  # written by PostgreSQL (span_json): the ids and provenance spliced in here
        stamp = names.stamp_json(plain_spans.created_by, plain_spans.created_at)
        line["entities"] = orjson.Fragment(entities_json(plain_spans, stamp))
    else:
        line["entities"] = []
    line["relations"] = [
        {"id": f"R{number}", "head": ids[head], "tail": ids[tail], "label": label,
         "provenance": {"created_by": by, "created_at": _when(at)}
         | ({"suggestion": relation_suggested[pk]} if pk in relation_suggested else {})}
        for number, (pk, head, tail, label, by, at, _) in enumerate(relation_rows, start=1)
        if head in ids and tail in ids
    ]  # fmt: skip
    line["provenance"] = {
        "article_id": article_id, "set": kind, "annotator": annotator, "status": status, "version": version,
        "guideline_version": guidelines, "updated_at": _when(updated_at),
    } | ({"set_name": set_name} if set_name else {})  # fmt: skip
    return line


def export_json_lines(
    project: Project,
    query: ExportQuery,
    *,
    chunk_size: int | None = None,
    on_articles: Callable[[int], None] | None = None,
) -> Iterator[bytes]:
    """The JSON Lines export, one chunk of articles' lines at a time: the bytes `JsonLinesWriter` writes
    from `export_records`, made without the records. `on_articles` hears how many articles each chunk's
    lines hold (an article's sets are all in one chunk)."""
    dumps, newline = orjson.dumps, orjson.OPT_APPEND_NEWLINE  # (not `+ b"\n"`: a copy of every line)
    for parts in _read_chunks(project, query, chunk_size, plain_json=True):
        if on_articles is not None:
            on_articles(len({rows.article[0] for rows in parts}))
        yield b"".join([dumps(_json_line(rows), option=newline) for rows in parts])


def export_bytes(project: Project, query: ExportQuery) -> Iterator[bytes]:
    """The export as the format's chunks of bytes, produced as the records are read."""
    if isinstance(query.writer, JsonLinesWriter):
        return export_json_lines(project, query)
    return query.writer.write(export_records(project, query))


def file_name(project: Project, query: ExportQuery) -> str:
    """What the download is called: project, sets and date, with the format's extension."""
    who = query.annotator if query.sets == SetChoice.ANNOTATOR else str(query.sets)
    base = slugify(f"{project.name} {who}") or f"project-{project.pk}"
    return f"{base}-{timezone.localdate():%Y-%m-%d}{query.writer.extension}"


def export_path(job: Job) -> Path:
    """Where an export job leaves its file (named by the job, never by anything a user typed)."""
    return (
        Path(settings.DATA_DIR)
        / "exports"
        / f"export-{job.pk}{FORMATS.writer(job.params['format']).extension}"
    )


def start_export(*, project: Project, query: ExportQuery, by: User | None, queue: bool = True) -> Job:
    """Make the job that writes the export to a file, and queue it for a worker."""
    job = create_job(kind=JobKind.EXPORT, project=project, params=query.as_params(), by=by)
    return enqueue_job(job) if queue else job
