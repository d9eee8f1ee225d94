from django.urls import path

from annotator.kb import views

app_name = "kb"
urlpatterns = [
    path("", views.kb_list, name="list"),
    path("entities/new/", views.entity_create, name="entity-create"),
    path("entities/pick/", views.entity_picker, name="entity-picker"),
    path("entities/<int:entity_id>/", views.entity_detail, name="entity"),
    path("entities/<int:entity_id>/edit/", views.entity_edit, name="entity-edit"),
    path("entities/<int:entity_id>/merge/", views.entity_merge, name="entity-merge"),
    path("import/", views.kb_import, name="import"),
    path("import/<int:kb_job_id>/", views.import_job, name="job"),
    path("import/<int:kb_job_id>/cancel", views.import_job_cancel, name="job_cancel"),
]
