from django.contrib import admin

from annotator.articles.models import Article, ArticleRevision


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    list_display = ["__str__", "external_id", "project", "created_at"]
    list_filter = ["project"]
    search_fields = ["external_id", "title", "content_hash"]
    readonly_fields = ["content_hash", "created_at", "updated_at"]
    list_select_related = ["project"]
    show_full_result_count = False  # COUNT(*) over millions of articles on every page is not worth it


@admin.register(ArticleRevision)
class ArticleRevisionAdmin(admin.ModelAdmin):
    """Former texts, kept when a re-import replaced them; read-only: they are the record."""

    list_display = ["__str__", "number", "replaced_at", "replaced_by", "job"]
    list_select_related = ["article", "replaced_by", "job"]
    raw_id_fields = ["article", "replaced_by", "job"]
    readonly_fields = [
        "article",
        "number",
        "text",
        "content_hash",
        "replaced_at",
        "replaced_by",
        "job",
        "summary",
    ]
