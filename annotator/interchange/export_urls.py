from django.urls import path

from annotator.interchange import export_views

app_name = "exports"
urlpatterns = [
    path("", export_views.exports, name="exports"),
    path("<int:export_job_id>/", export_views.export_detail, name="detail"),
    path("<int:export_job_id>/download", export_views.export_download, name="download"),
    path("<int:export_job_id>/cancel", export_views.export_cancel, name="cancel"),
]
