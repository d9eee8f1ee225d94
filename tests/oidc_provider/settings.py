"""Settings of the test provider: its own database, cookies and templates, nothing of Annotator's."""

import os
from pathlib import Path

HERE = Path(__file__).resolve().parent
SECRET_KEY = "oidc-provider-test-only-key-0123456789-abcdefghijklmnop"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "oidc_provider",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
ROOT_URLCONF = "tests.oidc_provider.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [HERE / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
            ]
        },
    }
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": Path(os.environ.get("OIDC_PROVIDER_DIR", "/tmp")) / "provider.sqlite3",  # noqa: S108
    }
}
# Tables straight from the models (`migrate --run-syncdb`): a throwaway database needs no history, and
# this is several times faster on a loaded machine.
MIGRATION_MODULES = {app: None for app in ("auth", "contenttypes", "sessions", "oidc_provider")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Browsers keep cookies per host, not per port: names of its own keep it apart from the app's on 127.0.0.1.
SESSION_COOKIE_NAME = "provider_session"
CSRF_COOKIE_NAME = "provider_csrftoken"
LOGIN_URL = "/login/"
SITE_URL = os.environ.get("OIDC_PROVIDER_URL", "http://127.0.0.1:8765")
OIDC_USERINFO = "tests.oidc_provider.claims.userinfo"
