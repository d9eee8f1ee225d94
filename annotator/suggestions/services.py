"""Deciding on suggestions: accept, correct or reject one, or undo that decision. Provenance is kept.

A decision and what it makes happen in one set edit (`edit_set`): one version claimed, all or nothing.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, NoReturn

from django.db import IntegrityError, connections, router
from django.db.models import QuerySet

from annotator.annotations.editing import (
    SetEditor,
    _claim_refusal,
    _claim_statement,
    _preloaded,
    edit_set,
)
from annotator.annotations.models import AnnotationSet, EntityLink, Relation, SetStatus, Span
from annotator.annotations.rows import insert_with_history, insert_with_history_if, row_parts
from annotator.core.compiled import CompiledQuery
from annotator.core.errors import DomainError, InvalidAnnotation, StaleVersion
from annotator.core.prepared import prepared_cursor
from annotator.suggestions.models import Decision, Suggestion, SuggestionKind, Verdict

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from annotator.kb.models import KBEntity
    from annotator.projects.models import EntityType, RelationType


class _Outcome:
    """What a decision produced, and which of those objects it created (so undo removes only those)."""

    def __init__(self) -> None:
        self.span: Span | None = None
        self.relation: Relation | None = None
        self.link: EntityLink | None = None
        self.created: list[str] = []

    def span_at(self, editor: SetEditor, *, start: int, end: int, entity_type: EntityType) -> Span:
        span, made = editor.span_at(start=start, end=end, entity_type=entity_type)
        if made:
            self.created.append(f"span:{span.pk}")
        return span

    def result(self) -> dict[str, Any]:
        snapshot: dict[str, Any] = {"created": self.created}
        if self.span is not None:
            snapshot["span"] = _span_snapshot(self.span)
        if self.relation is not None:
            snapshot["relation"] = {
                "type": self.relation.relation_type.name,
                "head": _span_snapshot(self.relation.head),
                "tail": _span_snapshot(self.relation.tail),
            }
        if self.link is not None:
            entity = self.link.kb_entity
            snapshot["link"] = {"kb_id": entity.kb_id if entity else None, "nil": entity is None}
        return snapshot


def _span_snapshot(span: Span) -> dict[str, Any]:
    return {"start": span.start, "end": span.end, "type": span.entity_type.name, "text": span.surface}


@CompiledQuery
def _decision_of(suggestion_id: int, set_id: int) -> QuerySet[Decision]:
    """The set's decision on the suggestion (one at most): compiled once per process (core.compiled)."""
    return Decision.objects.filter(suggestion_id=suggestion_id, annotation_set_id=set_id).order_by("pk")[:1]


def _check_for_this_article(suggestion: Suggestion, annotation_set: AnnotationSet) -> None:
    if suggestion.article_id != annotation_set.article_id:
        raise InvalidAnnotation("That suggestion is for another article.", field="suggestion")


def _check_undecided(suggestion: Suggestion, annotation_set: AnnotationSet) -> None:
    """Before a correction's own checks. (Accepting and rejecting need no look-up: the decision's INSERT
    finds an earlier one through the one_decision_per_set constraint, see `_record`.)"""
    _check_for_this_article(suggestion, annotation_set)
    found = _decision_of(suggestion_id=suggestion.pk, set_id=annotation_set.pk)
    if found:
        _refuse_decided(found[0])


def _refuse_decided(earlier: Decision) -> NoReturn:
    raise _decided_error(earlier)


def _decided_error(earlier: Decision) -> InvalidAnnotation:
    return InvalidAnnotation(
        f"This suggestion was already {earlier.verdict} in this set; undo that decision first.",
        field="suggestion",
    )


def _record(
    editor: SetEditor, suggestion: Suggestion, verdict: str, outcome: _Outcome | None = None
) -> Decision:
    outcome = outcome or _Outcome()
    decision = Decision(
        suggestion=suggestion,
        annotation_set=editor.annotation_set,
        verdict=verdict,
        span=outcome.span,
        relation=outcome.relation,
        link=outcome.link,
        result=outcome.result(),
        decided_by=editor.by,
    )
    if not insert_with_history(decision, by=editor.by):  # the set has decided on it already
        _refuse_decided(_decision_of(suggestion_id=suggestion.pk, set_id=editor.annotation_set.pk)[0])
    return decision


