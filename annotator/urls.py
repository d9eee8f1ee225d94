"""The URL map. Pages are server-rendered; the API lives under /api/v1/."""

from django.contrib import admin
from django.urls import include, path

from annotator.core import views as core_views
from annotator.signins import views as signins_views

urlpatterns = [
    path("", core_views.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    path("favicon.ico", core_views.favicon),
    path("accounts/login/", signins_views.SignInView.as_view(), name="login"),
    path("accounts/logout/", signins_views.SignOutView.as_view(), name="logout"),
    path("projects/", include("annotator.projects.urls")),
    path("projects/<int:project_id>/imports/", include("annotator.interchange.urls")),
    path("projects/<int:project_id>/exports/", include("annotator.interchange.export_urls")),
    path("projects/", include("annotator.suggestions.urls")),
    path("projects/<int:project_id>/agreement/", include("annotator.agreement.urls")),
    path("articles/", include("annotator.review.reading_urls")),
    path("", include("annotator.review.urls")),
    path("projects/<int:project_id>/kb/", include("annotator.kb.urls")),
    path("api/v1/", include("annotator.api.urls")),
    path("account/tokens/", include("annotator.api.page_urls")),
    path("", include("annotator.signins.urls")),
    path("admin/", admin.site.urls),
]

# API clients get JSON errors even when no view answers (see annotator.api.errors).
handler400 = "annotator.api.errors.bad_request"
handler403 = "annotator.api.errors.permission_denied"
handler404 = "annotator.api.errors.not_found"
handler500 = "annotator.api.errors.server_error"
