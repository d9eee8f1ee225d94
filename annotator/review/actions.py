"""The annotate page's actions: parse the request, call the services, say what changed and how to undo it.

Each handler returns an `Outcome`: the text ranges it touched (the page re-renders the blocks that
overlap them), a sentence for the screen reader's live region, and the inverse operation that undoes
it. Inverses name spans by their natural key (start, end, type) rather than by id, so that undoing a
deletion and then an earlier change still finds the span.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db.models import Q, QuerySet
from django.http import Http404, QueryDict

from annotator.annotations import services
from annotator.annotations.editing import SetEditor, edit_set, take_editing_facts
from annotator.annotations.models import AnnotationSet, EntityLink, Relation, Span, SpanAttribute
from annotator.core.errors import InvalidAnnotation
from annotator.core.offsets import OffsetError, parse_offset, whole_number
from annotator.kb.models import KBEntity
from annotator.projects.models import AttributeKind, EntityType, EntityTypeAttribute, RelationType
from annotator.review.state import pending_suggestions
from annotator.suggestions import bulk
from annotator.suggestions import services as decisions
from annotator.suggestions.models import Decision, Suggestion, SuggestionKind, Verdict
from annotator.suggestions.occurrences import suggest_occurrences

if TYPE_CHECKING:
    from django.contrib.auth.models import User

Range = tuple[int, int]


@dataclass
class Outcome:
    ranges: list[Range]
    message: str
    undo: dict[str, Any] | None = None
    focus: str = ""  # the item the page should make current afterwards (e.g. the new span)


@dataclass
class Request:
    """What every action needs: the set being edited, who edits, the version they hold, the form data."""

    annotation_set: AnnotationSet
    user: User
    version: int
    data: QueryDict
    project_id: int = field(init=False)

    def __post_init__(self) -> None:
        self.project_id = self.annotation_set.article.project_id
        take_editing_facts(self.annotation_set)  # the page has just read the set with them

    def integer(self, name: str) -> int:
        value = self.data.get(name, "")
        number = whole_number(value)
        if number is None and value.isascii() and value.isdigit():
            raise Http404(f"No such {name}.")  # digits, but more than any row's id
        if number is None:
            shown = value if len(value) <= 30 else f"{value[:30]}…"
            raise InvalidAnnotation(f"'{name}' must be a whole number (got {shown!r}).", field=name)
        return number

    def offset(self, name: str) -> int:
        """An offset the page sent: the same rule as the API's (core.offsets.parse_offset)."""
        try:
            return parse_offset(self.data.get(name, ""), name=name, text=True)
        except OffsetError as error:
            raise InvalidAnnotation(str(error), field=name) from None

    def optional_offset(self, name: str) -> int | None:
        return self.offset(name) if self.data.get(name, "") != "" else None

    def scoped(self, queryset: QuerySet[Any], name: str) -> Any:
        """The object the form field names, from the set's own scope; anything else does not exist (404)."""
        pk = self.integer(name)
        found = queryset.filter(pk=pk).first()
        if found is None:
            raise Http404(f"No such {name}.")
        return found

    def entity_type(self, name: str = "entity_type") -> EntityType:
        return self.scoped(EntityType.objects.filter(project_id=self.project_id), name)

    def span(self, name: str = "span") -> Span:
        span = self.scoped(
            Span.objects.filter(annotation_set=self.annotation_set).select_related("entity_type"), name
        )
        # The same set object the page is rendered from: the version the services claim lands on it.
        span.annotation_set = self.annotation_set
        return span

    def suggestion(self) -> Suggestion:
        return self.scoped(
            Suggestion.objects.filter(article_id=self.annotation_set.article_id).select_related(
                "entity_type", "tail_entity_type", "relation_type", "kb_entity"
            ),
            "suggestion",
        )

    def kb_entity(self) -> KBEntity:
        return self.scoped(KBEntity.objects.filter(knowledge_base__project_id=self.project_id), "kb_entity")

    def relation_type(self) -> RelationType:
        return self.scoped(
            RelationType.objects.filter(project_id=self.project_id).prefetch_related(
                "head_types", "tail_types"
            ),
            "relation_type",
        )


def span_key(span: Span) -> list[int]:
    return [span.start, span.end, span.entity_type_id]


def describe(span: Span) -> str:
    return f"{span.entity_type.name} “{span.surface[:60]}”"


