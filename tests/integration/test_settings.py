"""Settings come from the environment; the app refuses to start without a secret key outside debug."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "import django, json; from django.conf import settings; django.setup(); "
    "db = settings.DATABASES['default']; "
    "print(json.dumps({'engine': db['ENGINE'], 'options': {k: str(v) for k, v in db.get('OPTIONS', {}).items()}, "
    "'debug': settings.DEBUG, 'hosts': settings.ALLOWED_HOSTS, 'ssl_redirect': settings.SECURE_SSL_REDIRECT, "
    "'renderers': settings.REST_FRAMEWORK['DEFAULT_RENDERER_CLASSES']}))"
)


def start(tmp_path, **env):
    """Load the real settings in a fresh interpreter with exactly this environment."""
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "ANNOTATOR_"))
    }
    clean.update(
        {
            "DJANGO_SETTINGS_MODULE": "annotator.settings",
            "ANNOTATOR_ENV_FILE": str(tmp_path / "absent.env"),
            "ANNOTATOR_DATA_DIR": str(tmp_path / "data"),
            **env,
        }
    )
    return subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=clean, capture_output=True, text=True)


def test_without_a_secret_key_and_without_debug_the_app_refuses_to_start(tmp_path):
    result = start(tmp_path)
    assert result.returncode != 0
    assert "ImproperlyConfigured: DJANGO_SECRET_KEY is not set." in result.stderr


def test_debug_is_off_by_default_and_sqlite_runs_in_wal_mode(tmp_path):
    result = start(tmp_path, DJANGO_SECRET_KEY="k" * 50)
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert loaded["debug"] is False
    assert loaded["engine"] == "django.db.backends.sqlite3"
    assert "journal_mode=WAL" in loaded["options"]["init_command"]
    assert loaded["options"]["transaction_mode"] == "IMMEDIATE"
    assert loaded["hosts"] == ["127.0.0.1", "localhost"]
    assert loaded["renderers"] == ["rest_framework.renderers.JSONRenderer"]  # no browsable API in production


def test_a_sqlite_database_url_runs_in_wal_mode_with_the_defaults_lock_waits(tmp_path):
    """The file named by a sqlite:/// URL (the live-server tests' servers and workers open theirs so) gets
    the default's options: without them a second writer failed at once ("database is locked")."""
    expected = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000",
        "transaction_mode": "IMMEDIATE",
    }
    default = json.loads(start(tmp_path, DJANGO_SECRET_KEY="k" * 50).stdout)
    url = f"sqlite:///{tmp_path / 'other.sqlite3'}"
    result = start(tmp_path, DJANGO_SECRET_KEY="k" * 50, DATABASE_URL=url)
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert loaded["engine"] == "django.db.backends.sqlite3"
    assert (default["options"], loaded["options"]) == (expected, expected)


def test_database_url_selects_postgresql_with_a_connection_pool(tmp_path):
    result = start(
        tmp_path,
        DJANGO_SECRET_KEY="k" * 50,
        DATABASE_URL="postgres://annotator@db.example:5432/annotator",
        DJANGO_ALLOWED_HOSTS="annotator.example,10.0.0.5",
        DJANGO_HTTPS="true",
    )
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert loaded["engine"] == "django.db.backends.postgresql"
    # No connection opened ahead of the first request (settings.py says why), statements planned once.
    assert loaded["options"]["pool"] == str({"min_size": 0, "max_size": 10, "timeout": 10})
    assert loaded["options"]["options"] == "-c jit=off -c plan_cache_mode=force_generic_plan"
    # A peer that vanished is found in minutes (a kept connection is tested, and must not hang on it).
    liveness = (
        "keepalives",
        "keepalives_idle",
        "keepalives_interval",
        "keepalives_count",
        "tcp_user_timeout",
    )
    assert [loaded["options"][name] for name in liveness] == ["1", "60", "10", "5", "120000"]
    assert loaded["hosts"] == ["annotator.example", "10.0.0.5"]
    assert loaded["ssl_redirect"] is True


def test_a_local_env_file_fills_in_what_the_environment_leaves_unset(tmp_path):
    env_file = tmp_path / "local.env"
    env_file.write_text("DJANGO_SECRET_KEY=from-the-file-" + "x" * 40 + "\nDJANGO_DEBUG=true\n")
    result = start(tmp_path, ANNOTATOR_ENV_FILE=str(env_file), DJANGO_DEBUG="false")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["debug"] is False  # the real environment wins over the file


def test_every_setting_read_from_the_environment_is_in_env_example():
    import re

    names = set()
    for path in (ROOT / "annotator").rglob("*.py"):
        names |= set(re.findall(r"env\.\w+\(\s*\"([A-Z_]+)\"", path.read_text()))
        names |= set(
            re.findall(r"os\.environ\.get\(\"((?:ANNOTATOR|DJANGO|WEB)_[A-Z_]+)\"", path.read_text())
        )
    documented = set(re.findall(r"^#?\s*([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.MULTILINE))
    assert names, "no settings found: the pattern above is out of date"
    assert names - documented == set()


def test_production_settings_pass_the_deploy_check_with_no_warnings(tmp_path):
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "ANNOTATOR_"))
    }
    clean.update(
        {
            "DJANGO_SETTINGS_MODULE": "annotator.settings",
            "ANNOTATOR_ENV_FILE": str(tmp_path / "absent.env"),
            "ANNOTATOR_DATA_DIR": str(tmp_path / "data"),
            "DJANGO_SECRET_KEY": "a-long-random-production-key-" + "q7Zx" * 12,
            "DJANGO_HTTPS": "true",
            "DJANGO_ALLOWED_HOSTS": "annotator.example.org",
        }
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
