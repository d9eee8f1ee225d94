from django.urls import path

from annotator.signins import views

app_name = "signins"
urlpatterns = [
    path("staff/sign-ins/", views.staff_sign_ins, name="staff"),
    path("staff/sign-ins/unlock/", views.staff_unlock, name="unlock"),
]