def _apply_entity(
    editor: SetEditor, outcome: _Outcome, *, start: int, end: int, entity_type: EntityType
) -> None:
    outcome.span = outcome.span_at(editor, start=start, end=end, entity_type=entity_type)


def _apply_relation(
    editor: SetEditor, outcome: _Outcome, suggestion: Suggestion, relation_type: RelationType
) -> None:
    assert suggestion.tail_start is not None
    assert suggestion.tail_end is not None
    assert suggestion.entity_type is not None
    assert suggestion.tail_entity_type is not None
    head = outcome.span_at(
        editor, start=suggestion.start, end=suggestion.end, entity_type=suggestion.entity_type
    )
    tail = outcome.span_at(
        editor, start=suggestion.tail_start, end=suggestion.tail_end, entity_type=suggestion.tail_entity_type
    )
    relation = editor.find_relation(head=head, tail=tail, relation_type=relation_type)
    if relation is None:
        relation = editor.add_relation(head=head, tail=tail, relation_type=relation_type)
        outcome.created.append(f"relation:{relation.pk}")
    outcome.relation = relation


def _apply_link(
    editor: SetEditor, outcome: _Outcome, suggestion: Suggestion, kb_entity: KBEntity | None
) -> None:
    span = _mention_of(editor, outcome, suggestion)
    existing = EntityLink.objects.filter(span=span).first()
    if existing is not None and existing.kb_entity_id == (kb_entity.pk if kb_entity else None):
        outcome.link = existing
    else:
        outcome.link = editor.link(span, kb_entity, current=existing)
        if existing is None:
            outcome.created.append(f"link:{outcome.link.pk}")
    outcome.span = span


def _mention_of(editor: SetEditor, outcome: _Outcome, suggestion: Suggestion) -> Span:
    """The span a link suggestion is about: the set's span at its offsets, made if the type is known."""
    if suggestion.entity_type is not None:
        return outcome.span_at(
            editor, start=suggestion.start, end=suggestion.end, entity_type=suggestion.entity_type
        )
    span = Span.objects.filter(
        annotation_set=editor.annotation_set, start=suggestion.start, end=suggestion.end
    ).first()
    if span is None:
        raise InvalidAnnotation("Annotate the mention as an entity before linking it.", field="suggestion")
    return span


def accept_suggestion(
    *, suggestion: Suggestion, annotation_set: AnnotationSet, by: User | None, expected_version: int
) -> Decision:
    """Make the suggestion part of the set as it is, reusing what the set already has."""
    if suggestion.kind == SuggestionKind.ENTITY:
        assert suggestion.entity_type is not None
        at_once = _decide_entity_at_once(
            suggestion, annotation_set, by=by, expected_version=expected_version, verdict=Verdict.ACCEPTED,
            start=suggestion.start, end=suggestion.end, entity_type=suggestion.entity_type,
        )  # fmt: skip
        if at_once is not None:  # one statement (PostgreSQL)
            return at_once
    with edit_set(annotation_set, expected_version=expected_version, by=by) as editor:
        return apply_acceptance(editor, suggestion)


def _at_once_possible() -> bool:
    return connections[router.db_for_write(Decision)].vendor == "postgresql"


def _refusal(suggestion: Suggestion, annotation_set: AnnotationSet, expected_version: int) -> DomainError:
    """Why a decision's one statement wrote nothing, in the long way's order: the claim's refusal
    (stale, archived, not in progress), then an earlier decision on the suggestion."""
    claim = _claim_refusal(annotation_set, expected_version, SetStatus.IN_PROGRESS)
    if claim is not None:
        return claim
    if found := _decision_of(suggestion_id=suggestion.pk, set_id=annotation_set.pk):
        return _decided_error(found[0])
    return StaleVersion(expected=expected_version, current=None)  # another writer came in between


# PostgreSQL's SQLSTATEs for a unique key's and a foreign key's refusal: a race with another writer.
_UNIQUE_VIOLATION, _FOREIGN_KEY_VIOLATION = "23505", "23503"

