"""The article browser of a project; its views read annotation sets, so they live in review."""

from django.urls import path

from annotator.review import browse_views

app_name = "browse"
urlpatterns = [
    path("<int:project_id>/articles/", browse_views.articles_page, name="articles"),
    path("<int:project_id>/articles/delete/", browse_views.delete_page, name="delete"),
    path("<int:project_id>/articles/requeue/", browse_views.requeue_page, name="requeue"),
]
