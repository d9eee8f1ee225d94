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
from typing import TYPE_CHECKING, NoReturn

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Length, Substr
from django.utils import timezone

from annotator.annotations.models import AnnotationSet, EntityLink, Relation, SetStatus, Span, SpanAttribute
from annotator.articles.models import Article
from annotator.core.compiled import CompiledQuery
from annotator.core.errors import InvalidAnnotation, NotEditable, ProjectArchived, StaleVersion
from annotator.core.offsets import OFFSET_MAX, OffsetError, check_offsets
from annotator.kb.models import KBEntity

if TYPE_CHECKING:
    from django.contrib.auth.models import User
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
        claimed = (
            AnnotationSet.objects.filter(pk=annotation_set.pk, version=expected_version, status=status)
            .filter(~Exists(_archived_article.filter(pk=OuterRef("article_id"))))
            .update(version=F("version") + 1, updated_at=timezone.now())
        )
        if not claimed:
            _refuse_claim(annotation_set, expected_version, status)
        annotation_set.version = expected_version + 1
        try:
            yield SetEditor(annotation_set, by)
        except BaseException:
            annotation_set.version, annotation_set.status, annotation_set.submitted_at = before
            raise


# The reads every span write makes: built and compiled once per process (core.compiled).
@CompiledQuery
def _article_facts(article_id: int, position: int, length: int) -> QuerySet[Article]:
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
def _same_span(set_id: int, start: int, end: int, type_id: int) -> QuerySet[Span]:
    """A span with these offsets and type (its id), as `_check_room`'s duplicate check."""
    return _spans_with_offsets(set_id, start, end, type_id).values_list("pk", flat=True).order_by()[:1]


@CompiledQuery
def _spans_at(set_id: int, start: int, end: int, type_id: int) -> QuerySet[Span]:
    return _spans_with_offsets(set_id, start, end, type_id).order_by("pk")[:1]


# An archived project is read-only: its articles' sets cannot be claimed.
_archived_article = Article.objects.filter(project__archived_at__isnull=False)


def _refuse_claim(annotation_set: AnnotationSet, expected_version: int, status: str) -> NoReturn:
    current = (
        AnnotationSet.objects.filter(pk=annotation_set.pk)
        .values("version", "status", "article__project__archived_at")
        .first()
    )
    if current is None:
        raise NotEditable("This annotation set no longer exists.")
    if current["article__project__archived_at"] is not None:
        raise ProjectArchived
    if current["version"] != expected_version:
        raise StaleVersion(expected=expected_version, current=current["version"])
    raise NotEditable(
        f"This annotation set is {SetStatus(current['status']).label.lower()}; "
        f"it must be {SetStatus(status).label.lower()} for this action."
    )


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
        ((project_id, allow_overlapping, trim_whitespace, length, surface),) = _article_facts(
            article_id=self.annotation_set.article_id,
            position=first + 1,
            length=min(max(end - first, 0), OFFSET_MAX),
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
        """Refuse a duplicate span, and any overlap when the project does not allow overlaps."""
        ids = {"set_id": self.annotation_set.pk, "start": start, "end": end}
        if ignore is None and self._article.allow_overlapping_spans:  # a new span: the hot path
            if _same_span(**ids, type_id=entity_type.pk):
                raise InvalidAnnotation(
                    f"A {entity_type.name} span at [{start}, {end}) already exists in this set.",
                    field="start",
                )
            return
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
        absent: bool = False,
    ) -> Span:
        """Add a span. `absent` says the caller has just looked and found no identical span."""
        asked = (start, end)
        start, end, text = self._edges(
            start=start, end=end, declared=surface
        )  # first: reads the article facts
        absent = absent and (start, end) == asked  # trimmed: the caller looked for other offsets
        self._check_entity_type(entity_type)
        if not (absent and self._article.allow_overlapping_spans):
            self._check_room(start=start, end=end, entity_type=entity_type)
        span = Span(
            annotation_set=self.annotation_set,
            start=start,
            end=end,
            entity_type=entity_type,
            surface=text,
            created_by=self.by,
        )
        self._save(span)
        # A new span has no link: saying so spares whoever reads `span.link` next (the API's answer,
        # the occurrence suggester) a query.
        Span.link.related.set_cached_value(span, None)  # type: ignore[attr-defined]
        return span

    def find_span(self, *, start: int, end: int, entity_type: EntityType) -> Span | None:
        ids = {"set_id": self.annotation_set.pk, "start": start, "end": end, "type_id": entity_type.pk}
        found = _spans_at(**ids)
        return found[0] if found else None

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

    def link(self, span: Span, kb_entity: KBEntity | None) -> EntityLink:
        """Link the span to a KB entity, or mark it NIL (`kb_entity=None`): not in the KB."""
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
        link = EntityLink.objects.filter(span=span).first() or EntityLink(span=span, created_by=self.by)
        if link.pk is not None and link.kb_entity_id == (kb_entity.pk if kb_entity else None):
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
        if Relation.objects.filter(
            annotation_set=self.annotation_set, head=head, tail=tail, relation_type=relation_type
        ).exists():
            raise InvalidAnnotation(
                f"{head.surface} -{relation_type.name}-> {tail.surface} already exists in this set.",
                field="relation_type",
            )
        relation = Relation(
            annotation_set=self.annotation_set,
            head=head,
            tail=tail,
            relation_type=relation_type,
            created_by=self.by,
        )
        self._save(relation)
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
