"""What the annotate page shows of one annotation set, for the whole text or for a few blocks of it.

A constant number of queries whatever the number of spans: spans (with type and link), the ids of
spans that take part in relations, relations, and the suggestions this set has not decided yet.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar, overload

from django.core.cache import cache
from django.db.models import (
    BooleanField,
    CharField,
    Exists,
    ExpressionWrapper,
    F,
    Field,
    FloatField,
    Func,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.expressions import RawSQL

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils.safestring import SafeString, mark_safe

from annotator.annotations.models import AnnotationSet, Relation, Span, SpanAttribute
from annotator.core.compiled import CompiledQuery
from annotator.projects.models import EntityType, EntityTypeAttribute
from annotator.review.rendering import Block, Mark, render_blocks, render_plain_blocks, split_blocks
from annotator.review.rows import (
    LISTS,
    entity_suggestion_row,
    group,
    group_opening,
    plain_span_row,
    relation_row,
    span_row,
    suggestion_row,
)
from annotator.review.set_row_types import CarriedTypes, TypeWithCounts
from annotator.review.templatetags.span_options import span_option
from annotator.suggestions.models import Decision, SuggesterVersion, Suggestion, SuggestionKind


def _overlapping(blocks: list[Block], *, start: str = "start", end: str = "end") -> Q:
    """Rows whose [start, end) overlaps any of the blocks, merging adjacent blocks into one range."""
    ranges: list[list[int]] = []
    for block in blocks:
        if ranges and ranges[-1][1] == block.start:
            ranges[-1][1] = block.end
        else:
            ranges.append([block.start, block.end])
    condition = Q(pk__in=[])
    for low, high in ranges:
        condition |= Q(**{f"{start}__lt": high, f"{end}__gt": low})
    return condition


def _starting_in(blocks: list[Block], *, start: str = "start") -> Q:
    condition = Q(pk__in=[])
    for block in blocks:
        condition |= Q(**{f"{start}__gte": block.start, f"{start}__lt": block.end})
    return condition


def pending_suggestions(annotation_set: AnnotationSet) -> Q:
    """Suggestions for the set's article that the set has not decided, from the active suggester
    (or from every suggester of the project when none is active)."""
    return _pending(annotation_set.pk, annotation_set.article_id, annotation_set.article.project_id)


def _pending(set_id: int, article_id: int, project_id: int) -> Q:
    decided = Decision.objects.filter(suggestion=OuterRef("pk"), annotation_set_id=set_id)
    active = SuggesterVersion.objects.filter(project_id=project_id, is_active=True).order_by()
    # A project has at most one active suggester: as a subquery it costs no query of its own.
    from_active = Q(suggester_version_id__in=active.values("pk")) | ~Q(Exists(active))
    # An entity suggestion inside a span of the same type that the set already has (the same span, or
    # "Lukashenko" inside an accepted "Alexander Lukashenko") says nothing new: nothing to decide.
    # A covering span starts at most the set's longest span before the suggestion: with that lower
    # bound, the (set, start) index finds it in a few rows instead of every span before the suggestion
    # (5,625 spans and 27,000 suggestions took 13 s to count on SQLite without it). The bound is one
    # uncorrelated subquery, which both databases compute once per query.
    longest = (
        Span.objects.filter(annotation_set_id=set_id)
        .order_by()
        .values("annotation_set")
        .annotate(n=Max(F("end") - F("start")))
        .values("n")
    )
    covering = Span.objects.filter(
        annotation_set_id=set_id,
        start__gte=ExpressionWrapper(OuterRef("start") - Subquery(longest), output_field=IntegerField()),
        start__lte=OuterRef("start"),
        end__gte=OuterRef("end"),
        entity_type_id=OuterRef("entity_type_id"),
    )
    covered = Q(kind=SuggestionKind.ENTITY) & Q(Exists(covering))
    return Q(article_id=article_id) & ~Q(Exists(decided)) & from_active & ~covered


def _count(queryset: Any) -> Subquery:
    return Subquery(
        queryset.order_by().annotate(n=Func(F("pk"), function="COUNT")).values("n")[:1],
        output_field=IntegerField(),
    )


def _set_count_columns(set_id: int) -> dict[str, Subquery]:
    return {
        "n_spans": _count(Span.objects.filter(annotation_set_id=set_id).values("annotation_set")),
        "n_relations": _count(Relation.objects.filter(annotation_set_id=set_id).values("annotation_set")),
    }


def _count_columns(set_id: int, article_id: int, project_id: int) -> dict[str, Subquery]:
    return {
        **_set_count_columns(set_id),
        "n_suggestions": _count(
            Suggestion.objects.filter(_pending(set_id, article_id, project_id)).values("article")
        ),
    }


@CompiledQuery
def _counts(set_id: int, article_id: int, project_id: int) -> QuerySet[AnnotationSet, Any]:
    return AnnotationSet.objects.filter(pk=set_id).values(**_count_columns(set_id, article_id, project_id))


def _ids(annotation_set: AnnotationSet) -> dict[str, int]:
    return {
        "set_id": annotation_set.pk,
        "article_id": annotation_set.article_id,
        "project_id": annotation_set.article.project_id,
    }


def set_counts(annotation_set: AnnotationSet) -> dict[str, int]:
    """The whole set's counts for the page header (spans, relations, pending suggestions), in one query."""
    (row,) = _counts(**_ids(annotation_set))
    return {name.removeprefix("n_"): int(value or 0) for name, value in row.items()}


