from django.contrib import admin

from annotator.jobs.models import Job


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["__str__", "kind", "status", "project", "progress_done", "progress_total", "created_at"]
    list_filter = ["kind", "status", "project"]
    search_fields = ["message", "task_id"]
    raw_id_fields = ["project", "created_by"]
    readonly_fields = ["created_at", "started_at", "finished_at", "heartbeat_at", "attempts", "task_id"]
