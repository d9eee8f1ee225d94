"""docker-compose.yml, the Dockerfile and .env.example stay in step with the settings the code reads."""

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def documented_settings():
    return set(re.findall(r"^#?\s*([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.MULTILINE))


def test_compose_runs_postgres_web_worker_and_reaper_from_one_image():
    services = compose()["services"]
    assert set(services) == {"postgres", "web", "worker", "reaper"}
    assert services["web"]["build"] == services["worker"]["build"] == services["reaper"]["build"] == "."
    assert "python manage.py reap_jobs" in services["reaper"]["command"]  # jobs whose worker died
    assert "gunicorn annotator.wsgi:application" in services["web"]["command"]
    assert "migrate --noinput" in services["web"]["command"]
    assert services["worker"]["command"].startswith("python manage.py db_worker")
    assert services["worker"]["depends_on"]["web"]["condition"] == "service_healthy"


def test_compose_app_environment_uses_only_settings_the_code_reads():
    environment = compose()["services"]["web"]["environment"]
    assert environment["DATABASE_URL"].startswith("postgres://annotator:")
    assert "${DJANGO_SECRET_KEY:?" in environment["DJANGO_SECRET_KEY"]  # no default secret, ever
    assert set(environment) <= documented_settings()


def test_dockerfile_serves_the_wsgi_app_as_a_non_root_user():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "FROM python:3.11" in dockerfile
    assert "USER annotator" in dockerfile
    assert "/healthz" in dockerfile
    assert '"annotator.wsgi:application"' in dockerfile


def test_make_audit_runs_pip_audit_in_its_own_environment_and_ci_does_not():
    makefile = (ROOT / "Makefile").read_text()
    target = makefile[makefile.index("\naudit:") :]
    assert "## Check the installed dependencies for known vulnerabilities" in target
    assert "pip-audit==" in makefile  # pinned, installed on demand into .venv-audit
    assert "--strict" in target  # a dependency it could not check fails the audit, offline too
    assert "audit" not in (ROOT / ".ci" / "run").read_text()
    assert ".venv-audit/" in (ROOT / ".gitignore").read_text().splitlines()


def test_gunicorn_reads_the_app_s_logging_from_the_image_s_working_directory():
    assert "gunicorn.conf.py" in (ROOT / "Dockerfile").read_text()
    config = (ROOT / "gunicorn.conf.py").read_text()
    assert "access_log_format" in config
    assert "logconfig_dict = logging_config(" in config


@pytest.mark.parametrize(("level", "access"), [(None, "INFO"), ("warning", "WARNING"), ("DEBUG", "DEBUG")])
def test_gunicorn_s_access_log_follows_the_app_s_log_level(monkeypatch, level, access):
    import runpy

    if level is None:
        monkeypatch.delenv("ANNOTATOR_LOG_LEVEL", raising=False)
    else:
        monkeypatch.setenv("ANNOTATOR_LOG_LEVEL", level)
    loggers = runpy.run_path(str(ROOT / "gunicorn.conf.py"))["logconfig_dict"]["loggers"]
    assert loggers["gunicorn.access"] == {"handlers": ["console"], "propagate": False, "level": access}
    assert loggers["gunicorn.error"] == {"handlers": ["console"], "propagate": False}