@CompiledQuery
def _types_with_counts(set_id: int, article_id: int, project_id: int) -> QuerySet[EntityType]:
    types = EntityType.objects.filter(project_id=project_id)
    return types.annotate(**_count_columns(set_id, article_id, project_id)).order_by("position", "name")


@CompiledQuery
def _type_values_with_set_counts(set_id: int, project_id: int) -> QuerySet[EntityType, tuple[Any, ...]]:
    types = EntityType.objects.filter(project_id=project_id).annotate(**_set_count_columns(set_id))
    return types.order_by("position", "name").values_list(  # type: ignore[misc]  # annotations
        "pk", "name", "key", "n_spans", "n_relations"
    )


def _types_with_set_counts(set_id: int, project_id: int) -> list[TypeWithCounts]:
    """The project's entity types, each carrying the set's counts of spans and relations, as plain values:
    the page reads three fields of a type, and a model instance per type cost more than its query."""
    return [
        TypeWithCounts._make(row)
        for row in _type_values_with_set_counts(set_id=set_id, project_id=project_id)
    ]


def types_and_counts(annotation_set: AnnotationSet) -> tuple[list[EntityType], dict[str, int]]:
    """The project's entity types (in the pickers' order) and the set's counts, in one query: the counts
    are subqueries that depend on no type row, which both databases compute once per query, carried on
    every row. A project without types has no row to carry them: then the counts take their own query."""
    types = _types_with_counts(**_ids(annotation_set))
    if not types:
        return [], set_counts(annotation_set)
    first = types[0]
    counts = {name: int(getattr(first, f"n_{name}") or 0) for name in ("spans", "relations", "suggestions")}
    return types, counts


class Named(NamedTuple):
    """What a row shows of an entity or relation type: its id and name."""

    pk: int
    name: str


class KBName(NamedTuple):
    """What a row shows of a KB entity."""

    name: str
    kb_id: str


class LinkRow(NamedTuple):
    """What a row shows of a span's link: to a KB entity, or NIL (`kb_entity` None)."""

    pk: int
    kb_entity_id: int | None
    kb_entity: KBName | None


@dataclass(slots=True)
class SpanRow:
    """A span as the page shows it (its row, its mark, the comment form's picker), read as plain values:
    on the annotate page, building model instances for every span and suggestion (with their types,
    links and KB entities) cost more CPU than the database's answer. Attributes as on `Span`."""

    pk: int
    start: int
    end: int
    entity_type_id: int
    entity_type: Named
    surface: str
    link: LinkRow | None
    related: bool
    has_attributes: bool
    attribute_rows: list[SpanAttribute] = field(default_factory=list)


SpanLike = TypeVar("SpanLike", bound="Span | SpanRow")


@dataclass(slots=True)
class SuggestionRow:
    """A pending suggestion as the page shows it, read as plain values. Attributes as on `Suggestion`,
    with its text (`surface`, and `tail_surface` for a relation)."""

    pk: int
    kind: str
    start: int
    end: int
    entity_type_id: int | None
    entity_type: Named | None
    relation_type: Named | None
    kb_entity: KBName | None
    score: float
    source: str
    surface: str
    tail_surface: str | None


@dataclass
class SetView:
    """The set over some blocks of its article: marks for the text, rows for the side lists.

    Marks cover every shown block and are read as plain values (a large article has thousands);
    rows are full objects, read only for `row_blocks`: the other blocks' groups render as placeholders
    that the page loads when they come into view.
    """

    annotation_set: AnnotationSet
    text: str
    blocks: list[Block]
    row_blocks: list[Block]
    marks: list[Mark] = field(default_factory=list)
    spans: list[Span | SpanRow] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    suggestions: list[Suggestion | SuggestionRow] = field(default_factory=list)

    def rendered_blocks(self, *, oob: bool = False) -> list[SafeString]:
        return render_blocks(self.text, self.blocks, self.marks, oob=oob)

    def row_groups(self, *, oob: bool = False, later: Sequence[Block] = ()) -> dict[str, list[SafeString]]:
        """The side lists, per list and per shown block, then an empty group for each of the `later`
        blocks (those the page loads as they come into view)."""
        loaded = {rows.block.index: rows for rows in self.rows()}
        lists: dict[str, list[SafeString]] = {kind: [] for kind in LISTS}
        for block in [*self.blocks, *later]:
            rows = loaded.get(block.index)
            for kind in LISTS:
                lists[kind].append(group(kind, rows or BlockRows(block), oob=oob, lazy=rows is None))
        return lists

    def rows(self) -> list[BlockRows]:
        """The side list rows of the row blocks, grouped by the block where each item starts."""
        groups = {block.index: BlockRows(block) for block in self.row_blocks}
        starts = [block.start for block in self.row_blocks]

        def group_of(offset: int) -> BlockRows | None:
            index = bisect_right(starts, offset) - 1
            if index < 0:
                return None
            block = self.row_blocks[index]
            return groups[block.index] if block.start <= offset < block.end else None

        for span in self.spans:
            if found := group_of(span.start):
                found.spans.append(span)
        for relation in self.relations:
            if found := group_of(relation.head.start):
                found.relations.append(relation)
        for suggestion in self.suggestions:
            if found := group_of(suggestion.start):
                found.suggestions.append(suggestion)
        return list(groups.values())


