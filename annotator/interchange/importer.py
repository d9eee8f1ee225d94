"""The database side of one import, batch by batch: what each record is (new, duplicate, update), what it
refers to (types, KB entities), and the rows it becomes, written in bulk.

Nothing here commits: `services.import_articles` owns the transaction and decides, at the end, whether
anything is kept. Records that fail a check are reported and not written; the rest of the batch still
is, so that later records can be checked against it (a duplicate id across batches is found by the
same database lookup as a duplicate of an older import).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Max, Q
from django.utils import timezone

from annotator.annotations.models import (
    AnnotationSet,
    EntityLink,
    Relation,
    SetKind,
    SetStatus,
    Span,
    SpanAttribute,
)
from annotator.articles.models import Article, SearchBacklog
from annotator.core.text import isolate
from annotator.interchange.bulk import BulkWriter, Table
from annotator.interchange.checks import Prepared
from annotator.interchange.formats.base import (
    NOTE,
    REFERENCE,
    AttributeValue,
    DocumentRecord,
    LinkRecord,
    ProblemLog,
    RelationRecord,
    SpanRecord,
    Where,
)
from annotator.interchange.options import ImportOptions, ImportResult, OnDuplicate
from annotator.kb.models import KBEntity, KnowledgeBase
from annotator.projects.models import (
    AttributeKind,
    EntityType,
    EntityTypeAttribute,
    GuidelineVersion,
    Project,
    RelationType,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from annotator.jobs.models import Job

HISTORY = ["history_date", "history_change_reason", "history_type", "history_user_id"]
ARTICLE_COLUMNS = [
    "id", "project_id", "external_id", "title", "text", "metadata", "content_hash", "revision",
    "created_at", "updated_at",
]  # fmt: skip
SET_COLUMNS = [
    "id", "article_id", "kind", "annotator_id", "name", "status", "version", "guideline_version_id",
    "submitted_at", "created_at", "updated_at",
]  # fmt: skip
SPAN_COLUMNS = [
    "id", "annotation_set_id", "start", "end", "entity_type_id", "surface", "fragments", "created_by_id",
    "created_at", "updated_at",
]  # fmt: skip
LINK_COLUMNS = ["id", "span_id", "kb_entity_id", "created_by_id", "created_at", "updated_at"]
ATTRIBUTE_COLUMNS = ["id", "span_id", "attribute_id", "value", "created_at", "updated_at"]
RELATION_COLUMNS = [
    "id", "annotation_set_id", "head_id", "tail_id", "relation_type_id", "created_by_id", "created_at",
    "updated_at",
]  # fmt: skip


class Tables:
    """The tables an import writes, with the history tables of everything that keeps history."""

    def __init__(self) -> None:
        self.articles = Table(Article, ARTICLE_COLUMNS)
        # The same rows with the metadata as the checks dumped it (binary COPY only).
        self.raw_articles = Table(Article, ARTICLE_COLUMNS, raw=("metadata",))
        self.sets = Table(AnnotationSet, SET_COLUMNS)
        self.spans = Table(Span, SPAN_COLUMNS)
        self.links = Table(EntityLink, LINK_COLUMNS)
        self.relations = Table(Relation, RELATION_COLUMNS)
        self.attributes = Table(SpanAttribute, ATTRIBUTE_COLUMNS)
        self.backlog = Table(SearchBacklog, ["article_id", "project_id"])
        self.history = {
            "sets": Table(AnnotationSet.history.model, [*SET_COLUMNS, *HISTORY]),
            "spans": Table(Span.history.model, [*SPAN_COLUMNS, *HISTORY]),
            "links": Table(EntityLink.history.model, [*LINK_COLUMNS, *HISTORY]),
            "relations": Table(Relation.history.model, [*RELATION_COLUMNS, *HISTORY]),
            "attributes": Table(SpanAttribute.history.model, [*ATTRIBUTE_COLUMNS, *HISTORY]),
        }


class IdRanges:
    """The ids this import created, as sorted ranges: tiny however many rows, since ids come in runs."""

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []

    def add(self, ids: Iterable[int]) -> None:
        for value in sorted(ids):
            if self._ends and self._ends[-1] + 1 == value:
                self._ends[-1] = value
            else:
                position = bisect_right(self._starts, value)
                self._starts.insert(position, value)
                self._ends.insert(position, value)

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, int):
            return False
        position = bisect_right(self._starts, value) - 1
        return position >= 0 and value <= self._ends[position]


def place(where: Where, here: Where) -> str:
    """How a message names another place in the input, seen from `here`."""
    spot = f"line {where.line}" if where.line is not None else (f"item {where.item}" if where.item else "")
    if where.file != here.file:
        return f"{where.file}{', ' + spot if spot else ''}"
    return spot or "this file"


class Schema:
    """The project's entity and relation types by name; new ones created when the manager allows it."""

    def __init__(self, project: Project, *, create: bool, problems: ProblemLog) -> None:
        self.project, self.create, self.problems = project, create, problems
        self.entity_types = dict(EntityType.objects.filter(project=project).values_list("name", "pk"))
        self.entity_names = {pk: name for name, pk in self.entity_types.items()}
        self.relation_types = {
            rt.name: rt
            for rt in RelationType.objects.filter(project=project).prefetch_related(
                "head_types", "tail_types"
            )
        }
        self.attributes = {
            (attribute.entity_type_id, attribute.name): attribute
            for attribute in EntityTypeAttribute.objects.filter(entity_type__project=project)
        }
        self.created_entity_types: list[str] = []
        self.created_relation_types: list[str] = []
        self.created_attributes: list[str] = []
        self._reported: set[tuple[str, str]] = set()

    def entity_type(self, label: str, where: Where, field: str) -> int | None:
        if label in self.entity_types:
            return self.entity_types[label]
        if self.create:
            position = (
                EntityType.objects.filter(project=self.project).aggregate(Max("position"))["position__max"]
                or 0
            ) + 1
            created = EntityType.objects.create(project=self.project, name=label, position=position)
            self.entity_types[label], self.entity_names[created.pk] = created.pk, label
            self.created_entity_types.append(label)
            return created.pk
        self._unknown("entity type", label, sorted(self.entity_types), where, field)
        return None

    def relation_type(
        self, label: str, where: Where, field: str, *, symmetric: bool = False
    ) -> RelationType | None:
        if label in self.relation_types:
            return self.relation_types[label]
        if self.create:
            created = RelationType.objects.create(project=self.project, name=label, directed=not symmetric)
            # Read back with its (empty) head and tail types prefetched, so allows() asks nothing more.
            self.relation_types[label] = RelationType.objects.prefetch_related(
                "head_types", "tail_types"
            ).get(pk=created.pk)
            self.created_relation_types.append(label)
            return self.relation_types[label]
        self._unknown("relation type", label, sorted(self.relation_types), where, field)
        return None

    def attribute(
        self, type_id: int, name: str, value: AttributeValue, where: Where, field: str
    ) -> int | None:
        """The id of the entity type's attribute `name`, checked to take `value`; None (reported) if not.

        Creating types also creates attributes: yes-or-no from a true/false value, one-of-a-list from a
        text, the list growing with each new value met (a manager may make it free text later).
        """
        attribute = self.attributes.get((type_id, name))
        type_name = self.entity_names[type_id]
        if attribute is None and self.create:
            kind = (
                AttributeKind.BOOLEAN
                if isinstance(value, bool)
                else AttributeKind.TEXT
                if name in (NOTE, REFERENCE)
                else AttributeKind.CHOICE
            )
            siblings = sum(1 for t, _ in self.attributes if t == type_id)
            attribute = EntityTypeAttribute.objects.create(
                entity_type_id=type_id, name=name, kind=kind, position=siblings + 1
            )
            self.attributes[(type_id, name)] = attribute
            self.created_attributes.append(f"{type_name}.{name}")
        if attribute is None:
            if (type_name, name) not in self._reported:
                self._reported.add((type_name, name))
                known = sorted(isolate(n) for t, n in self.attributes if t == type_id)
                self.problems.add(
                    where,
                    f"Unknown attribute {name!r} of {isolate(type_name)} (its attributes: "
                    f"{', '.join(known) if known else 'none yet'}). Add it to the schema, or let the import "
                    "create the types it finds.",
                    field=field,
                )
            return None
        if (
            self.create
            and attribute.kind == AttributeKind.CHOICE
            and isinstance(value, str)
            and value not in attribute.choices
        ):
            attribute.choices = [*attribute.choices, value]
            attribute.save(update_fields=["choices"])
        try:
            attribute.check_value(value)
        except ValidationError as error:
            self.problems.add(where, error.messages[0], field=field)
            return None
        return attribute.pk

    def _unknown(self, what: str, label: str, known: list[str], where: Where, field: str) -> None:
        """Report an unknown label once, where it first appears: the records using it fail all the same."""
        if (what, label) in self._reported:
            return
        self._reported.add((what, label))
        listed = ", ".join(isolate(name) for name in known) if known else "none yet"
        self.problems.add(
            where,
            f"Unknown {what} {label!r} (the project's {what}s: {listed}). Add it to the schema, or let the "
            "import create the types it finds.",
            field=field,
        )


