"""Editing one annotation set: claim its next version, then make any number of checked changes.

Every write to a set goes through a `SetEditor`, and the only way to get one is `with edit_set(...)`,
which claims the set's version (optimistic concurrency) in a transaction that covers the edits. A
service is one user action: it claims once, however many rows it writes, and rolls everything back
on any error.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, NoReturn

from django.core.exceptions import ValidationError
from django.db import connections, router, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Length, Substr
from django.db.models.sql import subqueries as sql_query
from django.utils import timezone

from annotator.annotations.models import AnnotationSet, EntityLink, Relation, SetStatus, Span, SpanAttribute
from annotator.annotations.rows import insert_with_history, insert_with_history_if
from annotator.articles.models import Article
from annotator.core.compiled import CompiledQuery
from annotator.core.errors import DomainError, InvalidAnnotation, NotEditable, ProjectArchived, StaleVersion
from annotator.core.offsets import OFFSET_MAX, OffsetError, check_offsets
from annotator.core.prepared import prepared_cursor
from annotator.kb.models import KBEntity

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.models import Model

    from annotator.projects.models import EntityType, EntityTypeAttribute, RelationType


@contextmanager
def edit_set(
    annotation_set: AnnotationSet,
    *,
    expected_version: int,
    by: User | None,
    status: str = SetStatus.IN_PROGRESS,
) -> Iterator[SetEditor]:
    """Claim version `expected_version + 1` of the set, then edit it; all in one transaction.

    `status` is the status the set must be in (only sets in progress take edits). If anything inside
    the block fails, the transaction rolls back the claim with the edits, and the in-memory set gets its
    old version and status back, so the caller can retry with what it holds.
    """
    before = (annotation_set.version, annotation_set.status, annotation_set.submitted_at)
    with transaction.atomic():
        # The claim's WHERE names the set's own row only (the archive check is a NOT EXISTS, not a join):
        # a join would make Django's UPDATE filter through "id IN (subquery)", which PostgreSQL does not
        # re-check against a row a concurrent claim has just moved, so two writers could both win.
        if not _claim(annotation_set.pk, expected_version, status):
            _refuse_claim(annotation_set, expected_version, status)
        annotation_set.version = expected_version + 1
        try:
            yield SetEditor(annotation_set, by)
        except BaseException:
            annotation_set.version, annotation_set.status, annotation_set.submitted_at = before
            raise


# The reads every span write makes: built and compiled once per process (core.compiled).
@CompiledQuery
def _article_facts(
    article_id: int, position: int, length: int
) -> QuerySet[Article, tuple[int, bool, bool, int, str]]:
    return Article.objects.filter(pk=article_id).values_list(
        "project_id",
        "project__allow_overlapping_spans",
        "project__trim_span_whitespace",
        Length("text"),
        Substr("text", Value(position), Value(length)),  # values, not checked here: they are placeholders
    )


def _spans_with_offsets(set_id: int, start: int, end: int, type_id: int) -> QuerySet[Span]:
    return Span.objects.filter(annotation_set_id=set_id, start=start, end=end, entity_type_id=type_id)


@CompiledQuery
def _spans_at(set_id: int, start: int, end: int, type_id: int) -> QuerySet[Span]:
    return _spans_with_offsets(set_id, start, end, type_id).order_by("pk")[:1]


# An archived project is read-only: its articles' sets cannot be claimed.
_archived_article = Article.objects.filter(project__archived_at__isnull=False)


def _claim_queryset(set_id: int, expected_version: int, status: str) -> QuerySet[AnnotationSet]:
    return AnnotationSet.objects.filter(pk=set_id, version=expected_version, status=status).filter(
        ~Exists(_archived_article.filter(pk=OuterRef("article_id")))
    )


def _claim_for_span_queryset(
    set_id: int, expected_version: int, status: str, start: int, end: int, type_id: int
) -> QuerySet[AnnotationSet]:
    """The claim, only if the set has no span with this key (see `add_span_at_once`)."""
    same = Span.objects.filter(annotation_set_id=OuterRef("pk"), start=start, end=end, entity_type_id=type_id)
    return _claim_queryset(set_id, expected_version, status).filter(~Exists(same))


def _claim_undecided_queryset(
    set_id: int, expected_version: int, status: str, suggestion_id: int
) -> QuerySet[AnnotationSet]:
    """The claim, only if the set has not decided on the suggestion (see `suggestions.services`)."""
    from annotator.suggestions.models import Decision  # suggestions build on annotations, not the reverse

    decided = Decision.objects.filter(annotation_set_id=OuterRef("pk"), suggestion_id=suggestion_id)
    return _claim_queryset(set_id, expected_version, status).filter(~Exists(decided))


# The claims' SQL per (database alias, with the span condition or not), and for each of its parameters
# the value it takes: a name of _CLAIM_SLOTS, or None for a constant of the statement (kept as compiled).
_claim_sql: dict[tuple[str, bool, bool], tuple[str, tuple[tuple[str | None, object], ...]]] = {}
_CLAIM_SLOTS = ("now", "set_id", "expected_version", "status")
_SPAN_SLOTS = ("start", "end", "type_id")


def _claim(set_id: int, expected_version: int, status: str) -> bool:
    """Move the set from `expected_version` to the next, if it is there, in `status` and not archived."""
    sql, params = _claim_statement(set_id, expected_version, status)
    if sql is None:
        return False
    with prepared_cursor(connections[router.db_for_write(AnnotationSet)]) as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount == 1


def _claim_statement(
    set_id: int,
    expected_version: int,
    status: str,
    span: tuple[int, int, int] | None = None,
    undecided: int | None = None,
) -> tuple[str | None, list[Any]]:
    """The UPDATE Django builds for `_claim_queryset(...).update(version=F("version") + 1,
    updated_at=now)` (or `_claim_for_span_queryset`'s, for `span` = (start, end, type id), or
    `_claim_undecided_queryset`'s, for `undecided` = a suggestion's id), and its
    parameters. The SQL is compiled once per database (building it cost more Python than the database
    spends running it); only the values change between calls. None for numbers no row holds."""
    if not (0 <= expected_version < 2**31 and 0 < set_id < 2**63):
        return None, []  # no version or set row holds that number (as Django's lookups answer, unasked)
    connection = connections[router.db_for_write(AnnotationSet)]
    if undecided is not None and not 0 < undecided < 2**63:
        return None, []
    key = (connection.alias, span is not None, undecided is not None)
    compiled = _claim_sql.get(key)
    if compiled is None:
        compiled = _claim_sql[key] = _compile_claim(
            connection, with_span=span is not None, with_suggestion=undecided is not None
        )
    sql, slots = compiled
    values: dict[str, object] = {
        "now": connection.ops.adapt_datetimefield_value(timezone.now()),
        "set_id": set_id,
        "expected_version": expected_version,
        "status": status,
    }
    if span is not None:
        values.update(zip(_SPAN_SLOTS, span, strict=True))
    if undecided is not None:
        values["suggestion_id"] = undecided
    return sql, [probe if slot is None else _as_probe(probe, values[slot]) for slot, probe in slots]


def _compile_claim(
    connection: BaseDatabaseWrapper, *, with_span: bool, with_suggestion: bool = False
) -> tuple[str, tuple[tuple[str | None, object], ...]]:
    marker = timezone.now().replace(microsecond=123457)
    set_id, version, status = 1_987_654_321, 1_987_654_322, "\x1fstatus\x1f"
    probe: dict[str, object] = {"now": connection.ops.adapt_datetimefield_value(marker), "set_id": set_id,
                                "expected_version": version, "status": status}  # fmt: skip
    if with_span:
        span = (1_987_654_323, 1_987_654_324, 1_987_654_325)
        probe.update(zip(_SPAN_SLOTS, span, strict=True))
        queryset = _claim_for_span_queryset(set_id, version, status, *span)
    elif with_suggestion:
        probe["suggestion_id"] = 1_987_654_326
        queryset = _claim_undecided_queryset(set_id, version, status, 1_987_654_326)
    else:
        queryset = _claim_queryset(set_id, version, status)
    query = queryset.query.chain(sql_query.UpdateQuery)
    query.add_update_values({"version": F("version") + 1, "updated_at": marker})  # type: ignore[attr-defined]
    sql, params = query.get_compiler(connection.alias).as_sql()
    by_value = {(_kind(value), value): slot for slot, value in probe.items()}
    slots = tuple((by_value.get((_kind(param), param)), param) for param in params)
    if sorted(slot for slot, _ in slots if slot is not None) != sorted(probe):
        raise RuntimeError(f"The claim's SQL does not take each value once: {sql} {params!r}")
    return sql, slots


def _kind(value: object) -> type:
    return int if isinstance(value, int) and not isinstance(value, bool) else type(value)


def _as_probe(probe: object, value: object) -> object:
    """The value as its parameter was compiled: the PostgreSQL backend wraps some integers in a type
    (psycopg's Int4, so that PostgreSQL knows the parameter's type); the value keeps that wrapper."""
    kind = type(probe)
    return kind(value) if isinstance(probe, int) and kind not in (int, bool) else value  # type: ignore[call-arg]


def _refuse_claim(annotation_set: AnnotationSet, expected_version: int, status: str) -> NoReturn:
    raise _claim_refusal(annotation_set, expected_version, status) or StaleVersion(
        expected=expected_version, current=annotation_set.version
    )  # (the last only if the set moved back to what the claim expected since it failed: it did not hold)


def _claim_refusal(annotation_set: AnnotationSet, expected_version: int, status: str) -> DomainError | None:
    """Why the set cannot be claimed at `expected_version` in `status` now, or None if it can."""
    current = (
        AnnotationSet.objects.filter(pk=annotation_set.pk)
        .values("version", "status", "article__project__archived_at")
        .first()
    )
    if current is None:
        return NotEditable("This annotation set no longer exists.")
    if current["article__project__archived_at"] is not None:
        return ProjectArchived()
    if current["version"] != expected_version:
        return StaleVersion(expected=expected_version, current=current["version"])
    if current["status"] != status:
        return NotEditable(
            f"This annotation set is {SetStatus(current['status']).label.lower()}; "
            f"it must be {SetStatus(status).label.lower()} for this action."
        )
    return None


def add_span_at_once(
    annotation_set: AnnotationSet,
    *,
    expected_version: int,
    by: User | None,
    start: int,
    end: int,
    entity_type: EntityType,
    surface: str | None,
) -> Span | None:
    """`edit_set(...)` and `editor.add_span(...)` in one statement and one round trip, where it can be:
    PostgreSQL, the article and the span rules read with the set (`with_editing_facts`, or the page's
    set query), and a project that allows overlaps (otherwise the overlap check reads the set's spans).
    None where it cannot: the caller takes the long way.

    The checks that need no database (offsets, the declared text, white space at the edges, the type's
    project) run first, on what was read with the set. Then one statement claims the next version only
    if the set is at `expected_version`, in progress, not archived and without a span with this key,
    and inserts the span and its history after the claim: all three rows or none, in autocommit. When
    nothing was written, or a check failed, the set's state says why, in the long way's order: a claim
    that would fail (stale, archived, not in progress) first, then the span's own error."""
    if connections[router.db_for_write(Span)].vendor != "postgresql":
        return None
    editor = SetEditor(annotation_set, by)
    try:
        if _preloaded(annotation_set) is None or not editor._read_article().allow_overlapping_spans:
            return None
        start, end, text = editor._edges(start=start, end=end, declared=surface)
        editor._check_entity_type(entity_type)
    except InvalidAnnotation as error:
        raise _claim_refusal(annotation_set, expected_version, SetStatus.IN_PROGRESS) or error from None
    sql, params = _claim_statement(
        annotation_set.pk, expected_version, SetStatus.IN_PROGRESS, (start, end, entity_type.pk)
    )
    span = Span(annotation_set=annotation_set, start=start, end=end, entity_type=entity_type, surface=text,
                created_by=by)  # fmt: skip
    if sql is None or not insert_with_history_if((f'{sql} RETURNING "id"', params), span, by=by):
        raise _claim_refusal(annotation_set, expected_version, SetStatus.IN_PROGRESS) or InvalidAnnotation(
            f"A {entity_type.name} span at [{start}, {end}) already exists in this set.", field="start"
        )
    annotation_set.version = expected_version + 1
    Span.link.related.set_cached_value(span, None)  # type: ignore[attr-defined]  # new: no link
    return span


def with_editing_facts(sets: QuerySet[AnnotationSet]) -> QuerySet[AnnotationSet]:
    """The sets with what a `SetEditor` checks spans against, read with them: their article (its text)
    and the project's two span rules. An editor of such a set reads no article facts of its own: a write
    costs one query less. (The text never changes; the rules are read before the claim instead of after
    it, which the transaction did not isolate either: the project's row is not locked.)"""
    return sets.select_related("article").annotate(
        project_allow_overlapping_spans=F("article__project__allow_overlapping_spans"),
        project_trim_span_whitespace=F("article__project__trim_span_whitespace"),
    )


def take_editing_facts(annotation_set: AnnotationSet) -> None:
    """Say that the set's article and its project, as loaded with it, were read for this request (as the
    annotate page reads its set): what `with_editing_facts` reads. Nothing when they were not loaded.

    Only a caller that has just read them may say so: a set kept for longer (a job, a script) may hold
    a project whose rules have changed since, and its editor reads them itself."""
    article = annotation_set._state.fields_cache.get("article")
    project = article._state.fields_cache.get("project") if article is not None else None
    rules = {"allow_overlapping_spans", "trim_span_whitespace"}
    if project is not None and not rules & project.get_deferred_fields():
        annotation_set.project_allow_overlapping_spans = project.allow_overlapping_spans  # type: ignore[attr-defined]
        annotation_set.project_trim_span_whitespace = project.trim_span_whitespace  # type: ignore[attr-defined]


def _preloaded(annotation_set: AnnotationSet) -> tuple[Article, bool, bool] | None:
    """The article and the span rules read with the set (`with_editing_facts`, `take_editing_facts`)."""
    article = annotation_set._state.fields_cache.get("article")
    if article is None or "text" in article.get_deferred_fields():
        return None
    allow = getattr(annotation_set, "project_allow_overlapping_spans", None)
    trim = getattr(annotation_set, "project_trim_span_whitespace", None)
    if allow is None or trim is None:
        return None
    return article, allow, trim


_UNREAD = object()  # `SetEditor.link`: the span's link is not known yet


@dataclass(frozen=True)
class _ArticleFacts:
    project_id: int
    allow_overlapping_spans: bool
    trim_span_whitespace: bool
    length: int
    surface: str  # the text at the offsets asked for when these facts were read


class SetEditor:
    """Checked changes to one claimed annotation set. Records who made them in the history."""

    def __init__(self, annotation_set: AnnotationSet, by: User | None) -> None:
        self.annotation_set = annotation_set
        self.by = by

    @cached_property
    def _article(self) -> _ArticleFacts:
        return self._read_article()

    def _read_article(self, *, start: int = 0, end: int = 0) -> _ArticleFacts:
        """The article's facts, and its text at [start, end), in one query (cached for later calls)."""
        first = min(max(start, 0), OFFSET_MAX - 1)
        # Clamped so that the database only ever sees a position and a length its integer holds (never
        # negative, never past OFFSET_MAX): bad offsets are refused by check_offsets() before the slice
        # is used, whatever their size.
        length = min(max(end - first, 0), OFFSET_MAX)
        preloaded = _preloaded(self.annotation_set)
        if preloaded is not None:
            article, allow_overlapping, trim_whitespace = preloaded
            text = article.text
            facts = _ArticleFacts(
                article.project_id,
                allow_overlapping,
                trim_whitespace,
                len(text),
                text[first : first + length],
            )
        else:
            ((project_id, allow_overlapping, trim_whitespace, length, surface),) = _article_facts(
                article_id=self.annotation_set.article_id, position=first + 1, length=length
            )
            facts = _ArticleFacts(project_id, allow_overlapping, trim_whitespace, length, surface)
        self.__dict__["_article"] = facts  # what cached_property would store
        return facts

    def _save(self, instance: Model) -> None:
        instance._history_user = self.by  # type: ignore[attr-defined]
        instance.save()

    def _delete(self, instance: Model) -> None:
        instance._history_user = self.by  # type: ignore[attr-defined]
        instance.delete()

    # Spans

    def _surface(self, *, start: int, end: int, declared: str | None) -> str:
        """The text at [start, end), after checking the offsets and the surface the client declared."""
        surface = self._read_article(start=start, end=end).surface
        try:
            check_offsets(text_length=self._article.length, start=start, end=end)
        except OffsetError as error:
            raise InvalidAnnotation(str(error), field="start") from None
        if declared is not None and declared != surface:
            raise InvalidAnnotation(
                f"The text at [{start}, {end}) is {surface!r}, not {declared!r}: the offsets do not match "
                "the text you selected.",
                field="surface",
            )
        return surface

    def _edges(self, *, start: int, end: int, declared: str | None) -> tuple[int, int, str]:
        """The span's offsets and text once its edges are checked: white space at either edge is refused,
        or trimmed away when the project says so (a stray space would make the span a different string
        from every other mention of the name, in agreement, exports and training)."""
        surface = self._surface(start=start, end=end, declared=declared)
        trimmed = surface.strip()
        if trimmed == surface:
            return start, end, surface
        if not trimmed:
            raise InvalidAnnotation(f"The text at [{start}, {end}) is only white space.", field="start")
        if not self._article.trim_span_whitespace:
            raise InvalidAnnotation(
                f"A span cannot start or end with white space: the text at [{start}, {end}) is {surface!r}.",
                field="start",
            )
        leading = len(surface) - len(surface.lstrip())
        return start + leading, start + leading + len(trimmed), trimmed

    def _check_entity_type(self, entity_type: EntityType) -> None:
        if entity_type.project_id != self._article.project_id:
            raise InvalidAnnotation("That entity type belongs to another project.", field="entity_type")

    def _check_room(
        self, *, start: int, end: int, entity_type: EntityType, ignore: Span | None = None
    ) -> None:
        """Refuse a duplicate span, and any overlap when the project does not allow overlaps. (A new span
        where overlaps are allowed needs no check: its INSERT refuses a duplicate, see `add_span`.)"""
        others = Span.objects.filter(annotation_set=self.annotation_set, start__lt=end, end__gt=start)
        if ignore is not None:
            others = others.exclude(pk=ignore.pk)
        if self._article.allow_overlapping_spans:
            if others.filter(start=start, end=end, entity_type=entity_type).exists():
                raise InvalidAnnotation(
                    f"A {entity_type.name} span at [{start}, {end}) already exists in this set.",
                    field="start",
                )
        elif clash := others.values_list("start", "end").first():
            raise InvalidAnnotation(
                f"This project does not allow overlapping spans, and [{start}, {end}) overlaps the span "
                f"at [{clash[0]}, {clash[1]}).",
                field="start",
            )

    def add_span(
        self,
        *,
        start: int,
        end: int,
        entity_type: EntityType,
        surface: str | None = None,
    ) -> Span:
        """Add a span."""
        start, end, text = self._edges(start=start, end=end, declared=surface)  # first: reads the facts
        self._check_entity_type(entity_type)
        if not self._article.allow_overlapping_spans:
            self._check_room(start=start, end=end, entity_type=entity_type)
        span = self._insert_span(start=start, end=end, entity_type=entity_type, text=text)
        if span is None:
            raise InvalidAnnotation(
                f"A {entity_type.name} span at [{start}, {end}) already exists in this set.", field="start"
            )
        return span

    def _insert_span(self, *, start: int, end: int, entity_type: EntityType, text: str) -> Span | None:
        """The new span, or None when the set has this span already: the span_unique_in_set constraint
        refuses it in the INSERT itself, so looking for a duplicate costs no query of its own (and a
        caller's error rolls back the claim's transaction)."""
        span = Span(
            annotation_set=self.annotation_set,
            start=start,
            end=end,
            entity_type=entity_type,
            surface=text,
            created_by=self.by,
        )
        if not insert_with_history(span, by=self.by):
            return None
        # A new span has no link: saying so spares whoever reads `span.link` next (the API's answer,
        # the occurrence suggester) a query.
        Span.link.related.set_cached_value(span, None)  # type: ignore[attr-defined]
        return span

    def find_span(self, *, start: int, end: int, entity_type: EntityType) -> Span | None:
        ids = {"set_id": self.annotation_set.pk, "start": start, "end": end, "type_id": entity_type.pk}
        found = _spans_at(**ids)
        if not found:
            return None
        found[0].entity_type = entity_type  # the one it was found by: whoever reads its name reads no row
        return found[0]

    def span_at(self, *, start: int, end: int, entity_type: EntityType) -> tuple[Span, bool]:
        """The set's span with this key, made if it has none; (the span, whether it was made).

        Where overlaps are allowed, the INSERT comes first and the look-up only when it finds the span
        there (one statement on the usual path, where the span is new); otherwise the look-up first, as
        the overlap check would refuse the span that is already there."""
        if self._read_article(start=start, end=end).allow_overlapping_spans:
            try:
                edges = self._edges(start=start, end=end, declared=None)
                self._check_entity_type(entity_type)
            except InvalidAnnotation:
                edges = None  # said below, unless the set has such a span (made before a rule changed)
            if edges is not None and edges[:2] == (start, end):
                made = self._insert_span(start=start, end=end, entity_type=entity_type, text=edges[2])
                if made is not None:
                    return made, True
        found = self.find_span(start=start, end=end, entity_type=entity_type)
        if found is not None:
            return found, False
        return self.add_span(start=start, end=end, entity_type=entity_type), True

    def change_span(
        self,
        span: Span,
        *,
        start: int | None = None,
        end: int | None = None,
        entity_type: EntityType | None = None,
        surface: str | None = None,
    ) -> Span:
        self._check_own(span)
        new_start = span.start if start is None else start
        new_end = span.end if end is None else end
        new_type = entity_type or span.entity_type
        new_start, new_end, text = self._edges(start=new_start, end=new_end, declared=surface)
        if (new_start, new_end, new_type.pk) == (span.start, span.end, span.entity_type_id):
            raise InvalidAnnotation("The span already has these boundaries and this type.", field="start")
        self._check_entity_type(new_type)
        self._check_room(start=new_start, end=new_end, entity_type=new_type, ignore=span)
        if new_type.pk != span.entity_type_id:
            # Attributes belong to a type: the old type's values mean nothing on the new one.
            for value in SpanAttribute.objects.filter(span=span):
                self._delete(value)
        span.start, span.end, span.entity_type, span.surface = new_start, new_end, new_type, text
        self._save(span)
        return span

    def remove_span(self, span: Span) -> None:
        """Delete a span with its link and relations, each recorded in the history."""
        self._check_own(span)
        for relation in Relation.objects.filter(Q(head=span) | Q(tail=span)):
            self._delete(relation)
        if link := EntityLink.objects.filter(span=span).first():
            self._delete(link)
        for value in SpanAttribute.objects.filter(span=span):
            self._delete(value)
        self._delete(span)

    def _check_own(self, span: Span) -> None:
        if span.annotation_set_id != self.annotation_set.pk:
            raise InvalidAnnotation("That span belongs to another annotation set.", field="span")

    # Links

    def link(self, span: Span, kb_entity: KBEntity | None, *, current: Any = _UNREAD) -> EntityLink:
        """Link the span to a KB entity, or mark it NIL (`kb_entity=None`): not in the KB. `current` is the
        span's link (or None) when the caller has just read it in this edit; else it is read here."""
        self._check_own(span)
        if kb_entity is not None:
            found = list(
                KBEntity.objects.filter(
                    pk=kb_entity.pk, knowledge_base__project_id=self._article.project_id
                ).values_list("merged_into__kb_id", flat=True)
            )
            if not found:
                raise InvalidAnnotation(
                    "That KB entity is not in this project's knowledge bases.", field="kb_entity"
                )
            if found[0] is not None:
                raise InvalidAnnotation(
                    f"{kb_entity.name} was merged into {found[0]}; link to that entity.", field="kb_entity"
                )
        link = EntityLink.objects.filter(span=span).first() if current is _UNREAD else current
        if link is None:
            # A new link with its history in one INSERT (the span's own claim rules out another writer).
            link = EntityLink(span=span, created_by=self.by, kb_entity=kb_entity)
            if not insert_with_history(link, by=self.by):
                raise InvalidAnnotation("The span was linked meanwhile; reload it.", field="span")
            return link
        if link.kb_entity_id == (kb_entity.pk if kb_entity else None):
            raise InvalidAnnotation("The span is already linked there.", field="kb_entity")
        link.kb_entity = kb_entity
        self._save(link)
        return link

    def unlink(self, span: Span) -> None:
        self._check_own(span)
        link = EntityLink.objects.filter(span=span).first()
        if link is None:
            raise InvalidAnnotation("The span has no link to remove.", field="span")
        self._delete(link)

    # Attributes

    def set_attribute(self, span: Span, attribute: EntityTypeAttribute, value: object) -> SpanAttribute:
        """Give the span this value of an attribute of its entity type (replacing any value it had)."""
        self._check_own(span)
        if attribute.entity_type_id != span.entity_type_id:
            raise InvalidAnnotation(
                f"{attribute.name} is an attribute of {attribute.entity_type.name}, not of "
                f"{span.entity_type.name}.",
                field="attribute",
            )
        try:
            stored = attribute.check_value(value)
        except ValidationError as error:
            raise InvalidAnnotation(error.messages[0], field="value") from None
        current = SpanAttribute.objects.filter(span=span, attribute=attribute).first()
        if current is not None and current.value == stored and type(current.value) is type(stored):
            raise InvalidAnnotation(f"{attribute.name} is already {stored!r} on this span.", field="value")
        row = current or SpanAttribute(span=span, attribute=attribute)
        row.value = stored
        self._save(row)
        return row

    def clear_attribute(self, span: Span, attribute: EntityTypeAttribute) -> None:
        self._check_own(span)
        current = SpanAttribute.objects.filter(span=span, attribute=attribute).first()
        if current is None:
            raise InvalidAnnotation(f"The span has no value for {attribute.name}.", field="attribute")
        self._delete(current)

    # Relations

    def add_relation(self, *, head: Span, tail: Span, relation_type: RelationType) -> Relation:
        if head.annotation_set_id != self.annotation_set.pk:
            raise InvalidAnnotation("The head span belongs to another annotation set.", field="head")
        if tail.annotation_set_id != self.annotation_set.pk:
            raise InvalidAnnotation("The tail span belongs to another annotation set.", field="tail")
        if head.pk == tail.pk:
            raise InvalidAnnotation("A relation needs two different spans.", field="tail")
        if relation_type.project_id != self._article.project_id:
            raise InvalidAnnotation("That relation type belongs to another project.", field="relation_type")
        if not relation_type.allows(head.entity_type_id, tail.entity_type_id):
            raise InvalidAnnotation(
                f"The schema does not allow {relation_type.name} from a {head.entity_type.name} "
                f"to a {tail.entity_type.name}.",
                field="relation_type",
            )
        if not relation_type.directed and (tail.start, tail.end, tail.pk) < (head.start, head.end, head.pk):
            head, tail = (
                tail,
                head,
            )  # symmetric: one stored orientation, so (a, b) and (b, a) are one relation
        relation = Relation(
            annotation_set=self.annotation_set,
            head=head,
            tail=tail,
            relation_type=relation_type,
            created_by=self.by,
        )
        # The relation_unique_in_set constraint refuses a duplicate in the INSERT itself (no look-up of
        # its own), which writes the history row with it.
        if not insert_with_history(relation, by=self.by):
            raise InvalidAnnotation(
                f"{head.surface} -{relation_type.name}-> {tail.surface} already exists in this set.",
                field="relation_type",
            )
        return relation

    def find_relation(self, *, head: Span, tail: Span, relation_type: RelationType) -> Relation | None:
        pairs = Q(head=head, tail=tail)
        if not relation_type.directed:
            pairs |= Q(head=tail, tail=head)
        return Relation.objects.filter(
            pairs, annotation_set=self.annotation_set, relation_type=relation_type
        ).first()

    def remove_relation(self, relation: Relation) -> None:
        if relation.annotation_set_id != self.annotation_set.pk:
            raise InvalidAnnotation("That relation belongs to another annotation set.", field="relation")
        self._delete(relation)

    # The set itself

    def set_status(self, status: str) -> None:
        self.annotation_set.status = status
        self.annotation_set.submitted_at = timezone.now() if status != SetStatus.IN_PROGRESS else None
        self._save(self.annotation_set)
