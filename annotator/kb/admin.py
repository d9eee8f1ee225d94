from django.contrib import admin

from annotator.kb.models import Alias, KBEntity, KnowledgeBase


@admin.register(KnowledgeBase)
class KnowledgeBaseAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "created_at"]
    list_filter = ["project"]
    search_fields = ["name", "description"]


class AliasInline(admin.TabularInline):
    model = Alias
    extra = 0
    fields = ["text", "language"]


@admin.register(KBEntity)
class KBEntityAdmin(admin.ModelAdmin):
    list_display = ["name", "kb_id", "type", "prior", "knowledge_base"]
    list_filter = ["knowledge_base", "type"]
    search_fields = ["name", "kb_id", "description"]
    raw_id_fields = ["knowledge_base", "merged_into"]
    list_select_related = ["knowledge_base"]
    inlines = [AliasInline]
    show_full_result_count = False


@admin.register(Alias)
class AliasAdmin(admin.ModelAdmin):
    list_display = ["text", "language", "entity", "knowledge_base"]
    list_filter = ["language", "knowledge_base"]
    search_fields = ["text", "normalized", "entity__kb_id"]
    raw_id_fields = ["entity", "knowledge_base"]
    readonly_fields = ["normalized"]
    list_select_related = ["entity", "knowledge_base"]
    show_full_result_count = False