# Spans


# Past this many occurrences of a span's text, suggesting each one would flood the page (a word, not a name).
MAX_OCCURRENCES = 100


def with_occurrences(outcome: Outcome, span: Span) -> Outcome:
    """Suggest the span's other exact occurrences in the article, and re-render where they are."""
    if span.annotation_set.article.text.count(span.surface) > MAX_OCCURRENCES:
        return outcome
    suggested = suggest_occurrences(span=span)  # (start, end) of each suggestion
    outcome.ranges += suggested
    if suggested:
        count = len(set(suggested))
        outcome.message += f" Suggested its {count} other occurrence{'s' if count > 1 else ''}."
    return outcome


def create_span(request: Request) -> Outcome:
    span = services.create_span(
        annotation_set=request.annotation_set,
        start=request.offset("start"),
        end=request.offset("end"),
        entity_type=request.entity_type(),
        surface=request.data.get("surface"),
        by=request.user,
        expected_version=request.version,
    )
    outcome = Outcome(
        [(span.start, span.end)],
        f"Added {describe(span)}.",
        {"op": "delete_span", "span": span_key(span)},
        f"s{span.pk}",
    )
    return with_occurrences(outcome, span)


def change_span(request: Request) -> Outcome:
    span = request.span()
    before = (span.start, span.end)
    # A new type drops the span's attribute values (they belong to the old type): undo puts them back.
    undo = {"op": "change_span", "span": None, "to": span_key(span), "attributes": _attribute_values(span)}
    entity_type = request.entity_type() if request.data.get("entity_type") else None
    services.change_span(
        span=span,
        start=request.optional_offset("start"),
        end=request.optional_offset("end"),
        entity_type=entity_type,
        by=request.user,
        expected_version=request.version,
    )
    undo["span"] = span_key(span)
    return Outcome([before, (span.start, span.end)], f"Changed to {describe(span)}.", undo, f"s{span.pk}")


def delete_span(request: Request) -> Outcome:
    span = request.span()
    ranges = _with_partners(span)
    undo = _span_snapshot(span)
    services.delete_span(span=span, by=request.user, expected_version=request.version)
    return Outcome(ranges, f"Deleted {describe(span)}.", undo)


def _with_partners(span: Span) -> list[Range]:
    """The span's range and those of the spans it is related to (their relation marks change too)."""
    partners = Span.objects.filter(
        Q(relations_as_head__tail=span) | Q(relations_as_tail__head=span)
    ).values_list("start", "end")
    return [(span.start, span.end), *partners]


def _span_snapshot(span: Span) -> dict[str, Any]:
    """Enough to put a deleted span back: its key, its link and its relations (by their spans' keys)."""
    link = EntityLink.objects.filter(span=span).first()
    relations = [
        {"type": r.relation_type_id, "head": span_key(r.head), "tail": span_key(r.tail)}
        for r in Relation.objects.filter(Q(head=span) | Q(tail=span)).select_related("head", "tail")
    ]
    return {
        "op": "restore_span",
        "span": span_key(span),
        "link": None if link is None else {"kb": link.kb_entity_id},
        "relations": relations,
        "attributes": _attribute_values(span),
    }


def _attribute_values(span: Span) -> dict[str, Any]:
    """The span's attribute values by attribute id (a string: undo operations live in the session's JSON)."""
    return {str(row.attribute_id): row.value for row in SpanAttribute.objects.filter(span=span)}


# Links


def link_span(request: Request) -> Outcome:
    span = request.span()
    previous = EntityLink.objects.filter(span=span).first()
    nil = request.data.get("nil") == "1"
    entity = None if nil else request.kb_entity()
    services.link_span(span=span, kb_entity=entity, by=request.user, expected_version=request.version)
    undo = {
        "op": "relink",
        "span": span_key(span),
        "link": None if previous is None else {"kb": previous.kb_entity_id},
    }
    target = "NIL (not in the KB)" if entity is None else f"{entity.name} ({entity.kb_id})"
    return Outcome([(span.start, span.end)], f"Linked {describe(span)} to {target}.", undo, f"s{span.pk}")


def unlink_span(request: Request) -> Outcome:
    span = request.span()
    previous = EntityLink.objects.filter(span=span).first()
    services.unlink_span(span=span, by=request.user, expected_version=request.version)
    undo = {
        "op": "relink",
        "span": span_key(span),
        "link": {"kb": previous.kb_entity_id} if previous else None,
    }
    return Outcome([(span.start, span.end)], f"Removed the link of {describe(span)}.", undo, f"s{span.pk}")