@dataclass
class BlockRows:
    block: Block
    spans: list[Span | SpanRow] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    suggestions: list[Suggestion | SuggestionRow] = field(default_factory=list)


def load_view(
    annotation_set: AnnotationSet,
    text: str,
    blocks: list[Block] | None = None,
    *,
    row_blocks: list[Block] | None = None,
    pending: Q | None = None,
    with_marks: bool = True,
    type_names: dict[int, str] | None = None,
    any_relations: bool = True,
    read: WholeTextRows | None = None,
) -> SetView:
    """The set over `blocks` (all of them when None), with rows for `row_blocks` (default: the same).

    `type_names` (entity type id -> name), when the caller has them, saves reading them again;
    `any_relations=False` (the caller counted none in the set) saves reading relations; `read`, the
    whole text's span and pending suggestion values when the caller read them, saves reading them again.
    """
    shown = split_blocks(text) if blocks is None else blocks
    rows_in = shown if row_blocks is None else row_blocks
    whole_text = blocks is None
    if pending is None and not (whole_text and with_marks and row_blocks is None):
        pending = pending_suggestions(annotation_set)  # the whole text's reads are compiled with theirs
    if with_marks and row_blocks is None:
        # Rows for every shown block: one read serves both the marks and the rows.
        marks, items = _marks_and_rows(annotation_set, text, shown, pending, whole_text, read)
        return SetView(annotation_set=annotation_set, text=text, blocks=shown, row_blocks=rows_in, marks=marks,
                       relations=_relations(annotation_set, rows_in) if any_relations else [],
                       **items)  # fmt: skip
    assert pending is not None
    marks = _marks(annotation_set, shown, pending, whole_text, type_names) if with_marks else []
    return SetView(
        annotation_set=annotation_set,
        text=text,
        blocks=shown,
        row_blocks=rows_in,
        marks=marks,
        **_rows(annotation_set, text, rows_in, pending),
    )


def _in_relation() -> Exists:
    return Exists(Relation.objects.filter(Q(head=OuterRef("pk")) | Q(tail=OuterRef("pk"))))


def _span_mark(
    pk: int, start: int, end: int, type_id: int, name: str, link_id: int | None, kb_entity_id: int | None,
    related: bool,
) -> Mark:  # fmt: skip
    linked = "" if link_id is None else ("nil" if kb_entity_id is None else "kb")
    return Mark(f"s{pk}", start, end, type_id, name, linked=linked, related=related)


def _suggestion_mark(pk: int, start: int, end: int, type_id: int, name: str, score: float) -> Mark:
    return Mark(f"g{pk}", start, end, type_id, f"{name} {score:.2f}", suggestion=True)


def _marks(
    annotation_set: AnnotationSet,
    blocks: list[Block],
    pending: Q,
    whole_text: bool,
    type_names: dict[int, str] | None,
) -> list[Mark]:
    """Marks of the spans and pending entity suggestions over the blocks, as plain values (a large
    article has thousands: no model objects, and no ordering, since the rendering sorts them)."""
    names = type_names
    if names is None:
        entity_types = EntityType.objects.filter(project_id=annotation_set.article.project_id).order_by()
        names = dict(entity_types.values_list("pk", "name"))
    spans = Span.objects.filter(annotation_set=annotation_set).annotate(related=_in_relation()).order_by()
    suggestions = Suggestion.objects.filter(pending, kind=SuggestionKind.ENTITY).order_by()
    if not whole_text:
        spans, suggestions = spans.filter(_overlapping(blocks)), suggestions.filter(_overlapping(blocks))
    marks, existing = [], set()
    span_rows = spans.values_list(
        "pk", "start", "end", "entity_type_id", "link__id", "link__kb_entity_id", "related"
    )
    for pk, start, end, type_id, link_id, kb_entity_id, related in span_rows:
        existing.add((start, end, type_id))
        marks.append(_span_mark(pk, start, end, type_id, names[type_id], link_id, kb_entity_id, related))
    for pk, start, end, type_id, score in suggestions.values_list(
        "pk", "start", "end", "entity_type_id", "score"
    ):
        if (start, end, type_id) not in existing:  # the set already has it: nothing to decide
            marks.append(_suggestion_mark(pk, start, end, type_id, names[type_id], score))
    return marks