class KBLookup:
    """Resolves the links of a batch to KB entities of the project's knowledge bases, in one query."""

    def __init__(self, project: Project, problems: ProblemLog) -> None:
        self.project, self.problems = project, problems
        self.kb_names = set(KnowledgeBase.objects.filter(project=project).values_list("name", flat=True))
        self.found: dict[str, list[tuple[int, str, str | None]]] = {}
        self._reported: set[str] = set()

    def load(self, records: Iterable[DocumentRecord]) -> None:
        wanted = {link.kb_id for record in records for link in record.links if link.kb_id is not None}
        self.found = {}
        if not wanted:  # plain articles, spans without links: no query (its compiling was 3% of an import)
            return
        rows = KBEntity.objects.filter(knowledge_base__project=self.project, kb_id__in=wanted).values_list(
            "pk", "kb_id", "knowledge_base__name", "merged_into__kb_id"
        )
        for pk, kb_id, kb_name, merged_into in rows:
            self.found.setdefault(kb_id, []).append((pk, kb_name, merged_into))

    def has(self, kb_id: str) -> bool:
        """Whether any of the project's KBs holds the id (as loaded for the current batch)."""
        return kb_id in self.found

    def entity(self, link: LinkRecord, where: Where) -> tuple[bool, int | None]:
        """(resolved, the KBEntity pk or None for NIL); reports why when it is not resolved."""
        if link.kb_id is None:
            return True, None
        candidates = self.found.get(link.kb_id, [])
        if link.kb in self.kb_names:  # a KB name the project does not have is just the source's naming
            candidates = [c for c in candidates if c[1] == link.kb]
        field = f"entities[{link.span}].kb_id"
        if not candidates:
            self._once(
                link.kb_id,
                where,
                f"The KB id {link.kb_id!r} is in none of this project's knowledge bases.",
                field,
            )
            return False, None
        if len(candidates) > 1:
            names = ", ".join(sorted(c[1] for c in candidates))
            self._once(
                link.kb_id,
                where,
                f"The KB id {link.kb_id!r} is in several knowledge bases ({names}): name one.",
                field,
            )
            return False, None
        pk, _, merged_into = candidates[0]
        if merged_into is not None:
            self._once(
                link.kb_id, where, f"{link.kb_id} was merged into {merged_into}; link to that entity.", field
            )
            return False, None
        return True, pk

    def _once(self, kb_id: str, where: Where, message: str, field: str) -> None:
        if kb_id not in self._reported:
            self._reported.add(kb_id)
            self.problems.add(where, message, field=field)