# Attributes


def _attribute_value(attribute: EntityTypeAttribute, raw: str) -> object:
    """What the page's control sent, as the value to store: None clears. Booleans come as true/false."""
    if raw == "":
        return None
    if attribute.kind == AttributeKind.BOOLEAN:
        if raw not in ("true", "false"):
            raise InvalidAnnotation(f"{attribute.name} is yes or no.", field=f"attribute-{attribute.pk}")
        return raw == "true"
    return raw


def _same(old: object, new: object) -> bool:
    return old == new and type(old) is type(new)


def set_attributes(request: Request) -> Outcome:
    """Set and clear the span's attributes as the form says, in one edit (one version, one undo)."""
    span = request.span()
    current = {row.attribute_id: row.value for row in SpanAttribute.objects.filter(span=span)}
    planned = []
    for attribute in EntityTypeAttribute.objects.filter(entity_type_id=span.entity_type_id):
        raw = request.data.get(f"attribute-{attribute.pk}")
        if raw is None:
            continue  # not on the form: left as it is
        value = _attribute_value(attribute, raw)
        if value is None and attribute.pk not in current:
            continue
        if value is not None and attribute.pk in current and _same(current[attribute.pk], value):
            continue
        planned.append((attribute, value))
    if not planned:
        raise InvalidAnnotation("The attributes are as they were: nothing to save.", field="span")
    with edit_set(request.annotation_set, expected_version=request.version, by=request.user) as editor:
        for attribute, value in planned:
            if value is None:
                editor.clear_attribute(span, attribute)
            else:
                editor.set_attribute(span, attribute, value)
    undo = {
        "op": "restore_attributes",
        "span": span_key(span),
        "values": {str(attribute.pk): current.get(attribute.pk) for attribute, _ in planned},
    }
    said = ", ".join(f"{a.name} {'cleared' if v is None else _shown(v)}" for a, v in planned)
    return Outcome([(span.start, span.end)], f"{describe(span)}: {said}.", undo, f"s{span.pk}")


def _shown(value: object) -> str:
    return {True: "yes", False: "no"}.get(value, str(value)) if isinstance(value, bool) else str(value)


# Relations


def create_relation(request: Request) -> Outcome:
    head, tail = request.span("head"), request.span("tail")
    relation = services.create_relation(
        annotation_set=request.annotation_set,
        head=head,
        tail=tail,
        relation_type=request.relation_type(),
        by=request.user,
        expected_version=request.version,
    )
    undo = {
        "op": "delete_relation",
        "head": span_key(relation.head),
        "tail": span_key(relation.tail),
        "type": relation.relation_type_id,
    }
    message = f"Related “{head.surface[:40]}” {relation.relation_type.name} “{tail.surface[:40]}”."
    return Outcome([(head.start, head.end), (tail.start, tail.end)], message, undo, f"s{head.pk}")


def delete_relation(request: Request) -> Outcome:
    relation = request.scoped(
        Relation.objects.filter(annotation_set=request.annotation_set).select_related(
            "head", "tail", "relation_type"
        ),
        "relation",
    )
    relation.annotation_set = request.annotation_set
    undo = {
        "op": "restore_relation",
        "head": span_key(relation.head),
        "tail": span_key(relation.tail),
        "type": relation.relation_type_id,
    }
    ranges = [(relation.head.start, relation.head.end), (relation.tail.start, relation.tail.end)]
    services.delete_relation(relation=relation, by=request.user, expected_version=request.version)
    return Outcome(ranges, f"Deleted the relation {relation.relation_type.name}.", undo)


# Suggestions


def _suggestion_ranges(suggestion: Suggestion) -> list[Range]:
    ranges = [(suggestion.start, suggestion.end)]
    if suggestion.tail_start is not None and suggestion.tail_end is not None:
        ranges.append((suggestion.tail_start, suggestion.tail_end))
    return ranges


def _suggestion_label(suggestion: Suggestion, text: str) -> str:
    if suggestion.kind == SuggestionKind.RELATION:
        return f"the relation {suggestion.relation_type}"
    if suggestion.kind == SuggestionKind.LINK:
        return f"the link to {suggestion.kb_entity}"
    return f"{suggestion.entity_type} “{text[suggestion.start : suggestion.end][:60]}”"


