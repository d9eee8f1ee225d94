"""Figures the dashboard shows about reviewing: how often people accept what the suggester proposes."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q

from annotator.suggestions.models import Decision, SuggestionKind, Verdict


@dataclass(frozen=True)
class Acceptance:
    label: str
    decided: int
    accepted: int
    corrected: int
    rejected: int

    @property
    def rate(self) -> float:
        return self.accepted / self.decided if self.decided else 0.0


def acceptance_by_label(*, project_id: int) -> list[Acceptance]:
    """Decisions on entity suggestions in the project, per entity type: one query."""
    rows = (
        Decision.objects.filter(
            annotation_set__article__project_id=project_id, suggestion__kind=SuggestionKind.ENTITY
        )
        .values("suggestion__entity_type__name")
        .annotate(
            decided=Count("pk"),
            accepted=Count("pk", filter=Q(verdict=Verdict.ACCEPTED)),
            corrected=Count("pk", filter=Q(verdict=Verdict.CORRECTED)),
            rejected=Count("pk", filter=Q(verdict=Verdict.REJECTED)),
        )
        .order_by("suggestion__entity_type__name")
    )
    return [
        Acceptance(
            label=row["suggestion__entity_type__name"],
            decided=row["decided"],
            accepted=row["accepted"],
            corrected=row["corrected"],
            rejected=row["rejected"],
        )
        for row in rows
    ]
