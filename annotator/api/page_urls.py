from django.urls import path

from annotator.api import token_views

app_name = "tokens"
urlpatterns = [
    path("", token_views.tokens_page, name="list"),
    path("<int:token_id>/revoke/", token_views.revoke_page, name="revoke"),
]