def with_attributes(spans: QuerySet[Span]) -> QuerySet[Span]:
    """Spans marked with whether their type has attributes (`has_attributes`), in the same query."""
    return spans.annotate(
        has_attributes=Exists(EntityTypeAttribute.objects.filter(entity_type=OuterRef("entity_type")))
    )


def attach_attribute_values(spans: list[SpanLike]) -> list[SpanLike]:
    """Give each span its attribute values as `attribute_rows`: one query, and none in a project
    whose types have no attributes (the page's query count stays as it was)."""
    wanted = [span.pk for span in spans if getattr(span, "has_attributes", False)]
    by_span: dict[int, list[SpanAttribute]] = {}
    if wanted:
        for row in (
            SpanAttribute.objects.filter(span_id__in=wanted)
            .select_related("attribute")
            .order_by("attribute__position", "attribute__name")
        ):
            by_span.setdefault(row.span_id, []).append(row)
    for span in spans:
        span.attribute_rows = by_span.get(span.pk, [])  # type: ignore[union-attr]
    return spans


def _spans_in_order(spans: QuerySet[Span]) -> QuerySet[Span]:
    """Spans as the rows show them: type, link and attributes loaded, whether in a relation, in text order."""
    return with_attributes(
        spans.select_related("entity_type", "link__kb_entity")
        .annotate(related=_in_relation())
        .order_by("start", "end", "id")
    )


def _suggestions_in_order(suggestions: QuerySet[Suggestion]) -> QuerySet[Suggestion]:
    return suggestions.select_related("entity_type", "relation_type", "kb_entity").order_by(
        "start", "end", "kind", "rank", "id"
    )


@CompiledQuery
def _all_span_values(set_id: int) -> QuerySet[Span, tuple[Any, ...]]:
    """Every span of the set as `_span_row` reads it, in text order."""
    spans = with_attributes(Span.objects.filter(annotation_set_id=set_id).annotate(related=_in_relation()))
    return spans.order_by("start", "end", "id").values_list(  # type: ignore[misc]  # annotations
        "pk", "start", "end", "entity_type_id", "entity_type__name", "surface", "link__id",
        "link__kb_entity_id", "link__kb_entity__name", "link__kb_entity__kb_id", "related", "has_attributes",
    )  # fmt: skip


def _span_row(row: tuple[Any, ...]) -> SpanRow:
    pk, start, end, type_id, type_name, surface, link_id, kb_entity_id, kb_name, kb_id, related, attrs = row
    link = None
    if link_id is not None:
        link = LinkRow(link_id, kb_entity_id, None if kb_entity_id is None else KBName(kb_name, kb_id))
    return SpanRow(pk, start, end, type_id, Named(type_id, type_name), surface, link, related, attrs)


@CompiledQuery
def _all_pending_values(
    set_id: int, article_id: int, project_id: int
) -> QuerySet[Suggestion, tuple[Any, ...]]:
    """Every pending suggestion of the set as `_suggestion_row` reads it, in the rows' order."""
    pending = Suggestion.objects.filter(_pending(set_id, article_id, project_id))
    return pending.order_by("start", "end", "kind", "rank", "id").values_list(
        "pk", "kind", "start", "end", "entity_type_id", "entity_type__name", "relation_type_id",
        "relation_type__name", "kb_entity__name", "kb_entity__kb_id", "score", "source", "tail_start", "tail_end",
    )  # fmt: skip


# The whole text's span values and pending suggestion values, as `_all_span_values` and
# `_all_pending_values` read them.
WholeTextRows = tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]


class _Constant(RawSQL):
    """A constant column, written into the SQL and read back as the database gives it: as a parameter,
    a UNION's column has no type to take on PostgreSQL; and the union's columns are converted as its
    first branch's are, so a conversion here (`int()` of an IntegerField) would run on every row."""

    def __init__(self, sql: str, output_field: Field[Any, Any]) -> None:
        super().__init__(sql, (), output_field=output_field)

    def get_db_converters(self, connection: BaseDatabaseWrapper) -> list[Any]:
        return []


# The columns of `_spans_and_first_pending`: a pending suggestion's values as `_all_pending_values`
# reads them, with the span's where their types agree (its link in the relation type's place, its text
# in the relation type name's, its link's KB entity in the tail's start), then the rows' order and the
# span's flags.
_UNION_SUGGESTION_COLUMNS = (
    "which", "pk", "kind", "start", "end", "entity_type_id", "entity_type__name", "relation_type_id",
    "relation_type__name", "kb_entity__name", "kb_entity__kb_id", "score", "source", "tail_start", "tail_end",
    "rank", "related", "has_attributes",
)  # fmt: skip
_UNION_SPAN_COLUMNS = (
    "which", "pk", "kind", "start", "end", "entity_type_id", "entity_type__name", "link__id", "surface",
    "link__kb_entity__name", "link__kb_entity__kb_id", "score", "source", "link__kb_entity_id", "tail_end",
    "rank", "related", "has_attributes",
)  # fmt: skip