@dataclass
class Plan:
    """The rows one new record becomes, with every reference resolved."""

    record: DocumentRecord
    hash: str
    prepared: Prepared | None = None  # what the checks made of the record (new articles only)
    spans: list[tuple[int, int, int, str, Any]] = field(
        default_factory=list
    )  # start, end, type, surface, fragments
    span_index: dict[str, int] = field(default_factory=dict)  # record span id -> position in `spans`
    links: list[tuple[int, int | None]] = field(default_factory=list)  # span position, KB entity pk
    # span position, attribute pk, value
    attributes: list[tuple[int, int, AttributeValue]] = field(default_factory=list)
    relations: list[tuple[int, int, int]] = field(default_factory=list)  # head position, tail position, type


# The look-ups of `existing_articles` on PostgreSQL: one index probe per key (a nested loop over the batch's
# keys), each probe on the index that holds both the project and the key. The project id is a sub-select,
# a value the planner cannot see: seen, it was estimated from statistics that predate the import (a new
# project's articles: none), so probing by project alone looked as cheap, and the planner walked every
# article of the project for each key, the batch's own predecessors included (quadratic: 1.3 s for one
# batch of 2,000 at 6,000 articles, 4.8 s of the server's CPU for 10,000 articles next to a project of
# 20,000). Unseen, the project is as selective as an average one and the key's index wins: 2 ms.
BY_EXTERNAL_ID = (
    "SELECT k.v, a.id FROM unnest(%s::text[]) AS k(v) CROSS JOIN LATERAL (SELECT id FROM articles_article "
    "WHERE project_id = (SELECT %s::bigint) AND external_id = k.v LIMIT 1) AS a"
)
BY_CONTENT_HASH = (
    "SELECT k.v, a.id FROM unnest(%s::text[]) AS k(v) CROSS JOIN LATERAL (SELECT id FROM articles_article "
    "WHERE project_id = (SELECT %s::bigint) AND content_hash = k.v ORDER BY id LIMIT 1) AS a"
)


