from django.contrib.auth.views import LoginView
from django.http import HttpResponse
from django.urls import include, path

urlpatterns = [
    path("login/", LoginView.as_view(template_name="provider_login.html"), name="login"),
    path("openid/", include("oidc_provider.urls", namespace="oidc_provider")),
    # The browser asks every host for one; a 404 would be a console error the browser tests fail on.
    path("favicon.ico", lambda request: HttpResponse(status=204)),
]