# The set's span the acceptance reuses, read only once the claim ("guard") holds the set's row, and locked:
# `FOR SHARE` reads the span's latest committed version, not the statement's snapshot, so a span deleted
# or changed (moved, retyped) by a writer that committed while this statement waited for the set's row is
# not chosen (the span is made anew). Taking the set's row first, as every set edit does, keeps the locks
# in one order (no deadlock with an edit that holds the set and deletes the span).
_EXISTING_SPAN = (
    'SELECT "x"."id" FROM "annotations_span" "x" WHERE EXISTS (SELECT 1 FROM "guard") '
    'AND "x"."annotation_set_id" = %s AND "x"."start" = %s AND "x"."end" = %s AND "x"."entity_type_id" = %s '
    'ORDER BY "x"."id" LIMIT 1 FOR SHARE OF "x"'
)


def _decide_entity_at_once(
    suggestion: Suggestion,
    annotation_set: AnnotationSet,
    *,
    by: User | None,
    expected_version: int,
    verdict: str,
    start: int,
    end: int,
    entity_type: EntityType,
) -> Decision | None:
    """Accept an entity suggestion, or correct it into the span [start, end) of `entity_type`, in one
    autocommit statement, as `add_span_at_once` creates a span: PostgreSQL, the set read with its editing
    facts, a project that allows overlaps, a span whose text needs no trimming. None otherwise: the caller
    takes the long way.

    The statement claims the next version only if the set is at `expected_version`, in progress, not
    archived and has not decided on the suggestion; reuses the set's span with that key or inserts it
    (with its history); and records the decision (with its history) on that span. All of it or nothing.
    A check that fails before the statement leaves the refusal to the long way, which says it in its own
    order; when the statement wrote nothing, `_refusal` says why. A span or decision written under its
    unique key after the statement's snapshot fails the statement whole (no version claimed for no row):
    None, and the long way, which sees it, answers."""
    if not _at_once_possible():
        return None
    editor = SetEditor(annotation_set, by)
    if _preloaded(annotation_set) is None or not editor._read_article().allow_overlapping_spans:
        return None
    corrected = (start, end, entity_type)
    if suggestion.article_id != annotation_set.article_id or (
        verdict == Verdict.CORRECTED
        and corrected == (suggestion.start, suggestion.end, suggestion.entity_type)
    ):
        return None  # refused: the long way says why, after the claim's own refusal if there is one
    try:
        if editor._edges(start=start, end=end, declared=None)[:2] != (start, end):
            return None  # trimmed: the long way looks for the span at both keys
        editor._check_entity_type(entity_type)
    except InvalidAnnotation:
        return None  # refused, unless the set has such a span (made before a rule changed): the long way
    text = editor._read_article(start=start, end=end).surface
    guard, guard_params = _claim_statement(
        annotation_set.pk, expected_version, SetStatus.IN_PROGRESS, undecided=suggestion.pk
    )
    if guard is None:
        raise _refusal(suggestion, annotation_set, expected_version)
    span = Span(annotation_set=annotation_set, start=start, end=end, entity_type=entity_type, surface=text,
                created_by=by)  # fmt: skip
    span_parts = row_parts(span, by=by, source='"new_span"')
    snapshot = {"start": start, "end": end, "type": entity_type.name, "text": text}
    decision = Decision(suggestion=suggestion, annotation_set=annotation_set, verdict=verdict, decided_by=by)
    decision_parts = row_parts(decision, by=by, source='"new_decision"')
    # The decision's span and result come from the statement: the span reused or made.
    chosen = {"span_id": '"chosen".id', "result": (
        "jsonb_build_object('created', CASE WHEN \"chosen\".made THEN jsonb_build_array('span:' || \"chosen\".id) "
        "ELSE '[]'::jsonb END, 'span', %s::jsonb)")}  # fmt: skip
    decision_values, decision_params = [], []
    for column, value in zip(decision_parts.column_names, decision_parts.values, strict=True):
        if column == "result":
            decision_values.append(chosen["result"])
            decision_params.append(json.dumps(snapshot))
        elif column == "span_id":
            decision_values.append(chosen["span_id"])
        else:
            decision_values.append("%s")
            decision_params.append(value)
    span_values = ", ".join(["%s"] * len(span_parts.values))
    sql = (
        f'WITH "guard" AS ({guard} RETURNING "id"), '  # noqa: S608
        f'"existing" AS ({_EXISTING_SPAN}), '
        f'"new_span" AS (INSERT INTO {span_parts.table} ({span_parts.columns}) SELECT {span_values} '
        'FROM "guard" WHERE NOT EXISTS (SELECT 1 FROM "existing") RETURNING *), '
        f'"span_history" AS ({span_parts.history}), '
        '"chosen" AS (SELECT "id", TRUE AS made FROM "new_span" UNION ALL '
        'SELECT "existing"."id", FALSE FROM "existing", "guard"), '
        f'"new_decision" AS (INSERT INTO {decision_parts.table} ({decision_parts.columns}) '
        f'SELECT {", ".join(decision_values)} FROM "chosen" RETURNING *), '
        f'"decision_history" AS ({decision_parts.history}) '
        'SELECT "id", "span_id", "result", (SELECT made FROM "chosen") FROM "new_decision"'
    )  # fmt: skip
    params = [*guard_params, annotation_set.pk, start, end, entity_type.pk, *span_parts.values,
              *span_parts.history_values, *decision_params, *decision_parts.history_values]  # fmt: skip
    connection = connections[router.db_for_write(Decision)]
    try:
        with prepared_cursor(connection) as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
    except IntegrityError as error:
        raced = getattr(error.__cause__, "sqlstate", None)
        if raced not in (_UNIQUE_VIOLATION, _FOREIGN_KEY_VIOLATION) or connection.in_atomic_block:
            raise  # not a race, or in a caller's transaction (none around a request): its atomic block undoes it
        if raced == _UNIQUE_VIOLATION:
            # The span (or a decision) was written after the statement's snapshot: the statement failed
            # whole, and the long way reads it and answers as if it had been there before (reuses the
            # span, or refuses a second decision).
            return None
        # A row the statement refers to (the suggestion, the entity type) was deleted since its snapshot.
        raise _refusal(suggestion, annotation_set, expected_version) from None
    if row is None:
        raise _refusal(suggestion, annotation_set, expected_version)
    decision.pk, span.pk, decision.result, made = row[0], row[1], row[2], row[3]
    if isinstance(decision.result, str):
        decision.result = json.loads(decision.result)
    for instance in (decision, span):
        instance._state.adding = False
        instance._state.db = router.db_for_write(Decision)
    if made:
        Span.link.related.set_cached_value(span, None)  # type: ignore[attr-defined]  # new: no link
    decision.span = span
    annotation_set.version = expected_version + 1
    return decision