def _decided(decision: Decision, suggestion: Suggestion, verb: str) -> Outcome:
    what = _suggestion_label(suggestion, decision.annotation_set.article.text)
    ranges = _suggestion_ranges(suggestion)
    if decision.span is not None:
        ranges.append((decision.span.start, decision.span.end))
    # No focus: after a decision the reviewer moves on to the next suggestion, not to what was made.
    return Outcome(ranges, f"{verb} {what}.", {"op": "undo_decision", "decision": decision.pk})


def accept_suggestion(request: Request) -> Outcome:
    suggestion = request.suggestion()
    decision = decisions.accept_suggestion(
        suggestion=suggestion,
        annotation_set=request.annotation_set,
        by=request.user,
        expected_version=request.version,
    )
    outcome = _decided(decision, suggestion, "Accepted")
    if suggestion.kind == SuggestionKind.ENTITY and decision.span is not None:
        decision.span.annotation_set = request.annotation_set
        return with_occurrences(outcome, decision.span)
    return outcome


def reject_suggestion(request: Request) -> Outcome:
    suggestion = request.suggestion()
    decision = decisions.reject_suggestion(
        suggestion=suggestion,
        annotation_set=request.annotation_set,
        by=request.user,
        expected_version=request.version,
    )
    return _decided(decision, suggestion, "Rejected")


def correct_suggestion(request: Request) -> Outcome:
    suggestion = request.suggestion()
    changes: dict[str, Any] = {}
    if request.data.get("entity_type"):
        changes["entity_type"] = request.entity_type()
    if request.data.get("relation_type"):
        changes["relation_type"] = request.relation_type()
    if request.data.get("kb_entity"):
        changes["kb_entity"] = request.kb_entity()
    decision = decisions.correct_suggestion(
        suggestion=suggestion,
        annotation_set=request.annotation_set,
        by=request.user,
        expected_version=request.version,
        start=request.optional_offset("start"),
        end=request.optional_offset("end"),
        nil=request.data.get("nil") == "1",
        **changes,
    )
    outcome = _decided(decision, suggestion, "Corrected")
    if decision.span is not None and suggestion.kind == SuggestionKind.ENTITY:
        # A correction is work on this very item (a resize goes on press after press): the page stays on
        # the span it became, not on the next suggestion.
        outcome.focus = f"s{decision.span.pk}"
        outcome.message = f"Corrected to {describe(decision.span)}."
    return outcome


# Many at once


def _selection(request: Request) -> bulk.Selection:
    data = request.data
    entity_type = request.entity_type() if data.get("entity_type") else None
    min_score = None
    if data.get("min_score", "").strip():
        try:
            min_score = float(data.get("min_score", ""))
        except ValueError:
            raise InvalidAnnotation("The score must be a number like 0.8.", field="min_score") from None
        if not 0 <= min_score <= 1:
            raise InvalidAnnotation("The score must be between 0 and 1.", field="min_score")
    within = None
    if data.get("start", "") != "" or data.get("end", "") != "":
        within = (request.offset("start"), request.offset("end"))
    source = data.get("source", "").strip()[:100] or None
    if entity_type is None and source is None and min_score is None and within is None:
        raise InvalidAnnotation(
            "Say which suggestions: a type, a source, a lowest score or a text selection.", field="bulk"
        )
    return bulk.Selection(
        entity_type_id=entity_type.pk if entity_type else None,
        type_name=entity_type.name if entity_type else "",
        source=source,
        min_score=min_score,
        within=within,
    )


def decide_in_bulk(request: Request) -> Outcome:
    """Accept or reject every pending suggestion the filter selects: one version, one undo."""
    verdict = {"accept": Verdict.ACCEPTED, "reject": Verdict.REJECTED}.get(request.data.get("verdict", ""))
    if verdict is None:
        raise InvalidAnnotation("Accept or reject?", field="verdict")
    selection = _selection(request)
    suggestions = bulk.selected(pending_suggestions(request.annotation_set), selection)
    made = bulk.decide_many(
        suggestions=suggestions, annotation_set=request.annotation_set, verdict=verdict, by=request.user,
        expected_version=request.version,
    )  # fmt: skip
    ranges = [r for suggestion in suggestions for r in _suggestion_ranges(suggestion)]
    ranges += [(d.span.start, d.span.end) for d in made if d.span is not None]
    what = selection.describe()
    verb = "Accepted" if verdict == Verdict.ACCEPTED else "Rejected"
    count = len(made)
    message = f"{verb} {count} suggestion{'s' if count != 1 else ''}{f' ({what})' if what else ''}."
    return Outcome(ranges, message, {"op": "undo_decisions", "decisions": [d.pk for d in made]})