def existing_articles(
    project_id: int, ids: list[str], texts: list[str]
) -> tuple[dict[str, int], dict[str, int]]:
    """The project's articles with these external ids, and (the oldest) with these text digests: one query
    per list for a whole batch. On PostgreSQL each list is one array parameter, not thousands of
    placeholders that Django compiles and the server parses and plans on every batch."""
    by_id: dict[str, int] = {}
    by_text: dict[str, int] = {}
    if not ids and not texts:
        return by_id, by_text
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            if ids:
                cursor.execute(BY_EXTERNAL_ID, [ids, project_id])
                by_id = dict(cursor.fetchall())
            if texts:
                cursor.execute(BY_CONTENT_HASH, [texts, project_id])
                by_text = dict(cursor.fetchall())  # the oldest article with the text
        return by_id, by_text
    condition = Q(external_id__in=ids) | Q(content_hash__in=texts)
    articles = Article.objects.filter(condition, project_id=project_id).order_by("-pk")
    rows = list(articles.values_list("external_id", "content_hash", "pk"))
    wanted_ids, wanted_texts = set(ids), set(texts)
    for external_id, digest, pk in rows:
        if external_id in wanted_ids:
            by_id[external_id] = pk
        if digest in wanted_texts:
            by_text[digest] = pk  # newest first: the oldest article with the text wins
    return by_id, by_text


