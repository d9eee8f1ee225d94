"""The URL map. Pages are server-rendered; the API lives under /api/v1/."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from annotator.core import views as core_views

urlpatterns = [
    path("", core_views.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    # Browsers ask for /favicon.ico on pages that name no icon (the admin's).
    path("favicon.ico", login_not_required(RedirectView.as_view(url=static("annotator/favicon.svg")))),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("projects/", include("annotator.projects.urls")),
    path("projects/", include("annotator.suggestions.urls")),
    path("articles/", include("annotator.articles.urls")),
    path("api/v1/", include("annotator.api.urls")),
    path("admin/", admin.site.urls),
]
