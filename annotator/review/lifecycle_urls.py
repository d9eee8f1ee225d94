from django.urls import path

from annotator.review import lifecycle_views

app_name = "lifecycle"
urlpatterns = [
    path("<int:project_id>/lifecycle/", lifecycle_views.lifecycle_page, name="page"),
]
