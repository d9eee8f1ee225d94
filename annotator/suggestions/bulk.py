"""Deciding on many suggestions at once: accept or reject every pending suggestion a filter selects (of a
type, from a source, above a score, inside a stretch of text), as one set edit: one version, one undo.

Accepting goes entities first, then links, then relations (which reuse the spans just made); an entity
suggestion inside a span of its type that the batch has just made says nothing new and is left as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from annotator.annotations.editing import edit_set
from annotator.annotations.models import AnnotationSet, Span
from annotator.core.errors import InvalidAnnotation
from annotator.suggestions import services
from annotator.suggestions.models import Decision, Suggestion, SuggestionKind, Verdict

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django.db.models import Q

# One action decides at most this many: a page's worth of review, not a project's (that is pre-annotation).
MAX_BULK = 2000
ORDER = {SuggestionKind.ENTITY: 0, SuggestionKind.LINK: 1, SuggestionKind.RELATION: 2}


@dataclass(frozen=True)
class Selection:
    """Which pending suggestions: every criterion given must hold (None: any)."""

    entity_type_id: int | None = None
    type_name: str = ""
    source: str | None = None
    min_score: float | None = None
    within: tuple[int, int] | None = None  # [start, end): the suggestion (and a relation's tail) inside it

    def describe(self) -> str:
        parts = [self.type_name] if self.type_name else []
        if self.source:
            parts.append(f"from {self.source}")
        if self.min_score is not None:
            parts.append(f"scoring {self.min_score:g} or more")
        if self.within:
            parts.append(f"inside [{self.within[0]}, {self.within[1]})")
        return " ".join(parts)


def selected(pending: Q, selection: Selection) -> list[Suggestion]:
    suggestions = Suggestion.objects.filter(pending).select_related(
        "entity_type", "tail_entity_type", "relation_type", "kb_entity"
    )
    if selection.entity_type_id is not None:
        suggestions = suggestions.filter(kind=SuggestionKind.ENTITY, entity_type_id=selection.entity_type_id)
    if selection.source:
        suggestions = suggestions.filter(source=selection.source)
    if selection.min_score is not None:
        suggestions = suggestions.filter(score__gte=selection.min_score)
    if selection.within is not None:
        low, high = selection.within
        suggestions = (
            suggestions.filter(start__gte=low, end__lte=high)
            .exclude(tail_start__lt=low)
            .exclude(tail_end__gt=high)
        )
    found = list(suggestions.order_by("start", "-end", "kind", "rank", "pk")[: MAX_BULK + 1])
    if len(found) > MAX_BULK:
        raise InvalidAnnotation(
            f"That selects more than {MAX_BULK} suggestions: narrow it (a type, a source, a score).",
            field="bulk",
        )
    return sorted(found, key=lambda suggestion: ORDER[SuggestionKind(suggestion.kind)])


def decide_many(
    *,
    suggestions: list[Suggestion],
    annotation_set: AnnotationSet,
    verdict: str,
    by: User | None,
    expected_version: int,
) -> list[Decision]:
    """Accept or reject each suggestion, in one edit of the set (all or nothing). Returns the decisions."""
    if not suggestions:
        raise InvalidAnnotation("No pending suggestion matches.", field="bulk")
    decisions: list[Decision] = []
    made: list[Span] = []
    with edit_set(annotation_set, expected_version=expected_version, by=by) as editor:
        for suggestion in suggestions:
            if verdict == Verdict.REJECTED:
                decisions.append(services.record_rejection(editor, suggestion))
                continue
            if suggestion.kind == SuggestionKind.ENTITY and any(
                span.entity_type_id == suggestion.entity_type_id
                and span.start <= suggestion.start
                and suggestion.end <= span.end
                for span in made
            ):
                continue  # inside a span of its type this batch made: nothing new to say
            decision = services.apply_acceptance(editor, suggestion)
            if decision.span is not None and suggestion.kind == SuggestionKind.ENTITY:
                made.append(decision.span)
            decisions.append(decision)
    return decisions
