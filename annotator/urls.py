"""The URL map. Pages are server-rendered; the API lives under /api/v1/."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from annotator.accounts.views import require_email
from annotator.core import views as core_views
from annotator.signins import views as signins_views

# Password reset by e-mail (Django's views), offered where the site can send mail.
password_reset = [
    path(
        "accounts/password-reset/",
        require_email(auth_views.PasswordResetView.as_view()),
        name="password_reset",
    ),
    path(
        "accounts/password-reset/sent/",
        require_email(auth_views.PasswordResetDoneView.as_view()),
        name="password_reset_done",
    ),
    path(
        "accounts/reset/<uidb64>/<token>/",
        require_email(auth_views.PasswordResetConfirmView.as_view()),
        name="password_reset_confirm",
    ),
    path(
        "accounts/reset/done/",
        require_email(auth_views.PasswordResetCompleteView.as_view()),
        name="password_reset_complete",
    ),
]

urlpatterns = [
    path("", core_views.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    # Before the pages: each request resolves its path by trying patterns in order, and API clients make
    # most requests (no page route takes a path under api/v1/: tests/unit/test_url_order.py).
    path("api/v1/", include("annotator.api.urls")),
    path("favicon.ico", core_views.favicon),
    path("accounts/login/", signins_views.SignInView.as_view(), name="login"),
    path("accounts/logout/", signins_views.SignOutView.as_view(), name="logout"),
    *password_reset,
    path("", include("annotator.accounts.urls")),
    path("projects/", include("annotator.projects.urls")),
    path("projects/", include("annotator.review.browse_urls")),
    path("projects/", include("annotator.review.lifecycle_urls")),
    path("projects/<int:project_id>/imports/", include("annotator.interchange.urls")),
    path("projects/<int:project_id>/exports/", include("annotator.interchange.export_urls")),
    path("projects/", include("annotator.suggestions.urls")),
    path("projects/<int:project_id>/agreement/", include("annotator.agreement.urls")),
    path("articles/", include("annotator.review.reading_urls")),
    path("", include("annotator.review.urls")),
    path("projects/<int:project_id>/kb/", include("annotator.kb.urls")),
    path("account/tokens/", include("annotator.api.page_urls")),
    path("", include("annotator.signins.urls")),
    path("admin/", admin.site.urls),
]

# API clients get JSON errors even when no view answers (see annotator.api.errors).
handler400 = "annotator.api.errors.bad_request"
handler403 = "annotator.api.errors.permission_denied"
handler404 = "annotator.api.errors.not_found"
handler500 = "annotator.api.errors.server_error"
