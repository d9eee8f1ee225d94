from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from annotator.annotations.models import AnnotationSet, EntityLink, Relation, Span


@admin.register(AnnotationSet)
class AnnotationSetAdmin(SimpleHistoryAdmin):
    list_display = ["__str__", "kind", "status", "version", "annotator", "updated_at"]
    list_filter = ["kind", "status", "article__project"]
    search_fields = ["article__external_id", "article__title", "annotator__username", "name"]
    raw_id_fields = ["article", "annotator", "guideline_version"]
    list_select_related = ["article", "annotator"]
    show_full_result_count = False


@admin.register(Span)
class SpanAdmin(SimpleHistoryAdmin):
    list_display = ["surface", "entity_type", "start", "end", "annotation_set", "created_by"]
    list_filter = ["entity_type__project", "entity_type__name"]
    search_fields = ["surface"]
    raw_id_fields = ["annotation_set", "entity_type", "created_by"]
    list_select_related = [
        "entity_type",
        "annotation_set__article",
        "annotation_set__annotator",
        "created_by",
    ]
    show_full_result_count = False


@admin.register(EntityLink)
class EntityLinkAdmin(SimpleHistoryAdmin):
    list_display = ["span", "kb_entity", "created_by", "updated_at"]
    search_fields = ["span__surface", "kb_entity__name", "kb_entity__kb_id"]
    raw_id_fields = ["span", "kb_entity", "created_by"]
    list_select_related = ["span__entity_type", "kb_entity"]
    show_full_result_count = False


@admin.register(Relation)
class RelationAdmin(SimpleHistoryAdmin):
    list_display = ["__str__", "relation_type", "annotation_set", "created_by"]
    list_filter = ["relation_type__project", "relation_type__name"]
    search_fields = ["head__surface", "tail__surface"]
    raw_id_fields = ["annotation_set", "head", "tail", "relation_type", "created_by"]
    list_select_related = ["head__entity_type", "tail__entity_type", "relation_type", "annotation_set"]
    show_full_result_count = False
