from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from annotator.interchange.models import ReanchorFlag


@admin.register(ReanchorFlag)
class ReanchorFlagAdmin(admin.ModelAdmin):
    """Annotations a re-import could not move exactly; staff can mark them reviewed in bulk."""

    list_display = ["__str__", "kind", "article", "annotation_set", "created_at", "resolved_at"]
    list_filter = ["kind", ("resolved_at", admin.EmptyFieldListFilter)]
    list_select_related = ["article", "annotation_set"]
    raw_id_fields = ["article", "revision", "annotation_set", "span", "resolved_by"]
    actions = ["mark_reviewed"]

    @admin.action(description="Mark the selected flags reviewed")
    def mark_reviewed(self, request: HttpRequest, queryset: QuerySet[ReanchorFlag]) -> None:
        count = queryset.filter(resolved_at__isnull=True).update(
            resolved_at=timezone.now(), resolved_by=request.user
        )
        self.message_user(request, f"{count} flag(s) marked reviewed.")
