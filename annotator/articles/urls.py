from django.urls import path

from annotator.articles import views

app_name = "articles"
urlpatterns = [
    path("<int:article_id>/", views.article_detail, name="detail"),
]