@CompiledQuery
def _spans_and_first_pending(
    set_id: int, article_id: int, project_id: int
) -> QuerySet[Span, tuple[Any, ...]]:
    """`_all_span_values` and the first of `_all_pending_values` in one statement (UNION ALL): every
    span of the set first (`which` 0; the caller has counted at most `LAZY_PAST_ROWS`), then its pending
    suggestions (`which` 1), at least one more than a page shows at once when there are that many. One
    statement instead of two: each cost the page a round trip and Django's reading of a result."""
    nothing = {name: _Constant("NULL", field) for name, field in
               (("score", FloatField()), ("source", CharField()), ("tail_end", IntegerField()))}  # fmt: skip
    spans = with_attributes(
        Span.objects.filter(annotation_set_id=set_id).annotate(
            related=_in_relation(),
            which=_Constant("0", IntegerField()),
            kind=_Constant("''", CharField()),
            rank=_Constant("0", IntegerField()),
            **nothing,
        )
    ).order_by()
    pending = (
        Suggestion.objects.filter(_pending(set_id, article_id, project_id))
        .annotate(
            which=_Constant("1", IntegerField()),
            related=_Constant("NULL", BooleanField()),
            has_attributes=_Constant("NULL", BooleanField()),
        )
        .order_by()
    )
    both = spans.values_list(*_UNION_SPAN_COLUMNS).union(
        pending.values_list(*_UNION_SUGGESTION_COLUMNS), all=True
    )
    return both.order_by("which", "start", "end", "kind", "rank", "pk")[: 2 * LAZY_PAST_ROWS + 1]  # type: ignore[misc]


def _split_union(rows: list[tuple[Any, ...]]) -> WholeTextRows:
    """The rows of `_spans_and_first_pending` as `_all_span_values` and `_all_pending_values` give them."""
    split = next((at for at, row in enumerate(rows) if row[0]), len(rows))
    spans = [
        (r[1], r[3], r[4], r[5], r[6], r[8], r[7], r[13], r[9], r[10], r[16], r[17]) for r in rows[:split]
    ]
    return spans, [row[1:15] for row in rows[split:]]


def _suggestion_row(row: tuple[Any, ...], text: str) -> SuggestionRow:
    (pk, kind, start, end, type_id, type_name, relation_type_id, relation_name, kb_name, kb_id, score, source,
     tail_start, tail_end) = row  # fmt: skip
    return SuggestionRow(
        pk, kind, start, end, type_id,
        None if type_id is None else Named(type_id, type_name),
        None if relation_type_id is None else Named(relation_type_id, relation_name),
        None if kb_name is None else KBName(kb_name, kb_id),
        score, source, text[start:end], None if tail_start is None else text[tail_start:tail_end],
    )  # fmt: skip


def _marks_and_rows(
    annotation_set: AnnotationSet,
    text: str,
    blocks: list[Block],
    pending: Q | None,
    whole_text: bool,
    read: WholeTextRows | None = None,
) -> tuple[list[Mark], dict[str, list]]:
    """Marks over the blocks and the rows of the items in them, in one query per kind.

    Rows are grouped by the block where each item starts (`SetView.rows`), so items that only reach
    into the blocks from before them get a mark but no row, as with separate reads."""
    spans: list[Span | SpanRow]
    suggestions: Iterable[Suggestion | SuggestionRow]
    if whole_text:  # the annotate page's own reads: compiled once per process, read as plain values
        span_values, pending_values = read or (
            _all_span_values(set_id=annotation_set.pk),
            _all_pending_values(**_ids(annotation_set)),
        )
        spans = [_span_row(row) for row in span_values]
        suggestions = [_suggestion_row(row, text) for row in pending_values]
    else:
        assert pending is not None
        spans = list(
            _spans_in_order(Span.objects.filter(annotation_set=annotation_set)).filter(_overlapping(blocks))
        )
        suggestions = (
            _with_surfaces(suggestion, text)
            for suggestion in _suggestions_in_order(Suggestion.objects.filter(pending)).filter(
                _overlapping(blocks)
            )
        )
    marks, existing = [], set()
    loaded_spans = attach_attribute_values(spans)
    for span in loaded_spans:
        existing.add((span.start, span.end, span.entity_type_id))
        link = span.link if isinstance(span, SpanRow) else getattr(span, "link", None)
        marks.append(
            _span_mark(
                span.pk, span.start, span.end, span.entity_type_id, span.entity_type.name,
                link and link.pk, link and link.kb_entity_id, span.related,  # type: ignore[union-attr]
            )
        )  # fmt: skip
    undecided = []
    for suggestion in suggestions:
        is_entity = suggestion.kind == SuggestionKind.ENTITY
        if is_entity and (suggestion.start, suggestion.end, suggestion.entity_type_id) in existing:
            continue
        if is_entity:
            name = suggestion.entity_type.name  # type: ignore[union-attr]
            marks.append(
                _suggestion_mark(
                    suggestion.pk, suggestion.start, suggestion.end, suggestion.entity_type_id,  # type: ignore[arg-type]
                    name, suggestion.score,
                )
            )  # fmt: skip
        undecided.append(suggestion)
    return marks, {"spans": loaded_spans, "suggestions": undecided}


