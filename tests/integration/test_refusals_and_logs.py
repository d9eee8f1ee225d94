"""Refusals Django makes itself answer API clients in the API's error shape, and logs say what happened
in one line per refusal, with a request id that is also in the answer."""

import io
import json
import logging
import re

import pytest
from django.test import Client
from django.urls import reverse

from annotator.api.tokens import create_token
from annotator.core.logs import PLAIN_FORMAT, JsonLinesFormatter, RefusalFilter, RequestIdFilter

pytestmark = pytest.mark.django_db

HEX_ID = re.compile("[0-9a-f]{32}")


@pytest.fixture
def token(news):
    return create_token(user=news.annotator, name="refusals", scope="write")[1]


def api_error(response, status, code, message):
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"error": {"code": code, "message": message, "fields": {}}}
    assert HEX_ID.fullmatch(response["X-Request-ID"])


TOO_LARGE = (
    "The request body is larger than the 1000 bytes this server reads into memory; send less (files go as "
    "multipart uploads, which have their own limit)."
)


# Item 7: Django-level refusals under /api/ answer JSON


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/x-www-form-urlencoded", "text/plain"]
)
def test_a_body_over_the_size_limit_is_a_413_in_the_api_error_shape(client, token, settings, content_type):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps({"text": "x" * 1000})
    response = client.post(
        "/api/v1/suggest", body, content_type=content_type, HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    api_error(response, 413, "request_too_large", TOO_LARGE)


def test_a_multipart_body_whose_fields_are_over_the_limit_is_a_413_too(client, news, token, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = client.post(
        "/api/v1/suggest", {"text": "x" * 2000}, HTTP_AUTHORIZATION=f"Bearer {token}"
    )  # the test client sends a dict as multipart/form-data
    api_error(response, 413, "request_too_large", TOO_LARGE)


def test_a_body_within_the_limit_is_read_as_before(client, news, token, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = client.post(
        reverse("api:set-spans", args=[news.annotation_set.pk]),
        {"start": 0, "end": 6, "type": "PERSON"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
        HTTP_IF_MATCH='"1"',
    )
    assert response.status_code == 201


def test_too_many_fields_and_a_host_the_server_does_not_serve_answer_json(client, news, token, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 3
    fields = client.post(
        reverse("api:set-spans", args=[news.annotation_set.pk]),
        "start=0&end=6&type=PERSON&a=1&b=2",
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=f"Bearer {token}",
        HTTP_IF_MATCH='"1"',
    )
    api_error(fields, 400, "too_many_fields", "The request has more than 3 fields.")
    host = client.get("/api/v1/projects/", HTTP_HOST="evil.example", HTTP_AUTHORIZATION=f"Bearer {token}")
    api_error(host, 400, "bad_host", "This server does not answer for the host the request names.")


def test_pages_keep_django_s_html_refusals(client, news, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    client.force_login(news.annotator)
    form = "application/x-www-form-urlencoded"
    too_large = client.post(
        reverse("interchange:imports", args=[news.project.pk]), "a=" + "x" * 2000, content_type=form
    )
    assert too_large.status_code == 400
    assert too_large["Content-Type"].startswith("text/html")
    host = client.get(reverse("projects:list"), HTTP_HOST="evil.example")
    assert (host.status_code, host["Content-Type"].split(";")[0]) == (400, "text/html")


def test_the_schema_documents_413_wherever_a_body_is_taken(client, news):
    client.force_login(news.annotator)
    paths = client.get("/api/v1/schema/?format=json").json()["paths"]
    with_body = [
        (path, method, operation) for path, item in paths.items() for method, operation in item.items()
        if "requestBody" in operation
    ]  # fmt: skip
    assert len(with_body) > 10
    for path, method, operation in with_body:
        assert "413" in operation["responses"], f"{method} {path}"
    assert "413" not in paths["/api/v1/projects/"]["get"]["responses"]


# Item 8: request ids


def test_every_answer_names_its_request_and_an_incoming_id_is_taken_only_when_trusted(client, news, settings):
    client.force_login(news.annotator)
    first, second = client.get("/healthz"), client.get("/projects/")
    assert HEX_ID.fullmatch(first["X-Request-ID"])
    assert HEX_ID.fullmatch(second["X-Request-ID"])
    assert first["X-Request-ID"] != second["X-Request-ID"]
    assert client.get("/healthz", HTTP_X_REQUEST_ID="proxy-1").headers["X-Request-ID"] != "proxy-1"
    settings.ANNOTATOR_TRUST_REQUEST_ID = True
    assert client.get("/healthz", HTTP_X_REQUEST_ID="proxy-1")["X-Request-ID"] == "proxy-1"
    for insane in ["a\r\nX-Evil: 1", "x" * 129, "-starts-with-a-dash", "caf\u00e9", "a b", ""]:
        taken = client.get("/healthz", HTTP_X_REQUEST_ID=insane)["X-Request-ID"]
        assert HEX_ID.fullmatch(taken), insane


# Item 8: what the log says. The handler is built as settings.LOGGING builds it (annotator.core.logs).


@pytest.fixture
def log_lines():
    """What the app's console handler would write, plain; `.json()` switches to JSON lines."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RefusalFilter())
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(logging.Formatter(PLAIN_FORMAT))
    root = logging.getLogger()
    root.addHandler(handler)

    class Lines:
        def __call__(self):
            return [line for line in stream.getvalue().splitlines() if line]

        def json(self):
            handler.setFormatter(JsonLinesFormatter())

    yield Lines()
    root.removeHandler(handler)


def request_lines(lines):
    return [line for line in lines if " django." in line or '"django.' in line]


def test_a_403_from_a_page_is_one_line_with_status_user_and_path_and_no_traceback(client, news, log_lines):
    client.force_login(news.annotator)
    response = client.post(reverse("interchange:imports", args=[news.project.pk]), {"again": "1"})
    assert response.status_code == 403
    lines = request_lines(log_lines())
    rid = response["X-Request-ID"]
    path = f"/projects/{news.project.pk}/imports/"
    assert len(lines) == 1, lines
    assert lines[0].endswith(
        f" WARNING django.request [{rid}] 403 POST {path} user={news.annotator.pk}: Forbidden (Permission denied)"
    )
    assert "Traceback" not in "\n".join(log_lines())


def test_404_401_and_a_bad_host_are_one_line_each(client, news, log_lines):
    client.force_login(news.annotator)
    missing = client.get("/articles/999999/annotate/caf%C3%A9/")
    anonymous = Client().get("/api/v1/projects/", HTTP_AUTHORIZATION="Bearer nope")
    host = client.get("/api/v1/projects/%0A/x", HTTP_HOST="evil.example")  # a newline in the path
    lines = request_lines(log_lines())
    assert [line.split(" ", 2)[2] for line in lines] == [
        f"WARNING django.request [{missing['X-Request-ID']}] 404 GET /articles/999999/annotate/café/ "
        f"user={news.annotator.pk}: Not Found",
        f"WARNING django.request [{anonymous['X-Request-ID']}] 401 GET /api/v1/projects/ user=-: Unauthorized",
        f"WARNING django.security.DisallowedHost [{host['X-Request-ID']}] 400 GET /api/v1/projects/\\n/x "
        "user=-: Invalid HTTP_HOST header: 'evil.example'. You may need to add 'evil.example' to ALLOWED_HOSTS.",
    ]
    assert "Traceback" not in "\n".join(log_lines())


def test_a_real_error_keeps_its_traceback(news, settings, log_lines):
    from unittest import mock

    settings.DEBUG = False
    client = Client(raise_request_exception=False)
    client.force_login(news.annotator)
    with mock.patch("annotator.api.views.ProjectList.get_queryset", side_effect=RuntimeError("boom")):
        response = client.get("/api/v1/projects/")
    assert response.status_code == 500
    text = "\n".join(log_lines())
    assert (
        f"ERROR django.request [{response['X-Request-ID']}] Internal Server Error: /api/v1/projects/" in text
    )
    assert "Traceback (most recent call last)" in text
    assert "RuntimeError: boom" in text


def test_json_lines_carry_the_request_id_the_refusal_and_a_traceback_only_for_errors(
    news, settings, log_lines
):
    from unittest import mock

    log_lines.json()
    settings.DEBUG = False
    client = Client(raise_request_exception=False)
    client.force_login(news.annotator)
    refused = client.post(reverse("interchange:imports", args=[news.project.pk]), {"again": "1"})
    with mock.patch("annotator.api.views.ProjectList.get_queryset", side_effect=RuntimeError("boom")):
        failed = client.get("/api/v1/projects/")
    entries = [json.loads(line) for line in log_lines()]  # every line is one JSON object
    by_request = {entry["request_id"]: entry for entry in entries if entry["logger"] == "django.request"}
    refusal = by_request[refused["X-Request-ID"]]
    assert {key: value for key, value in refusal.items() if key != "time"} == {
        "level": "WARNING",
        "logger": "django.request",
        "request_id": refused["X-Request-ID"],
        "message": f"403 POST /projects/{news.project.pk}/imports/ user={news.annotator.pk}: "
        "Forbidden (Permission denied)",
        "status": 403,
        "method": "POST",
        "path": f"/projects/{news.project.pk}/imports/",
        "user": str(news.annotator.pk),
    }
    error = by_request[failed["X-Request-ID"]]
    assert error["level"] == "ERROR"
    assert error["traceback"].startswith("Traceback (most recent call last)")
    assert error["traceback"].endswith("RuntimeError: boom")


def test_lines_logged_while_a_request_is_answered_carry_its_id_and_others_a_dash(client, news, log_lines):
    from unittest import mock

    from annotator.api.views import ProjectList

    original = ProjectList.get_queryset

    def get_queryset_that_logs(view):
        logging.getLogger("annotator.test").warning("inside the view")
        return original(view)

    client.force_login(news.annotator)
    with mock.patch.object(ProjectList, "get_queryset", get_queryset_that_logs):
        response = client.get("/api/v1/projects/")
    logging.getLogger("annotator.test").warning("outside any request")
    lines = [line.split(" ", 2)[2] for line in log_lines() if "annotator.test" in line]
    assert lines == [
        f"WARNING annotator.test [{response['X-Request-ID']}] inside the view",
        "WARNING annotator.test [-] outside any request",
    ]


# The real settings and the real server


def test_the_log_format_setting_writes_json_lines_and_refuses_an_unknown_format(tmp_path):
    import os
    import subprocess
    import sys

    from tests.integration.test_settings import ROOT

    code = (
        "import django, logging; django.setup(); logging.getLogger('annotator.probe').warning('a \"b\"\\nc')"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "ANNOTATOR_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="annotator.settings", DJANGO_SECRET_KEY="k" * 50,
        ANNOTATOR_ENV_FILE=str(tmp_path / "absent.env"), ANNOTATOR_DATA_DIR=str(tmp_path / "data"),
    )  # fmt: skip

    def run(log_format):
        command = [sys.executable, "-c", code]
        return subprocess.run(
            command, cwd=ROOT, env={**env, "ANNOTATOR_LOG_FORMAT": log_format}, capture_output=True, text=True
        )

    logged = run("json")
    assert logged.returncode == 0, logged.stderr
    entry = json.loads(logged.stderr)
    assert {key: entry[key] for key in ("level", "logger", "request_id", "message")} == {
        "level": "WARNING",
        "logger": "annotator.probe",
        "request_id": "-",
        "message": 'a "b"\nc',
    }
    refused = run("JSON")
    assert refused.returncode != 0
    assert "ANNOTATOR_LOG_FORMAT is 'JSON'; it must be plain or json." in refused.stderr


def test_gunicorn_writes_its_access_log_as_json_lines_with_the_request_id(transactional_db, tmp_path):
    import subprocess
    import sys
    import time
    import urllib.request

    from tests.live import ROOT, app_environment, listening_socket

    log = tmp_path / "gunicorn.log"
    with log.open("w") as output, listening_socket() as listener:  # the port is ours before gunicorn starts
        port = listener.getsockname()[1]
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "annotator.wsgi:application", "--bind", f"fd://{listener.fileno()}",
             "--workers", "1", "--access-logfile", "-"],
            cwd=ROOT, stdout=output, stderr=subprocess.STDOUT, pass_fds=[listener.fileno()],
            env=app_environment(DJANGO_ALLOWED_HOSTS="127.0.0.1", DJANGO_DEBUG="false", ANNOTATOR_LOG_FORMAT="json"),
        )  # fmt: skip
        listener.close()  # gunicorn holds its own copy
        try:
            deadline = time.monotonic() + 180  # the first answer waits for the app's import: slow when loaded
            while True:
                try:
                    answer = urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
                    break
                except OSError:
                    assert server.poll() is None, log.read_text()
                    assert time.monotonic() < deadline, log.read_text()
                    time.sleep(0.2)
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/projects/", timeout=10)
            except urllib.error.HTTPError as error:
                refused = error
        finally:
            server.terminate()
            try:
                # Its workers and then the master end their interpreters with the app (and spaCy) loaded: a
                # loaded machine (load 29) took more than 20 s. The lines read below were written long before.
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    entries = [json.loads(line) for line in log.read_text().splitlines()]  # every line is JSON
    access = [entry for entry in entries if entry["logger"] == "gunicorn.access"]
    by_id = {entry["request_id"]: entry for entry in access}
    assert '"GET /healthz HTTP/1.1" 200' in by_id[answer.headers["X-Request-ID"]]["message"]
    assert refused.code == 401
    assert '"GET /api/v1/projects/ HTTP/1.1" 401' in by_id[refused.headers["X-Request-ID"]]["message"]
    refusal = [entry for entry in entries if entry["logger"] == "django.request"]
    assert [(entry["status"], entry["path"], entry["request_id"]) for entry in refusal] == [
        (401, "/api/v1/projects/", refused.headers["X-Request-ID"])
    ]
    assert not any("traceback" in entry for entry in entries)
