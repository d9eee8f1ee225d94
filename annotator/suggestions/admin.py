from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from annotator.suggestions.models import Decision, SuggesterVersion, Suggestion


@admin.register(SuggesterVersion)
class SuggesterVersionAdmin(admin.ModelAdmin):
    list_display = ["name", "version", "kind", "project", "is_active", "created_at"]
    list_filter = ["kind", "is_active", "project"]
    search_fields = ["name", "version", "description"]
    raw_id_fields = ["created_by"]


@admin.register(Suggestion)
class SuggestionAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "kind",
        "entity_type",
        "relation_type",
        "kb_entity",
        "score",
        "suggester_version",
    ]
    list_filter = ["kind", "source", "suggester_version"]
    search_fields = ["article__external_id", "source"]
    raw_id_fields = [
        "article", "suggester_version", "entity_type", "tail_entity_type", "relation_type", "kb_entity",
    ]  # fmt: skip
    list_select_related = ["entity_type", "relation_type", "kb_entity", "suggester_version"]
    show_full_result_count = False


@admin.register(Decision)
class DecisionAdmin(SimpleHistoryAdmin):
    list_display = ["verdict", "suggestion", "annotation_set", "decided_by", "created_at"]
    list_filter = ["verdict", "suggestion__kind"]
    search_fields = ["annotation_set__article__external_id", "decided_by__username"]
    raw_id_fields = ["suggestion", "annotation_set", "span", "relation", "link", "decided_by"]
    list_select_related = ["suggestion", "annotation_set", "decided_by"]
    show_full_result_count = False
