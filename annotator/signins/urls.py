from django.contrib.auth.decorators import login_not_required
from django.urls import path

from annotator.signins import oidc, views

app_name = "signins"
urlpatterns = [
    path("account/sign-ins/", views.my_sign_ins, name="mine"),
    path("staff/sign-ins/", views.staff_sign_ins, name="staff"),
    path("staff/sign-ins/unlock/", views.staff_unlock, name="unlock"),
    path("accounts/sso/start/", login_not_required(oidc.StartView.as_view()), name="oidc-start"),
    path("accounts/sso/callback/", login_not_required(oidc.CallbackView.as_view()), name="oidc-callback"),
]
