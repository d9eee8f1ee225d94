"""The upload page, an import's live page (full and htmx partial), the article page's flags, and the API."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from annotator.articles.models import Article
from annotator.interchange.formats.sources import BytesSource
from annotator.interchange.options import ImportOptions
from annotator.interchange.services import import_articles
from annotator.jobs.models import Job, JobKind, JobStatus
from tests.integration.test_pages import HOSTILE

pytestmark = pytest.mark.django_db

# What a file name can carry to a page: markup and template syntax (Django's upload parser already drops
# control and format characters such as U+202E and ZWJ from file names; report messages carry those).
HOSTILE_NAME = "<img src=x onerror=alert(1)> {{ 7|add:1 }} gnp.exe \U0001f469\U0001f469\U0001f467.jsonl"


def upload(data, name="news.jsonl"):
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def form(data, name="news.jsonl", **fields):
    return {"file": upload(data, name), "format": "jsonl", "set_kind": "imported", "set_name": "imported",
            "on_duplicate": "skip", **fields}  # fmt: skip


def imports_url(news):
    return reverse("interchange:imports", args=[news.project.pk])


def assert_literal(html):
    assert "<img src=x" not in html
    assert (
        "&lt;img src=x onerror=alert(1)&gt; {{ 7|add:1 }} gnp.exe \U0001f469\U0001f469\U0001f467.jsonl"
        in html
    )


def test_managers_get_the_upload_form_and_other_members_only_the_list(client, news):
    client.force_login(news.manager)
    html = client.get(imports_url(news)).content.decode()
    assert 'enctype="multipart/form-data"' in html
    assert "No imports yet." in html
    client.force_login(news.annotator)
    html = client.get(imports_url(news)).content.decode()
    assert "multipart/form-data" not in html
    assert client.post(imports_url(news), form(b'{"text": "x"}\n')).status_code == 403
    assert not Job.objects.exists()


def test_an_upload_becomes_a_job_that_runs_and_the_page_shows_its_result(
    client, news, django_capture_on_commit_callbacks, settings, tmp_path
):
    settings.DATA_DIR = tmp_path
    client.force_login(news.manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            imports_url(news), form(b'{"external_id": "u1", "text": "Uploaded."}\n', HOSTILE_NAME)
        )
    job = Job.objects.get(kind=JobKind.IMPORT_ARTICLES)
    assert response.status_code == 302
    assert response["Location"] == reverse("interchange:detail", args=[news.project.pk, job.pk])
    job.refresh_from_db()
    assert (job.status, job.created_by, job.params["file_name"], job.params["delete_after"]) == (
        JobStatus.SUCCEEDED, news.manager, HOSTILE_NAME, True,
    )  # fmt: skip
    assert Article.objects.get(external_id="u1").text == "Uploaded."
    assert list((tmp_path / "imports").iterdir()) == []  # the upload is gone once imported
    html = client.get(response["Location"]).content.decode()
    assert_literal(html)
    assert "Imported 1 new article." in html
    assert "hx-trigger" not in html  # finished: nothing left to poll
    assert_literal(client.get(imports_url(news)).content.decode())


def test_the_error_report_is_shown_escaped(
    client, news, django_capture_on_commit_callbacks, settings, tmp_path
):
    settings.DATA_DIR = tmp_path
    client.force_login(news.manager)
    label = '<script>alert("x")</script>\u202e\U0001f469\u200d\U0001f467'
    data = json.dumps({"text": "Minsk", "entities": [{"start": 0, "end": 5, "label": label}]}).encode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(imports_url(news), form(data + b"\n[1]\n"))
    html = client.get(response["Location"]).content.decode()
    assert "<script>alert" not in html
    # Messages quote labels with repr(): invisible characters (RTL override, ZWJ) show as escapes.
    assert (
        "Unknown entity type &#x27;&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"
        "\\u202e\U0001f469\\u200d\U0001f467&#x27;" in html
    )
    assert "Each line must be a JSON object, not a list." in html
    assert "2 problems in news.jsonl; nothing was imported." in html
    assert len(list((tmp_path / "imports").iterdir())) == 1  # kept: a retry needs it


def test_the_htmx_partial_polls_while_the_job_runs_and_stops_when_it_ends(client, news):
    job = Job.objects.create(project=news.project, kind=JobKind.IMPORT_ARTICLES, status=JobStatus.RUNNING,
                             params={"format": "jsonl", "file_name": "a.jsonl"}, progress_done=25, progress_total=100,
                             message="Read 2,000 articles from a.jsonl.")  # fmt: skip
    client.force_login(news.annotator)
    url = reverse("interchange:detail", args=[news.project.pk, job.pk])
    partial = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert partial.startswith('\n<section id="job-status"')
    assert f'hx-get="{url}" hx-trigger="every 1s" hx-swap="outerHTML"' in partial
    assert '<progress value="25" max="100"' in partial
    assert "Read 2,000 articles from a.jsonl." in partial
    assert "<html" not in partial
    Job.objects.filter(pk=job.pk).update(status=JobStatus.SUCCEEDED, progress_done=100, result={"created": 3})
    partial = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "hx-trigger" not in partial
    assert "New articles <strong>3</strong>" in partial


def test_a_job_nobody_picks_up_says_that_no_worker_may_be_running(client, news):
    job = Job.objects.create(project=news.project, kind=JobKind.IMPORT_ARTICLES, params={"format": "jsonl"})
    Job.objects.filter(pk=job.pk).update(created_at=timezone.now() - timezone.timedelta(minutes=1))
    client.force_login(news.manager)
    html = client.get(reverse("interchange:detail", args=[news.project.pk, job.pk])).content.decode()
    assert "No task worker has picked this import up yet." in html


def test_a_dry_run_can_be_imported_for_real_from_its_page(
    client, news, django_capture_on_commit_callbacks, settings, tmp_path
):
    settings.DATA_DIR = tmp_path
    client.force_login(news.manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            imports_url(news), form(b'{"external_id": "d1", "text": "Dry."}\n', dry_run="on")
        )
    dry = Job.objects.get()
    html = client.get(response["Location"]).content.decode()
    assert "Would import 1 new article; nothing was kept (dry run)." in html
    assert 'name="again"' in html
    assert not Article.objects.filter(external_id="d1").exists()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(imports_url(news), {"again": dry.pk})
    real = Job.objects.exclude(pk=dry.pk).get(kind=JobKind.IMPORT_ARTICLES)
    assert (real.status, real.params["dry_run"]) == (JobStatus.SUCCEEDED, False)
    assert Article.objects.filter(external_id="d1").exists()


def test_form_errors_and_uploads_past_the_limit_are_refused_without_a_job(client, news, settings):
    client.force_login(news.manager)
    response = client.post(imports_url(news), form(b"x", set_name=" "))
    assert response.status_code == 400
    assert "Name the imported set (up to 100 characters)." in response.content.decode()
    response = client.post(imports_url(news), form(b"text\nx\n", format="csv", csv_delimiter=";;"))
    assert "Ensure this value has at most 1 character" in response.content.decode()
    settings.ANNOTATOR_IMPORT_MAX_UPLOAD_BYTES = 10
    response = client.post(imports_url(news), form(b'{"text": "more than ten bytes"}\n'))
    assert response.status_code == 400
    assert "The file is larger than 10 bytes, the upload limit." in response.content.decode()
    response = client.post(
        imports_url(news), form(b"x" * (2**20 + 100))
    )  # refused by its Content-Length alone
    assert "The file is larger than 10 bytes, the upload limit." in response.content.decode()
    assert not Job.objects.exists()


def test_the_imports_page_makes_the_same_queries_for_one_import_or_many(client, news):
    def make_job():
        Job.objects.create(project=news.project, kind=JobKind.IMPORT_ARTICLES, created_by=news.manager,
                           params={"format": "jsonl", "file_name": "a.jsonl"})  # fmt: skip

    client.force_login(news.manager)
    make_job()
    client.get(imports_url(news))
    with CaptureQueriesContext(connection) as one:
        client.get(imports_url(news))
    for _ in range(5):
        make_job()
    with CaptureQueriesContext(connection) as six:
        assert client.get(imports_url(news)).content.decode().count('class="job-status') == 6
    assert len(six) == len(one)


def test_the_article_page_lists_flags_a_revision_left_and_its_revision(client, news):
    from annotator.annotations import services

    services.create_span(annotation_set=news.annotation_set, start=34, end=42, entity_type=news.date,
                         by=news.annotator, expected_version=1)  # fmt: skip
    edited = f"Sergey Naryshkin visited Minsk. {HOSTILE}"
    data = json.dumps({"external_id": "news-1", "text": edited}).encode()
    import_articles(project=news.project, source=BytesSource("a.jsonl", data),
                    options=ImportOptions(format="jsonl", on_duplicate="update"), by=news.manager)  # fmt: skip
    client.force_login(news.annotator)
    html = client.get(reverse("articles:detail", args=[news.article.pk])).content.decode()
    assert "revision 2" in html
    assert "To review after a re-import" in html
    # April 15's words were replaced by hostile text: the span covers them now, flagged, shown as text.
    # Isolated (<bdi>), the right-to-left override in the new text cannot reverse what follows it.
    assert (
        '<strong>Text changed</strong> · <bdi>DATE</bdi> “<bdi>April 15</bdi>” <small class="muted">[34, 42)</small>'
        in html
    )
    assert (
        "→ “<bdi>{{ 7|add:1 }} {% now &quot;Y&quot; %} \u202egnp.exe \U0001f469\u200d\U0001f469\u200d\U0001f467"
        in html
    )
    assert '&lt;/textarea&gt;</bdi>” <small class="muted">[88, 168)</small>' in html
    assert "· alice</small>" in html


# The API


def api_url(news):
    return reverse("api:project-imports", args=[news.project.pk])


def test_the_api_queues_an_import_and_returns_the_job_to_poll(
    client, news, django_capture_on_commit_callbacks, settings, tmp_path
):
    settings.DATA_DIR = tmp_path
    client.force_login(news.manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(api_url(news), {"file": upload(b'{"external_id": "api1", "text": "Via the API."}\n'),
                                               "format": "jsonl", "set_name": "api"})  # fmt: skip
    assert response.status_code == 202
    body = response.json()
    job = Job.objects.get(kind=JobKind.IMPORT_ARTICLES)
    assert response["Location"] == body["url"] == f"http://testserver/api/v1/jobs/{job.pk}/"
    assert (body["kind"], body["status"], body["project"], body["params"]["set_name"]) == (
        "import_articles", "queued", news.project.pk, "api",
    )  # fmt: skip
    polled = client.get(body["url"]).json()
    assert (polled["status"], polled["percent"], polled["result"]["created"], polled["errors"]) == (
        "succeeded",
        100,
        1,
        [],
    )
    listed = client.get(api_url(news)).json()["results"]
    assert [item["id"] for item in listed] == [job.pk]


def test_the_api_reports_bad_requests_in_the_one_error_shape(client, news, settings):
    client.force_login(news.manager)
    response = client.post(api_url(news), {"file": upload(b"x"), "format": "xml"})
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"format": ['"xml" is not a valid choice.']}
    response = client.post(
        api_url(news), {"file": upload(b"x"), "format": "csv", "format_options": '{"columns": 1}'}
    )
    assert response.json()["error"]["fields"] == {
        "format": [
            "The CSV (column mapping) format has no option 'columns' "
            "(its options: delimiter, external_id, metadata, text, title)."
        ]
    }
    settings.ANNOTATOR_IMPORT_MAX_UPLOAD_BYTES = 5
    response = client.post(api_url(news), {"file": upload(b"more than five"), "format": "jsonl"})
    assert response.status_code == 413
    assert response.json() == {
        "error": {
            "code": "too_large",
            "message": "The file is larger than 5 bytes, the upload limit.",
            "fields": {},
        }
    }
    assert not Job.objects.exists()


def test_only_managers_import_through_the_api_and_non_members_see_nothing(client, news, outsider):
    client.force_login(news.annotator)
    response = client.post(api_url(news), {"file": upload(b"x"), "format": "jsonl"})
    assert (response.status_code, response.json()["error"]["message"]) == (
        403,
        "Only the project's managers import articles.",
    )
    job = Job.objects.create(project=news.project, kind=JobKind.IMPORT_ARTICLES, params={})
    client.force_login(outsider)
    assert client.post(api_url(news), {"file": upload(b"x"), "format": "jsonl"}).status_code == 404
    assert client.get(reverse("api:job-detail", args=[job.pk])).status_code == 404
    assert not Job.objects.exclude(pk=job.pk).exists()


def test_staff_mark_flags_reviewed_in_the_admin_and_the_article_page_drops_them(
    client, news, django_user_model
):
    from annotator.annotations import services
    from annotator.interchange.models import ReanchorFlag

    services.create_span(annotation_set=news.annotation_set, start=34, end=42, entity_type=news.date,
                         by=news.annotator, expected_version=1)  # fmt: skip
    data = json.dumps({"external_id": "news-1", "text": "Sergey Naryshkin visited Minsk."}).encode()
    import_articles(project=news.project, source=BytesSource("a.jsonl", data),
                    options=ImportOptions(format="jsonl", on_duplicate="update"), by=news.manager)  # fmt: skip
    flag = ReanchorFlag.objects.get()
    admin = django_user_model.objects.create_superuser("root", password="x")
    client.force_login(admin)
    response = client.post(
        reverse("admin:interchange_reanchorflag_changelist"),
        {"action": "mark_reviewed", "_selected_action": [flag.pk]},
    )
    assert response.status_code == 302
    flag.refresh_from_db()
    assert (flag.resolved_by, flag.resolved_at is not None) == (admin, True)
    client.force_login(news.annotator)
    html = client.get(reverse("articles:detail", args=[news.article.pk])).content.decode()
    assert "To review after a re-import" not in html