def _with_surfaces(suggestion: Suggestion, text: str) -> Suggestion:
    suggestion.surface = text[suggestion.start : suggestion.end]  # type: ignore[attr-defined]
    if suggestion.tail_start is not None:
        suggestion.tail_surface = text[suggestion.tail_start : suggestion.tail_end]  # type: ignore[attr-defined]
    return suggestion


def _relations(annotation_set: AnnotationSet, blocks: list[Block]) -> list[Relation]:
    if not blocks:
        return []
    return list(
        Relation.objects.filter(_starting_in(blocks, start="head__start"), annotation_set=annotation_set)
        .select_related("relation_type", "head", "tail")
        .order_by("head__start", "tail__start", "id")
    )


def _rows(
    annotation_set: AnnotationSet,
    text: str,
    blocks: list[Block],
    pending: Q,
) -> dict[str, list]:
    """Full objects for the side-list rows of the items that start in the blocks.

    An entity suggestion the set already has as a span is no row: that span starts where the
    suggestion does, in the same blocks, so the spans read here are enough to tell."""
    if not blocks:
        return {"spans": [], "relations": [], "suggestions": []}
    spans = attach_attribute_values(
        list(
            with_attributes(
                Span.objects.filter(_starting_in(blocks), annotation_set=annotation_set)
                .select_related("entity_type", "link__kb_entity")
                .order_by("start", "end", "id")
            )
        )
    )
    existing = {(span.start, span.end, span.entity_type_id) for span in spans}
    suggestions = []
    for suggestion in (
        Suggestion.objects.filter(_starting_in(blocks), pending)
        .select_related("entity_type", "relation_type", "kb_entity")
        .order_by("start", "end", "kind", "rank", "id")
    ):
        key = (suggestion.start, suggestion.end, suggestion.entity_type_id)
        if suggestion.kind == SuggestionKind.ENTITY and key in existing:
            continue
        suggestions.append(_with_surfaces(suggestion, text))
    return {"spans": spans, "relations": _relations(annotation_set, blocks), "suggestions": suggestions}


# The comment form offers the spans the page shows by name (a long article: those of its first blocks),
# at most these; past them, comments go on the article.
COMMENT_SPANS = 500
# A page shows its first blocks with their annotations and the rest as text alone, which it loads block
# by block as they come into view (the block endpoint): the page costs the same for 20 KB or 1 MB.
EAGER_BLOCKS = 8
# Past this many blocks, or this many rows in all, the page loads lazily; below, it shows everything.
LAZY_PAST_BLOCKS = 24
LAZY_PAST_ROWS = 1500


@dataclass
class PageView:
    """What the annotate page shows: every block of text, the side lists, the spans whose rows it shows
    (the comment form offers them), and the sources of its pending suggestions (None when they load
    lazily: the page then holds only some of them)."""

    blocks: list[SafeString]
    lists: dict[str, list[SafeString]]
    spans: Sequence[Span | SpanRow]
    sources: list[str] | None
    lazy: bool
    # The comment form's options for the first COMMENT_SPANS spans, when written with the page.
    span_options: SafeString | None = None


def load_page(
    annotation_set: AnnotationSet,
    text: str,
    *,
    counts: dict[str, int],
    pending: Q | None = None,
    oob: bool = False,
    any_relations: bool = True,
) -> PageView:
    """The whole page's blocks: all of them with their annotations for a short article, the first
    `EAGER_BLOCKS` only (the rest as text, marked lazy) for a long one or one with many rows.
    `any_relations=False` (the caller counted none) saves reading relations."""
    blocks = split_blocks(text)
    lazy = len(blocks) > LAZY_PAST_BLOCKS or sum(counts.values()) > LAZY_PAST_ROWS
    if not lazy:
        view = load_view(annotation_set, text, pending=pending, any_relations=any_relations)
        sources = sorted({suggestion.source for suggestion in view.suggestions})
        return PageView(view.rendered_blocks(oob=oob), view.row_groups(oob=oob), view.spans, sources, lazy)
    shown, later = blocks[:EAGER_BLOCKS], blocks[EAGER_BLOCKS:]
    view = load_view(annotation_set, text, shown, pending=pending, any_relations=any_relations)
    return PageView(
        [*view.rendered_blocks(oob=oob), *render_plain_blocks(text, later, oob=oob)],
        view.row_groups(oob=oob, later=later),
        view.spans,
        None,
        lazy,
    )


