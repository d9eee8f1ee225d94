from django.urls import path

from annotator.accounts import views

app_name = "accounts"
urlpatterns = [
    path("account/", views.account_page, name="account"),
    path("invitations/<str:secret>/", views.accept_page, name="accept"),
    path("projects/<int:project_id>/people/", views.people_page, name="people"),
    path(
        "projects/<int:project_id>/invitations/<int:invitation_id>/revoke/",
        views.revoke_page,
        name="revoke",
    ),
    path("staff/users/", views.users_page, name="users"),
    path("staff/users/<int:user_id>/active/", views.user_active_page, name="user-active"),
]
