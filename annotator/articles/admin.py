from django.contrib import admin

from annotator.articles.models import Article


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    list_display = ["__str__", "external_id", "project", "created_at"]
    list_filter = ["project"]
    search_fields = ["external_id", "title", "content_hash"]
    readonly_fields = ["content_hash", "created_at", "updated_at"]
    list_select_related = ["project"]
    show_full_result_count = False  # COUNT(*) over millions of articles on every page is not worth it