def accept_with_link(request: Request) -> Outcome:
    """Accept an entity suggestion and the best link suggested for the same mention, in one edit."""
    suggestion = request.suggestion()
    if suggestion.kind != SuggestionKind.ENTITY:
        raise InvalidAnnotation(
            "Move to an entity suggestion to accept it with its link.", field="suggestion"
        )
    link = (
        Suggestion.objects.filter(
            pending_suggestions(request.annotation_set), kind=SuggestionKind.LINK, start=suggestion.start,
            end=suggestion.end,
        )
        .filter(Q(entity_type=suggestion.entity_type) | Q(entity_type__isnull=True))
        .select_related("kb_entity", "entity_type")
        .order_by("rank", "-score", "pk")
        .first()
    )  # fmt: skip
    made = bulk.decide_many(
        suggestions=[suggestion, *([link] if link else [])], annotation_set=request.annotation_set,
        verdict=Verdict.ACCEPTED, by=request.user, expected_version=request.version,
    )  # fmt: skip
    span = made[0].span
    assert span is not None
    ranges = [(span.start, span.end)]
    linked = f" linked to {link.kb_entity.name} ({link.kb_entity.kb_id})" if link and link.kb_entity else ""
    message = (
        f"Accepted {describe(span)}{linked}."
        if link
        else f"Accepted {describe(span)}; no link was suggested."
    )
    return Outcome(ranges, message, {"op": "undo_decisions", "decisions": [d.pk for d in made]})


# Undo


def undo(request: Request, operation: dict[str, Any]) -> Outcome:
    """Apply one inverse operation in a single set edit (one version)."""
    with edit_set(request.annotation_set, expected_version=request.version, by=request.user) as editor:
        apply = UNDO_OPERATIONS.get(operation.get("op", ""))
        if apply is None:
            raise InvalidAnnotation("There is nothing to undo.", field="undo")
        ranges = apply(editor, operation)
    return Outcome(ranges, "Undone.")


def _find(editor: SetEditor, key: list[int]) -> Span:
    start, end, type_id = key
    span = (
        Span.objects.filter(
            annotation_set=editor.annotation_set, start=start, end=end, entity_type_id=type_id
        )
        .select_related("entity_type")
        .first()
    )
    if span is None:
        raise InvalidAnnotation("That annotation has changed since; it cannot be undone.", field="undo")
    return span


def _entity_type(editor: SetEditor, type_id: int) -> EntityType:
    return EntityType.objects.get(pk=type_id, project_id=editor.annotation_set.article.project_id)


def _undo_delete_span(editor: SetEditor, op: dict[str, Any]) -> list[Range]:
    span = _find(editor, op["span"])
    ranges = _with_partners(span)
    editor.remove_span(span)
    return ranges


def _undo_restore_span(editor: SetEditor, op: dict[str, Any]) -> list[Range]:
    start, end, type_id = op["span"]
    span = editor.add_span(start=start, end=end, entity_type=_entity_type(editor, type_id))
    ranges = [(start, end)]
    if op["link"] is not None:
        kb_id = op["link"]["kb"]
        editor.link(span, None if kb_id is None else KBEntity.objects.get(pk=kb_id))
    for relation in op["relations"]:
        head = _find(editor, relation["head"])
        tail = _find(editor, relation["tail"])
        editor.add_relation(head=head, tail=tail, relation_type=RelationType.objects.get(pk=relation["type"]))
        ranges += [(head.start, head.end), (tail.start, tail.end)]
    _put_back_attributes(editor, span, op.get("attributes", {}))
    return ranges


def _undo_change_span(editor: SetEditor, op: dict[str, Any]) -> list[Range]:
    span = _find(editor, op["span"])
    start, end, type_id = op["to"]
    ranges = [(span.start, span.end), (start, end)]
    editor.change_span(span, start=start, end=end, entity_type=_entity_type(editor, type_id))
    _put_back_attributes(editor, span, op.get("attributes", {}))
    return ranges