def load_page_and_counts(
    annotation_set: AnnotationSet, text: str, carried: CarriedTypes | None = None
) -> tuple[Sequence[EntityType | TypeWithCounts], dict[str, int], PageView]:
    """The project's entity types, the set's counts (spans, relations, pending suggestions) and the page.

    A page that shows the whole article shows every span and pending suggestion, so those rows give
    their own counts: the types come with the counts of spans and relations only (index counts), and
    the pending suggestions are read once instead of also counted (the count repeated the rows'
    anti-joins: a fifth of the page's database time). The types and those counts are `carried` by the
    set's row when the caller read them with it (`review.set_row_types`), or read here. A long article,
    or one with more rows than a page shows at once, is counted first and loads lazily, as `load_page`
    does."""
    if len(split_blocks(text)) <= LAZY_PAST_BLOCKS:
        if carried is None:
            types = _types_with_set_counts(
                set_id=annotation_set.pk, project_id=annotation_set.article.project_id
            )
            if not types:  # no row to carry the counts: counted apart
                counts = set_counts(annotation_set)
                return (
                    [],
                    counts,
                    load_page(annotation_set, text, counts=counts, any_relations=counts["relations"] > 0),
                )
            carried = CarriedTypes(types, int(types[0].n_spans or 0), int(types[0].n_relations or 0))
        if (whole := _whole_page(annotation_set, text, carried)) is not None:
            return carried.types, *whole
    all_types, counts = types_and_counts(annotation_set)
    return (
        all_types,
        counts,
        load_page(annotation_set, text, counts=counts, any_relations=counts["relations"] > 0),
    )


def _whole_page(
    annotation_set: AnnotationSet, text: str, carried: CarriedTypes
) -> tuple[dict[str, int], PageView] | None:
    """The counts and the page of an article short enough to show whole, the set's counts of spans and
    relations known; None when its rows are more than one page shows at once."""
    relations = carried.n_relations
    settled = carried.n_spans + relations
    if settled > LAZY_PAST_ROWS:
        return None
    read = _split_union(_spans_and_first_pending(**_ids(annotation_set)))
    if settled + len(read[1]) > LAZY_PAST_ROWS:
        return None
    counts = {"spans": len(read[0]), "relations": relations, "suggestions": len(read[1])}
    return counts, _whole_text_page(annotation_set, text, read, any_relations=relations > 0)


def _whole_text_page(
    annotation_set: AnnotationSet, text: str, read: WholeTextRows, *, any_relations: bool
) -> PageView:
    """The page of the whole text from the values read, straight to HTML: what `load_view` and its
    `rendered_blocks` and `row_groups` make of them, without an object per pending suggestion (a page
    has hundreds: building rows and marks as objects, then the HTML from them, cost more than the HTML).
    """
    span_values, pending_values = read
    blocks = split_blocks(text)
    starts = [block.start for block in blocks]
    ends = [block.end for block in blocks]
    ids = [block.dom_id for block in blocks]
    rows: dict[str, list[list[str]]] = {kind: [[] for _ in blocks] for kind in LISTS}

    def index_of(offset: int) -> int | None:
        index = bisect_right(starts, offset) - 1
        return index if index >= 0 and offset < blocks[index].end else None

    # Spans and suggestions come in text order: each one's block is the last one's or one after it.
    last = len(blocks) - 1
    # Spans are written from their values (a SpanRow is made only for a span with a link or attribute
    # values, whose row is the general one), the comment form's options with them.
    with_values: dict[int, SpanRow] = {}
    if any(row[11] for row in span_values):  # a span whose type has attributes
        attributed = attach_attribute_values([_span_row(row) for row in span_values if row[11]])
        with_values = {span.pk: span for span in attributed if span.attribute_rows}
    marks, existing = [], set()
    options: list[str] = []
    span_rows, at = rows["spans"], 0
    for row in span_values:
        pk, start, end, type_id, type_name, surface, link_id, kb_entity_id, _, _, related, has_attributes = (
            row
        )
        existing.add((start, end, type_id))
        linked = "" if link_id is None else ("nil" if kb_entity_id is None else "kb")  # as _span_mark
        marks.append(_new_mark(Mark, (f"s{pk}", start, end, type_id, type_name, False, linked, related)))
        if len(options) < COMMENT_SPANS:
            options.append(span_option(pk, type_name, surface, start, end))
        while at < last and start >= ends[at]:
            at += 1
        if last >= 0 and start < ends[at]:
            if link_id is None and pk not in with_values:
                span_rows[at].append(
                    plain_span_row(pk, start, end, type_id, type_name, surface, has_attributes, ids[at])
                )
            else:
                span_rows[at].append(span_row(with_values.get(pk) or _span_row(row), ids[at]))
    sources = set()
    suggestion_rows, at = rows["suggestions"], 0
    # A page's entity suggestions repeat a few types and scores: each label is formatted once per page.
    labels: dict[tuple[str, float], tuple[str, str]] = {}
    for row in pending_values:
        pk, kind, start, end, type_id, type_name, score, source = (
            row[0], row[1], row[2], row[3], row[4], row[5], row[10], row[11]
        )  # fmt: skip
        while at < last and start >= ends[at]:
            at += 1
        shown = last >= 0 and start < ends[at]
        if kind != _ENTITY:
            sources.add(source)
            if shown:
                suggestion_rows[at].append(suggestion_row(_suggestion_row(row, text), ids[at]))
            continue
        if existing and (start, end, type_id) in existing:  # the set already has it: nothing to decide
            continue
        if (label := labels.get((type_name, score))) is None:
            label = labels[type_name, score] = (f"{type_name} {score:.2f}", f"{score:.2f}")
        item = f"g{pk}"
        marks.append(_new_mark(Mark, (item, start, end, type_id, label[0], True, "", False)))
        sources.add(source)
        if shown:
            suggestion_rows[at].append(
                entity_suggestion_row(item, start, end, type_id, type_name, text[start:end], label[1], source,
                                      ids[at])
            )  # fmt: skip
    if any_relations:
        for relation in _relations(annotation_set, blocks):
            if (index := index_of(relation.head.start)) is not None:
                rows["relations"][index].append(relation_row(relation, ids[index]))
    lists = {
        kind: [
            mark_safe(f"{group_opening(kind, block)}{''.join(rows[kind][block.index])}</div>")  # noqa: S308 - rows escape
            for block in blocks
        ]
        for kind in LISTS
    }
    return PageView(
        render_blocks(text, blocks, marks),
        lists,
        _SpanRows(span_values),
        sorted(sources),
        False,
        mark_safe("".join(options)),  # noqa: S308 - span_option escapes
    )