class Importer:
    """Turns batches of checked records into rows. Counts what it did in `result`."""

    def __init__(
        self,
        *,
        project: Project,
        options: ImportOptions,
        by: User | None,
        job: Job | None,
        problems: ProblemLog,
    ) -> None:
        self.project, self.options, self.by, self.job, self.problems = project, options, by, job, problems
        self.writer = BulkWriter()
        self.tables = Tables()
        self.schema = Schema(project, create=options.create_types, problems=problems)
        self.kb = KBLookup(project, problems)
        self.result = ImportResult(dry_run=options.dry_run)
        self.created = IdRanges()
        # Records checked but not written, once the import is refused: a later duplicate is still found.
        self.unwritten: set[tuple[str, str]] = set()
        self.now = timezone.now()
        self.reason = f"Imported by job #{job.pk}" if job is not None else "Imported"
        self.guidelines = (
            GuidelineVersion.objects.filter(project=project)
            .order_by("-number")
            .values_list("pk", flat=True)
            .first()
        )
        self.overlaps_allowed = project.allow_overlapping_spans
        # Where lists of rows go once written (ReadAhead.discard: freed by the reader thread).
        self.discard: Callable[[list[Any]], None] = lambda rows: None

    # Sorting out what each record is

    def add_batch(self, batch: list[Prepared]) -> None:
        fresh, updates = self._sort_out(batch)
        self.kb.load([prepared.record for prepared in fresh] + [record for _, record, _ in updates])
        plans = [
            plan
            for prepared in fresh
            if (plan := self.plan(prepared.record, prepared.content_hash, prepared)) is not None
        ]
        if self.problems:
            # The import is refused already (all or nothing): the rest of the file is still checked, for
            # the report, but nothing more is written, which is most of an import's time.
            self.unwritten.update(self._key(plan.record, plan.hash) for plan in plans)
            return
        self.write(plans)
        self.discard(plans)
        if updates:
            from annotator.interchange.revisions import update_article

            for existing, record, digest in updates:
                plan = self.plan(record, digest)
                if plan is not None:
                    update_article(importer=self, article_id=existing, plan=plan)

    def _sort_out(
        self, batch: list[Prepared]
    ) -> tuple[list[Prepared], list[tuple[int, DocumentRecord, str]]]:
        ids = [p.record.external_id for p in batch if p.record.external_id is not None]
        texts = [p.content_hash for p in batch if p.record.external_id is None]
        by_id, by_text = existing_articles(self.project.pk, ids, texts)
        seen: dict[tuple[str, str], Where] = {}
        fresh: list[Prepared] = []
        updates: list[tuple[int, DocumentRecord, str]] = []
        for prepared in batch:
            record, digest = prepared.record, prepared.content_hash
            key = self._key(record, digest)
            existing = (
                by_id.get(record.external_id) if record.external_id is not None else by_text.get(digest)
            )
            if key in seen:
                self._duplicate_in_file(record, place(seen[key], record.where))
            elif (existing is not None and existing in self.created) or key in self.unwritten:
                self._duplicate_in_file(record, "an earlier record of this file")
            elif existing is None:
                fresh.append(prepared)
            elif self.options.on_duplicate == OnDuplicate.SKIP:
                self.result.skipped += 1
            elif self.options.on_duplicate == OnDuplicate.ERROR:
                self._exists(record, existing)
            else:
                updates.append((existing, record, digest))
            seen.setdefault(key, record.where)
        return fresh, updates

    @staticmethod
    def _key(record: DocumentRecord, digest: str) -> tuple[str, str]:
        """What makes a record the same article as another: its external id, or its text without one."""
        return ("id", record.external_id) if record.external_id is not None else ("text", digest)

    def _duplicate_in_file(self, record: DocumentRecord, earlier: str) -> None:
        """A record repeating an earlier one of the file. The same text without an id follows the duplicate
        rule: an error when duplicates are, else skipped with a warning (the first one is the article). The
        same external id is an error: two records claim one article, and which is right is not known."""
        if record.external_id is not None:
            message = f"The external id {record.external_id!r} is already used by {earlier}."
        else:
            message = (
                f"The same text is already in {earlier} (without an external id, a text is its identity)."
            )
        field = "external_id" if record.external_id is not None else "text"
        if self.options.on_duplicate == OnDuplicate.ERROR or record.external_id is not None:
            self.problems.add(record.where, message, field=field)
            return
        self.result.skipped += 1
        self.problems.warn(
            record.where,
            f"{message} The first one is imported, this one skipped.",
            kind="repeated record",
            action="skipped",
            field=field,
        )

    def _exists(self, record: DocumentRecord, existing: int) -> None:
        what = f"the external id {record.external_id!r}" if record.external_id is not None else "this text"
        self.problems.add(
            record.where,
            f"The project already has an article with {what} (#{existing}). Import with duplicates skipped or "
            "updated to go past it.",
            field="external_id" if record.external_id is not None else "text",
        )

    # Resolving references

    def draft(self, prepared: Prepared) -> Prepared:
        """The record with its span rows made, when every label is a known type and no span has attributes
        (what `plan` would make of them, reporting nothing); else the record as it was, for `plan`.

        The import's hot loop, run by the reader thread while the database writes the batch before: the
        writer's own Python work is time the database waits (one connection, one transaction). Types
        are only ever added during an import, and a type's id never changes, so the dict read here while
        the writer may add to it gives the ids `plan` would give."""
        known, text = self.schema.entity_types, prepared.record.text
        rows = []
        for span in prepared.record.spans:
            type_id = known.get(span.label)
            if type_id is None or span.attributes:
                return prepared
            fragments = [list(piece) for piece in span.fragments] if span.fragments else None
            rows.append((span.start, span.end, type_id, text[span.start : span.end], fragments))
        return prepared._replace(spans=rows)

    def plan(self, record: DocumentRecord, digest: str, prepared: Prepared | None = None) -> Plan | None:
        before = len(self.problems)
        failed = False
        plan = Plan(record, digest, prepared)
        if prepared is not None and prepared.spans is not None:  # drafted by the reader (`draft`)
            plan.spans = prepared.spans
            if record.links or record.relations:
                plan.span_index = {span.id: position for position, span in enumerate(record.spans)}
        else:
            failed = self._plan_spans(record, plan)
        if not self.overlaps_allowed:
            failed |= self._overlapping(record)
        for link in record.links:
            where = link.where or record.where
            if link.keep_unknown and link.kb_id is not None and not self.kb.has(link.kb_id):
                failed |= not self._reference(link, plan, where)
                continue
            resolved, entity = self.kb.entity(link, where)
            failed |= not resolved
            plan.links.append((plan.span_index[link.span], entity))
        failed |= not self._relations(record, plan)
        return None if failed or len(self.problems) > before else plan

    def _plan_spans(self, record: DocumentRecord, plan: Plan) -> bool:
        """The span rows and attributes of the plan, with unknown labels reported; whether any failed."""
        failed = False
        # Known labels straight from the dict, the message strings only when something is wrong.
        known, text, spans, index = self.schema.entity_types, record.text, plan.spans, plan.span_index
        for span in record.spans:
            type_id = known.get(span.label)
            if type_id is None:
                type_id = self.schema.entity_type(
                    span.label, span.where or record.where, f"entities[{span.id}].label"
                )
                failed |= type_id is None
            index[span.id] = len(spans)
            fragments = [list(piece) for piece in span.fragments] if span.fragments else None
            # The stored surface is the whole range, fragments or not: surface == text[start:end] always.
            spans.append((span.start, span.end, type_id or 0, text[span.start : span.end], fragments))
            if span.attributes and type_id is not None:
                where = span.where or record.where
                failed |= not self._attributes(span, type_id, len(spans) - 1, plan, where)
        return failed

    def _attributes(self, span: SpanRecord, type_id: int, position: int, plan: Plan, where: Where) -> bool:
        ok = True
        for name, value in span.attributes:
            attribute_id = self.schema.attribute(
                type_id, name, value, where, f"entities[{span.id}].attributes.{name}"
            )
            if attribute_id is None:
                ok = False
            else:
                plan.attributes.append((position, attribute_id, value))
        return ok

    def _reference(self, link: LinkRecord, plan: Plan, where: Where) -> bool:
        """A link to an id no project KB holds, kept on the span as its Reference attribute, with a warning."""
        position = plan.span_index[link.span]
        type_id = plan.spans[position][2]
        if not type_id:
            return False  # the span's type is unknown: already reported
        value = f"{link.kb}:{link.kb_id}" if link.kb else link.kb_id or ""
        field = f"entities[{link.span}].kb_id"
        attribute_id = self.schema.attribute(type_id, REFERENCE, value, where, field)
        if attribute_id is None:
            return False
        plan.attributes.append((position, attribute_id, value))
        self.problems.warn(
            where,
            f"The KB id {value!r} is in none of this project's knowledge bases: it is kept on the span as its "
            f"{REFERENCE} (link it once the KB is imported).",
            kind="unknown-KB link",
            action="kept as a reference",
            field=field,
        )
        return True

    def _overlapping(self, record: DocumentRecord) -> bool:
        """Report every span that overlaps an earlier one (nested or crossing), each where it is."""
        reach, holder, found = -1, None, False
        for span in sorted(record.spans, key=lambda s: (s.start, s.end)):
            if holder is not None and span.start < reach:
                self.problems.add(
                    span.where or record.where,
                    f"This project does not allow overlapping spans, and [{span.start}, {span.end}) overlaps "
                    f"the span at [{holder.start}, {holder.end}).",
                    field=f"entities[{span.id}].start",
                )
                found = True
            if span.end > reach:
                reach, holder = span.end, span
        return found

    def _relations(self, record: DocumentRecord, plan: Plan) -> bool:
        ok = True
        seen: set[tuple[int, int, int]] = set()
        for index, relation in enumerate(record.relations):
            where = relation.where or record.where
            field = f"relations[{relation.id or index}]"
            relation_type = self.schema.relation_type(
                relation.label, where, f"{field}.label", symmetric=relation.symmetric
            )
            if relation_type is None:
                ok = False
                continue
            head, tail = plan.span_index[relation.head], plan.span_index[relation.tail]
            head_type, tail_type = plan.spans[head][2], plan.spans[tail][2]
            if head_type and tail_type and not relation_type.allows(head_type, tail_type):
                ok = False
                self.problems.add(
                    where,
                    f"The schema does not allow {relation_type.name} from a {self.schema.entity_names[head_type]} "
                    f"to a {self.schema.entity_names[tail_type]}.",
                    field=f"{field}.label",
                )
                continue
            if not relation_type.directed and plan.spans[tail][:2] < plan.spans[head][:2]:
                head, tail = tail, head  # symmetric: stored one way round, as the editing services do
            if (head, tail, relation_type.pk) in seen:
                ok = False
                self._duplicate_relation(relation, relation_type, where, field)
                continue
            seen.add((head, tail, relation_type.pk))
            plan.relations.append((head, tail, relation_type.pk))
        return ok

    def _duplicate_relation(
        self, relation: RelationRecord, relation_type: RelationType, where: Where, field: str
    ) -> None:
        self.problems.add(
            where,
            f"The relation {relation.head} -{relation.label}-> {relation.tail} is there twice "
            f"({relation_type.name} is symmetric: the two directions are one relation).",
            field=field,
        )

    # Writing

    def write(self, plans: list[Plan]) -> None:
        """The rows of new articles and, for annotated ones, their set with its spans, links and relations."""
        if not plans:
            return
        now, project = self.now, self.project.pk
        article_ids = self.writer.reserve_ids(self.tables.articles, len(plans))
        prepared = [plan.prepared for plan in plans if plan.prepared is not None]
        if len(prepared) == len(plans) and self.writer.takes_raw(self.tables.raw_articles):
            # The metadata as the checks dumped it: psycopg's jsonb dumper (Python, and orjson again) was
            # half of the writer's CPU for an article row (8.3 -> 3.8 µs, same rows, alternating).
            self.writer.insert(
                self.tables.raw_articles,
                (
                    (pk, project, p.record.external_id, p.record.title, p.record.text, r.metadata_jsonb,
                     p.hash, 1, now, now)
                    for pk, p, r in zip(article_ids, plans, prepared, strict=True)
                ),
            )  # fmt: skip
        else:
            self.writer.insert(
                self.tables.articles,
                (
                    (pk, project, p.record.external_id, p.record.title, p.record.text, p.record.metadata,
                     p.hash, 1, now, now)
                    for pk, p in zip(article_ids, plans, strict=True)
                ),
            )  # fmt: skip
        # Their search documents are written after the import commits, by a job (articles/search.py).
        self.writer.insert(self.tables.backlog, [(pk, project) for pk in article_ids])
        self.created.add(article_ids)
        self.result.created += len(plans)
        annotated = [(pk, plan) for pk, plan in zip(article_ids, plans, strict=True) if plan.record.annotated]
        set_ids = self.writer.reserve_ids(self.tables.sets, len(annotated))
        self.write_contents(
            [(set_id, pk, plan) for set_id, (pk, plan) in zip(set_ids, annotated, strict=True)], new_sets=True
        )

    def write_contents(self, targets: list[tuple[int, int, Plan]], *, new_sets: bool) -> None:
        """Spans, links and relations of each (set id, article id, plan), and the sets too when they are new."""
        now, by = self.now, self.by.pk if self.by else None
        history = (now, self.reason, "+", by)
        if new_sets:
            kind, name = (
                self.options.set_kind,
                self.options.set_name if self.options.set_kind == SetKind.IMPORTED else "",
            )
            status, submitted = (
                (SetStatus.CURATED, now) if self.options.curated else (SetStatus.IN_PROGRESS, None)
            )
            sets = [
                (
                    set_id,
                    article_id,
                    kind,
                    None,
                    name,
                    status,
                    1,
                    self.guidelines,
                    submitted,
                    now,
                    now,
                )
                for set_id, article_id, _ in targets
            ]
            self.insert_rows("sets", sets, history)
        span_ids = self.writer.reserve_ids(self.tables.spans, sum(len(p.spans) for _, _, p in targets))
        spans: list[tuple[Any, ...]] = []
        links: list[tuple[int, int | None]] = []
        attributes: list[tuple[int, int, AttributeValue]] = []
        relations: list[tuple[int, int, int, int]] = []
        taken = 0
        for set_id, _, plan in targets:
            ids = span_ids[taken : taken + len(plan.spans)]
            taken += len(ids)
            spans.extend(
                [(span_id, set_id, *row, by, now, now) for span_id, row in zip(ids, plan.spans, strict=True)]
            )
            links.extend((ids[position], entity) for position, entity in plan.links)
            attributes.extend(
                (ids[position], attribute, value) for position, attribute, value in plan.attributes
            )
            relations.extend(
                (set_id, ids[head], ids[tail], type_id) for head, tail, type_id in plan.relations
            )
        self.insert_rows("spans", spans, history)
        self.result.spans += len(spans)
        self.discard(spans)
        link_ids = self.writer.reserve_ids(self.tables.links, len(links))
        self.insert_rows(
            "links",
            [(pk, span, entity, by, now, now) for pk, (span, entity) in zip(link_ids, links, strict=True)],
            history,
        )
        self.insert_attributes(attributes, history)
        relation_ids = self.writer.reserve_ids(self.tables.relations, len(relations))
        self.insert_rows(
            "relations",
            [
                (pk, set_id, head, tail, type_id, by, now, now)
                for pk, (set_id, head, tail, type_id) in zip(relation_ids, relations, strict=True)
            ],
            history,
        )
        self.result.links += len(links)
        self.result.relations += len(relations)

    def insert_attributes(
        self, values: list[tuple[int, int, AttributeValue]], history: tuple[Any, ...]
    ) -> None:
        """Attribute rows for (span id, attribute id, value) triples."""
        ids = self.writer.reserve_ids(self.tables.attributes, len(values))
        now = self.now
        self.insert_rows(
            "attributes",
            [
                (pk, span, attribute, value, now, now)
                for pk, (span, attribute, value) in zip(ids, values, strict=True)
            ],
            history,
        )
        self.result.attributes += len(values)

    def insert_rows(self, name: str, rows: list[tuple[Any, ...]], history: tuple[Any, ...]) -> None:
        """The rows of one table (ids first), then their history rows, `history` being their HISTORY values."""
        if rows:
            table = getattr(self.tables, name)
            self.writer.insert(table, rows)
            values = dict(zip(HISTORY, history, strict=True))
            self.writer.insert_history(table, self.tables.history[name], rows, values)