def _reject_at_once(
    suggestion: Suggestion, annotation_set: AnnotationSet, *, by: User | None, expected_version: int
) -> Decision | None:
    """Reject in one autocommit statement (PostgreSQL): the claim, only if the set has not decided on the
    suggestion, then the decision and its history; all or nothing. None elsewhere: the long way."""
    if not _at_once_possible() or suggestion.article_id != annotation_set.article_id:
        return None  # (the long way refuses a suggestion of another article, after the claim's refusal)
    guard, guard_params = _claim_statement(
        annotation_set.pk, expected_version, SetStatus.IN_PROGRESS, undecided=suggestion.pk
    )
    decision = Decision(suggestion=suggestion, annotation_set=annotation_set, verdict=Verdict.REJECTED,
                        result=_Outcome().result(), decided_by=by)  # fmt: skip
    if guard is None or not insert_with_history_if(
        (f'{guard} RETURNING "id"', guard_params), decision, by=by
    ):
        raise _refusal(suggestion, annotation_set, expected_version)
    annotation_set.version = expected_version + 1
    return decision


def apply_acceptance(editor: SetEditor, suggestion: Suggestion) -> Decision:
    """Within a set edit: accept the suggestion (one of many, in bulk)."""
    _check_for_this_article(suggestion, editor.annotation_set)
    outcome = _Outcome()
    if suggestion.kind == SuggestionKind.ENTITY:
        assert suggestion.entity_type is not None
        _apply_entity(
            editor,
            outcome,
            start=suggestion.start,
            end=suggestion.end,
            entity_type=suggestion.entity_type,
        )
    elif suggestion.kind == SuggestionKind.RELATION:
        assert suggestion.relation_type is not None
        _apply_relation(editor, outcome, suggestion, suggestion.relation_type)
    else:
        _apply_link(editor, outcome, suggestion, suggestion.kb_entity)
    return _record(editor, suggestion, Verdict.ACCEPTED, outcome)