class _SpanRows(Sequence[SpanRow]):
    """The whole text's spans as SpanRows (without attribute values), each made when read: the page itself
    reads none (its rows, marks and options are written from the values)."""

    def __init__(self, values: list[tuple[Any, ...]]) -> None:
        self._values = values

    def __len__(self) -> int:
        return len(self._values)

    @overload
    def __getitem__(self, index: int) -> SpanRow: ...
    @overload
    def __getitem__(self, index: slice) -> list[SpanRow]: ...
    def __getitem__(self, index: int | slice) -> SpanRow | list[SpanRow]:
        if isinstance(index, slice):
            return [_span_row(row) for row in self._values[index]]
        return _span_row(self._values[index])


# A Mark from all its fields in order, without the keyword handling of Mark() or the checks of Mark._make.
_new_mark = tuple.__new__
_ENTITY = str(SuggestionKind.ENTITY)  # a plain string: compared once per suggestion


BLOCK_CACHE_SECONDS = 600


def rendered_range(annotation_set: AnnotationSet, text: str, blocks: list[Block]) -> SafeString:
    """Blocks with their marks and their side-list groups, out of band: what the block endpoint answers.

    The text with its marks is cached per set version and per state of the article's suggestions and of
    the type names (everything the marks show), so a page scrolled back and forth, reopened or open in
    two tabs renders it once. The rows are read fresh: they name KB entities and relation types, which
    change without the set changing.
    """
    pending = pending_suggestions(annotation_set)
    key = _marks_key(annotation_set, blocks)
    marked = cache.get(key)
    if marked is None:
        view = load_view(annotation_set, text, blocks, pending=pending)
        marked = "".join(view.rendered_blocks(oob=True))
        cache.set(key, marked, BLOCK_CACHE_SECONDS)
    else:
        view = load_view(annotation_set, text, blocks, pending=pending, with_marks=False)
    lists = view.row_groups(oob=True)
    rows = "".join(html for kind in LISTS for html in lists[kind])
    return mark_safe(marked + rows)  # noqa: S308 - both rendered (and escaped) by rendering and rows


def _marks_key(annotation_set: AnnotationSet, blocks: list[Block]) -> str:
    """What the marks of some blocks depend on beyond the set's version, read in one query: the
    article's suggestions (a job may add some) and the active suggester, and the type names."""
    article = annotation_set.article
    suggestions = Suggestion.objects.filter(article_id=article.pk).order_by().values("article")
    active = SuggesterVersion.objects.filter(project_id=article.project_id, is_active=True).order_by()
    state = AnnotationSet.objects.filter(pk=annotation_set.pk).values(
        suggestions=Subquery(
            suggestions.annotate(n=Func(F("pk"), function="COUNT")).values("n")[:1],
            output_field=IntegerField(),
        ),
        newest=Subquery(
            suggestions.annotate(n=Func(F("pk"), function="MAX")).values("n")[:1], output_field=IntegerField()
        ),
        active=Subquery(active.values("pk")[:1]),
    )
    names = EntityType.objects.filter(project_id=article.project_id).order_by("pk").values_list("pk", "name")
    fingerprint = hashlib.blake2b(
        repr((sorted(state.get().items()), list(names))).encode(), digest_size=12
    ).hexdigest()
    return (
        f"annotate-marks:{annotation_set.pk}:{annotation_set.version}:{fingerprint}:"
        f"{blocks[0].start}-{blocks[-1].end}"
    )