def _undo_relink(editor: SetEditor, op: dict[str, Any]) -> list[Range]:
    span = _find(editor, op["span"])
    if op["link"] is None:
        editor.unlink(span)
    else:
        kb_id = op["link"]["kb"]
        editor.link(span, None if kb_id is None else KBEntity.objects.get(pk=kb_id))
    return [(span.start, span.end)]


def _undo_restore_attributes(editor: SetEditor, op: dict[str, Any]) -> list[Range]:
    span = _find(editor, op["span"])
    _put_back_attributes(editor, span, op["values"])
    return [(span.start, span.end)]


def _put_back_attributes(editor: SetEditor, span: Span, values: dict[str, Any]) -> None:
    """Give the span these attribute values (None: no value), changing only what differs."""
    if not values:
        return
    attributes = EntityTypeAttribute.objects.filter(entity_type_id=span.entity_type_id)
    by_pk = {str(attribute.pk): attribute for attribute in attributes}
    current = _attribute_values(span)
    for pk, value in values.items():
        attribute = by_pk.get(pk)
        if attribute is None:
            raise InvalidAnnotation("That attribute has changed since; it cannot be undone.", field="undo")
        if value is None:
            if pk in current:
                editor.clear_attribute(span, attribute)
        elif pk not in current or not _same(current[pk], value):
            editor.set_attribute(span, attribute, value)


def _relation_parts(editor: SetEditor, op: dict[str, Any]) -> tuple[Span, Span, RelationType]:
    return _find(editor, op["head"]), _find(editor, op["tail"]), RelationType.objects.get(pk=op["type"])


def _undo_delete_relation(editor: SetEditor, op: dict[str, Any]) -> list[Range]:
    head, tail, relation_type = _relation_parts(editor, op)
    relation = editor.find_relation(head=head, tail=tail, relation_type=relation_type)
    if relation is None:
        raise InvalidAnnotation("That relation has changed since; it cannot be undone.", field="undo")
    editor.remove_relation(relation)
    return [(head.start, head.end), (tail.start, tail.end)]


def _undo_restore_relation(editor: SetEditor, op: dict[str, Any]) -> list[Range]:
    head, tail, relation_type = _relation_parts(editor, op)
    editor.add_relation(head=head, tail=tail, relation_type=relation_type)
    return [(head.start, head.end), (tail.start, tail.end)]


def _undo_decision(editor: SetEditor, op: dict[str, Any]) -> list[Range]:
    decision = (
        Decision.objects.filter(pk=op["decision"], annotation_set=editor.annotation_set)
        .select_related("suggestion", "span")
        .first()
    )
    if decision is None:
        raise InvalidAnnotation("That decision has changed since; it cannot be undone.", field="undo")
    ranges = _suggestion_ranges(decision.suggestion)
    if decision.span is not None:
        ranges.append((decision.span.start, decision.span.end))
    decisions.remove_decision(editor, decision)
    return ranges


def _undo_decisions(editor: SetEditor, op: dict[str, Any]) -> list[Range]:
    ranges: list[Range] = []
    for pk in reversed(op["decisions"]):  # relations and links before the spans they use
        ranges += _undo_decision(editor, {"decision": pk})
    return ranges


UNDO_OPERATIONS: dict[str, Callable[[SetEditor, dict[str, Any]], list[Range]]] = {
    "undo_decisions": _undo_decisions,
    "delete_span": _undo_delete_span,
    "restore_span": _undo_restore_span,
    "change_span": _undo_change_span,
    "relink": _undo_relink,
    "restore_attributes": _undo_restore_attributes,
    "delete_relation": _undo_delete_relation,
    "restore_relation": _undo_restore_relation,
    "undo_decision": _undo_decision,
}

ACTIONS: dict[str, Callable[[Request], Outcome]] = {
    "create-span": create_span,
    "change-span": change_span,
    "delete-span": delete_span,
    "link-span": link_span,
    "unlink-span": unlink_span,
    "set-attributes": set_attributes,
    "create-relation": create_relation,
    "delete-relation": delete_relation,
    "accept": accept_suggestion,
    "reject": reject_suggestion,
    "correct": correct_suggestion,
    "bulk": decide_in_bulk,
    "accept-with-link": accept_with_link,
}