def correct_suggestion(
    *,
    suggestion: Suggestion,
    annotation_set: AnnotationSet,
    by: User | None,
    expected_version: int,
    start: int | None = None,
    end: int | None = None,
    entity_type: EntityType | None = None,
    relation_type: RelationType | None = None,
    kb_entity: KBEntity | None = None,
    nil: bool = False,
) -> Decision:
    """Take the suggestion with changes: other boundaries or type (entity), another relation type
    (relation), another KB entity or NIL (link)."""
    if suggestion.kind == SuggestionKind.ENTITY:
        assert suggestion.entity_type is not None
        at_once = _decide_entity_at_once(
            suggestion, annotation_set, by=by, expected_version=expected_version, verdict=Verdict.CORRECTED,
            start=suggestion.start if start is None else start, end=suggestion.end if end is None else end,
            entity_type=entity_type or suggestion.entity_type,
        )  # fmt: skip
        if at_once is not None:  # one statement (PostgreSQL)
            return at_once
    with edit_set(annotation_set, expected_version=expected_version, by=by) as editor:
        _check_undecided(suggestion, annotation_set)
        outcome = _Outcome()
        if suggestion.kind == SuggestionKind.ENTITY:
            assert suggestion.entity_type is not None
            corrected = (
                suggestion.start if start is None else start,
                suggestion.end if end is None else end,
                entity_type or suggestion.entity_type,
            )
            if corrected == (suggestion.start, suggestion.end, suggestion.entity_type):
                raise InvalidAnnotation(
                    "The correction is the suggestion itself: accept it instead.", field="start"
                )
            _apply_entity(editor, outcome, start=corrected[0], end=corrected[1], entity_type=corrected[2])
        elif suggestion.kind == SuggestionKind.RELATION:
            if relation_type is None or relation_type.pk == suggestion.relation_type_id:
                raise InvalidAnnotation(
                    "Choose another relation type to correct this suggestion.", field="relation_type"
                )
            _apply_relation(editor, outcome, suggestion, relation_type)
        else:
            if not nil and (kb_entity is None or kb_entity.pk == suggestion.kb_entity_id):
                raise InvalidAnnotation(
                    "Choose another KB entity, or NIL, to correct this link.", field="kb_entity"
                )
            _apply_link(editor, outcome, suggestion, None if nil else kb_entity)
        return _record(editor, suggestion, Verdict.CORRECTED, outcome)


def reject_suggestion(
    *, suggestion: Suggestion, annotation_set: AnnotationSet, by: User | None, expected_version: int
) -> Decision:
    """Record that the suggestion is wrong for this set; nothing else changes."""
    at_once = _reject_at_once(suggestion, annotation_set, by=by, expected_version=expected_version)
    if at_once is not None:  # one statement (PostgreSQL)
        return at_once
    with edit_set(annotation_set, expected_version=expected_version, by=by) as editor:
        return record_rejection(editor, suggestion)


def record_rejection(editor: SetEditor, suggestion: Suggestion) -> Decision:
    """Within a set edit: reject the suggestion (one of many, in bulk)."""
    _check_for_this_article(suggestion, editor.annotation_set)
    return _record(editor, suggestion, Verdict.REJECTED)


def undo_decision(*, decision: Decision, by: User | None, expected_version: int) -> None:
    """Forget a decision and remove exactly the annotations it created."""
    with edit_set(decision.annotation_set, expected_version=expected_version, by=by) as editor:
        remove_decision(editor, decision)


def remove_decision(editor: SetEditor, decision: Decision) -> None:
    """Within a set edit: delete the decision and exactly the annotations it created."""
    if decision.annotation_set_id != editor.annotation_set.pk:
        raise InvalidAnnotation("That decision belongs to another annotation set.", field="decision")
    created = _created_ids(decision)
    for relation in Relation.objects.filter(pk__in=created["relation"]):
        editor.remove_relation(relation)
    for link in EntityLink.objects.filter(pk__in=created["link"]).select_related("span"):
        editor.unlink(link.span)
    for span in Span.objects.filter(pk__in=created["span"]):
        editor.remove_span(span)
    decision._history_user = editor.by  # type: ignore[attr-defined]
    decision.delete()


def _created_ids(decision: Decision) -> dict[str, list[int]]:
    created: dict[str, list[int]] = {"span": [], "relation": [], "link": []}
    for item in decision.result.get("created", []):
        kind, pk = item.split(":")
        created[kind].append(int(pk))
    return created
