from django.apps import AppConfig


class SigninsConfig(AppConfig):
    name = "annotator.signins"
    label = "signins"
    verbose_name = "Sign-ins"

    def ready(self) -> None:
        from axes.signals import user_locked_out
        from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed

        from annotator.signins import records

        user_logged_in.connect(records.on_signed_in, dispatch_uid="signins-signed-in")
        user_logged_out.connect(records.on_signed_out, dispatch_uid="signins-signed-out")
        user_login_failed.connect(records.on_sign_in_failed, dispatch_uid="signins-failed")
        user_locked_out.connect(records.on_locked_out, dispatch_uid="signins-locked-out")
