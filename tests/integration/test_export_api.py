"""The export API: streamed downloads with the right headers, roles and token scopes, ids of other
projects, the job for what cannot be built in one request, and the job's file."""

import io
import zipfile

import orjson
import pytest
from django.urls import reverse

from annotator.api.tokens import create_token
from annotator.interchange.exports import ExportQuery, export_bytes
from annotator.jobs.models import Job, JobKind, JobStatus
from annotator.jobs.services import run_job
from annotator.projects.models import Role
from tests.factories import ArticleFactory, MembershipFactory, ProjectFactory, UserFactory
from tests.integration.test_export_service import with_gold

pytestmark = pytest.mark.django_db


@pytest.fixture
def gold(news):
    return with_gold(news)


def bearer(user, **token):
    return {"HTTP_AUTHORIZATION": f"Bearer {create_token(user=user, name='export', **token)[1]}"}


def url(project, **params):
    return reverse("api:project-export", args=[project.pk]), params


def body(response):
    return b"".join(response.streaming_content)


def test_a_manager_streams_gold_as_jsonl_with_its_type_and_file_name(client, gold, today):
    client.force_login(gold.manager)
    response = client.get(*url(gold.project), HTTP_ACCEPT="application/x-ndjson")
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "application/x-ndjson"
    assert response["Content-Disposition"] == f'attachment; filename="news-gold-{today:%Y-%m-%d}.jsonl"'
    data = body(response)
    assert data == b"".join(export_bytes(gold.project, ExportQuery()))
    assert [orjson.loads(line)["external_id"] for line in data.splitlines()] == ["a1", "a2", "a3"]


@pytest.mark.parametrize(
    ("fmt", "content_type", "extension"),
    [
        ("spacy", "application/octet-stream", "spacy"),
        ("conll", "text/plain; charset=utf-8", "conll"),
        ("brat", "application/zip", "zip"),
        ("doccano", "application/x-ndjson", "jsonl"),
        ("labelstudio", "application/json", "json"),
        ("csv", "text/csv; charset=utf-8", "csv"),
    ],
)
def test_every_format_downloads_with_its_content_type(client, gold, today, fmt, content_type, extension):
    client.force_login(gold.manager)
    response = client.get(*url(gold.project, format=fmt))
    assert (response.status_code, response["Content-Type"]) == (200, content_type)
    assert response["Content-Disposition"].endswith(f'-{today:%Y-%m-%d}.{extension}"')
    expected = b"".join(export_bytes(gold.project, ExportQuery(format=fmt)))
    if fmt == "brat":  # zip members carry the time they were written: compare what they hold
        response_data, expected = unzipped(body(response)), unzipped(expected)
        assert sorted(response_data) == ["a1.ann", "a1.txt", "a2.ann", "a2.txt", "a3.ann", "a3.txt"]
    else:
        response_data = body(response)
    assert response_data == expected


def unzipped(data):
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_filters_travel_from_the_query_string(client, gold):
    client.force_login(gold.manager)
    a2 = gold.project.articles.get(external_id="a2")
    a3 = gold.project.articles.get(external_id="a3")
    response = client.get(*url(gold.project, ids=[a2.pk, a3.pk], set_status=["in_progress"]))
    assert [orjson.loads(line)["external_id"] for line in body(response).splitlines()] == ["a2", "a3"]
    response = client.get(*url(gold.project, set="annotator", annotator="alice"))
    (line,) = [orjson.loads(line) for line in body(response).splitlines()]
    assert (line["external_id"], line["entities"], line["provenance"]["annotator"]) == ("news-1", [], "alice")


