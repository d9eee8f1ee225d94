from django.urls import path

from annotator.interchange import views

app_name = "interchange"
urlpatterns = [
    path("", views.imports, name="imports"),
    path("<int:job_id>/", views.import_detail, name="detail"),
]
