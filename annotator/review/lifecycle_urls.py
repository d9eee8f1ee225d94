from django.urls import path

from annotator.review import backup_views, lifecycle_views

app_name = "lifecycle"
urlpatterns = [
    path("<int:project_id>/lifecycle/", lifecycle_views.lifecycle_page, name="page"),
    path("<int:project_id>/backup/", backup_views.backup_page, name="backup"),
    path("restore/", backup_views.restore_page, name="restore"),
]