def test_curators_and_read_tokens_export_annotators_and_outsiders_do_not(client, gold, outsider):
    curator = UserFactory(username="carl")
    MembershipFactory(project=gold.project, user=curator, role=Role.CURATOR)
    path, _ = url(gold.project)
    assert client.get(path, **bearer(curator, scope="read", project=gold.project)).status_code == 200
    assert client.get(path, **bearer(gold.manager, scope="read")).status_code == 200
    refused = client.get(path, **bearer(gold.annotator, scope="write"))
    assert refused.status_code == 403
    assert refused.json()["error"]["message"] == "Only the project's curators and managers export."
    assert client.get(path, **bearer(outsider)).status_code == 404
    other = ProjectFactory()
    MembershipFactory(project=other, user=gold.manager, role=Role.MANAGER)
    assert client.get(path, **bearer(gold.manager, project=other)).status_code == 404
    assert client.get(path).status_code in (401, 403)


def test_ids_of_another_project_are_404_and_bad_parameters_400(client, gold, outsider):
    client.force_login(gold.manager)
    theirs = ArticleFactory(project=outsider.memberships.get().project)
    response = client.get(*url(gold.project, ids=[theirs.pk]))
    assert response.status_code == 404
    assert response.json()["error"]["message"] == f"No article with id {theirs.pk} in this project."
    response = client.get(*url(gold.project, format="xml"))
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"format": ['"xml" is not a valid choice.']}
    response = client.get(*url(gold.project, set="annotator", annotator="mallory"))
    assert response.json()["error"]["fields"] == {
        "annotator": ["No member of this project is called 'mallory'."]
    }
    response = client.get(*url(gold.project, set="annotator"))
    assert response.json()["error"]["fields"] == {
        "annotator": ["Name the annotator when (and only when) exporting one annotator's sets."]
    }


def test_a_docbin_too_large_for_one_request_is_a_409_that_points_at_the_job(client, gold, settings, tmp_path):
    settings.ANNOTATOR_EXPORT_INLINE_MAX_ARTICLES = 2
    settings.DATA_DIR = tmp_path
    client.force_login(gold.manager)
    response = client.get(*url(gold.project, format="spacy"))
    assert response.status_code == 409
    assert response.json()["error"]["message"] == (
        "This spaCy DocBin (.spacy) export is too large to build in one request: POST the same parameters to "
        f"/api/v1/projects/{gold.project.pk}/exports/ to have a job write it."
    )
    assert client.get(*url(gold.project, format="jsonl")).status_code == 200  # streamed formats stream


def test_a_read_token_starts_an_export_job_and_fetches_its_file(client, gold, settings, tmp_path, today):
    settings.DATA_DIR = tmp_path
    headers = bearer(gold.manager, scope="read", project=gold.project)
    response = client.post(
        reverse("api:project-exports", args=[gold.project.pk]), {"format": "spacy", "set_status": ["in_progress"]},
        content_type="application/json", **headers,
    )  # fmt: skip
    assert response.status_code == 202
    job = Job.objects.get(pk=response.json()["id"])
    assert (job.kind, job.params["format"], job.params["set_status"]) == (
        JobKind.EXPORT,
        "spacy",
        ["in_progress"],
    )
    file_url = reverse("api:export-file", args=[job.pk])
    not_ready = client.get(file_url, **headers)
    assert (not_ready.status_code, not_ready.json()["error"]["message"]) == (
        409,
        "The export is queued, not ready.",
    )
    assert run_job(job).status == JobStatus.SUCCEEDED
    response = client.get(file_url, **headers)
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="news-gold-{today:%Y-%m-%d}.spacy"'
    assert body(response) == b"".join(export_bytes(gold.project, ExportQuery(format="spacy")))
    assert client.get(file_url, **bearer(gold.annotator)).status_code == 403


def test_another_projects_export_file_is_404(client, gold, outsider, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    job = Job.objects.create(project=gold.project, kind=JobKind.EXPORT, params={"format": "jsonl"})
    client.force_login(outsider)
    assert client.get(reverse("api:export-file", args=[job.pk])).status_code == 404
    import_job = Job.objects.create(project=gold.project, kind=JobKind.IMPORT_ARTICLES, params={})
    client.force_login(gold.manager)
    assert client.get(reverse("api:export-file", args=[import_job.pk])).status_code == 404
