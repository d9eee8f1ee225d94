"""The KB over the API: candidates, entities, imports and job status; exact bodies, roles, 404s."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from annotator.jobs.models import Job
from annotator.kb.models import Alias, KBEntity, KnowledgeBase
from annotator.projects.demo import load_demo
from annotator.projects.models import Role
from annotator.projects.services import add_member
from tests.factories import KBEntityFactory, KnowledgeBaseFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_candidates_for_a_mention_with_a_typo_type_and_context(client, db):
    project = load_demo().project
    reader = UserFactory(username="reader")
    add_member(project=project, user=reader, role=Role.ANNOTATOR)
    client.force_login(reader)
    url = reverse("api:kb-candidates", args=[project.pk])
    body = client.get(
        url, {"mention": "Lukashenka", "type": "PERSON", "context": "the president of Belarus", "limit": 1}
    ).json()
    lukashenko = KBEntity.objects.get(kb_id="alexander-lukashenko")
    assert body == {
        "mention": "Lukashenka",
        "type": "PERSON",
        "candidates": [
            {
                "entity_id": lukashenko.pk, "knowledge_base_id": lukashenko.knowledge_base_id,
                "kb_id": "alexander-lukashenko", "name": "Alexander Lukashenko",
                "description": "President of Belarus since 1994.", "type": "PERSON", "prior": 0.95,
                "matched_alias": "Lukashenko", "name_similarity": 0.9, "type_fit": 1.0, "context_overlap": 0.6667,
                "score": round(0.85 * (0.6 * 0.9 + 0.25 * 0.95 + 0.15) + 0.15 * 0.6667, 4),
            }
        ],
    }  # fmt: skip
    # The brief's spelling without the trailing slash reaches the same view (no redirect: see core.slashes).
    assert (
        client.get(url.rstrip("/"), {"mention": "KGB"}).json() == client.get(url, {"mention": "KGB"}).json()
    )
    assert [c["kb_id"] for c in client.get(url, {"mention": "KGB"}).json()["candidates"]] == [
        "kgb-belarus",
        "kgb-ussr",
    ]
    assert client.get(url).json()["candidates"] == []
    assert client.get(url, {"mention": "KGB", "limit": 0}).json() == {
        "error": {
            "code": "invalid",
            "message": "The request is not valid; see the fields.",
            "fields": {"limit": ["Ensure this value is greater than or equal to 1."]},
        }
    }


def test_members_list_and_read_entities_with_their_aliases(client, news):
    Alias.objects.create(entity=news.minsk, text="Minsk", language="en")
    KBEntityFactory(knowledge_base=news.kb, kb_id="gone", merged_into=news.minsk)
    client.force_login(news.annotator)
    listing = client.get(reverse("api:kb-entity-list", args=[news.project.pk])).json()
    assert [e["kb_id"] for e in listing["results"]] == ["sergey-naryshkin", "minsk"]
    only = client.get(reverse("api:kb-entity-list", args=[news.project.pk]), {"kb_id": "minsk"}).json()
    assert only["results"] == [
        {
            "id": news.minsk.pk, "knowledge_base": news.kb.pk, "kb_id": "minsk", "name": "Minsk", "description": "",
            "type": "GPE", "prior": 0.0, "instance_of": [], "aliases": [{"text": "Minsk", "language": "en"}],
            "merged_into": None,
        }
    ]  # fmt: skip
    detail = client.get(reverse("api:kb-entity-detail", args=[news.project.pk, news.minsk.pk])).json()
    assert detail == only["results"][0]


def test_any_member_creates_an_entity_in_the_projects_kb(client, news):
    client.force_login(news.annotator)
    url = reverse("api:kb-entity-list", args=[news.project.pk])
    response = client.post(
        url,
        {"name": "Ivan Tertel", "type": "PERSON", "aliases": ["Tertel"], "prior": 0.6},
        content_type="application/json",
    )
    assert response.status_code == 201
    entity = KBEntity.objects.get(kb_id="ivan-tertel")
    assert response.json() == {
        "id": entity.pk, "knowledge_base": news.kb.pk, "kb_id": "ivan-tertel", "name": "Ivan Tertel",
        "description": "", "type": "PERSON", "prior": 0.6, "instance_of": [],
        "aliases": [{"text": "Ivan Tertel", "language": ""}, {"text": "Tertel", "language": ""}], "merged_into": None,
    }  # fmt: skip
    taken = client.post(url, {"name": "Minsk", "kb_id": "minsk"}, content_type="application/json")
    assert (taken.status_code, taken.json()["error"]["fields"]) == (
        400,
        {"kb_id": ["News KB already has an entity with the id 'minsk'."]},
    )
    KnowledgeBase.objects.create(project=news.project, name="Second")
    several = client.post(url, {"name": "X"}, content_type="application/json")
    assert several.json()["error"]["fields"] == {
        "knowledge_base": ["This project has several knowledge bases; say which one the entity goes in."]
    }
    foreign = KnowledgeBaseFactory()
    elsewhere = client.post(url, {"name": "X", "knowledge_base": foreign.pk}, content_type="application/json")
    assert elsewhere.status_code == 404
    assert not KBEntity.objects.filter(knowledge_base=foreign).exists()


def test_managers_start_an_import_and_poll_its_job(
    client, news, tmp_path, settings, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = tmp_path
    client.force_login(news.manager)
    url = reverse("api:kb-import-list", args=[news.project.pk])
    upload = SimpleUploadedFile(
        "kb.jsonl", b'{"id": "tertel", "name": "Ivan Tertel", "aliases": ["Tertel"]}\n'
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"file": upload, "knowledge_base": news.kb.pk, "format": "jsonl"})
    job = Job.objects.get()
    assert response.status_code == 202
    assert response["Location"] == f"/api/v1/jobs/{job.pk}/"
    polled = client.get(response["Location"]).json()
    shown = ("id", "kind", "status", "project", "params", "percent", "message", "errors")
    assert {key: polled[key] for key in shown} == {
        "id": job.pk, "kind": "import_kb", "status": "succeeded", "project": news.project.pk,
        "params": {"knowledge_base_id": news.kb.pk, "file_label": "kb.jsonl", "format": "jsonl", "languages": ["en"],
                   "type_map": None, "new_knowledge_base": False},
        "percent": 100, "message": "Imported 1 entities into News KB: 1 new, 0 updated, 0 unchanged.", "errors": [],
    }  # fmt: skip
    assert polled["result"]["created"] == 1
    assert [j["id"] for j in client.get(url).json()["results"]] == [job.pk]


def test_a_bad_file_fails_its_job_with_the_report(
    client, news, tmp_path, settings, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = tmp_path
    client.force_login(news.manager)
    url = reverse("api:kb-import-list", args=[news.project.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url, {"file": SimpleUploadedFile("kb.csv", b"id,name\nx,\n"), "knowledge_base_name": "Fresh"}
        )
    body = client.get(response["Location"]).json()
    assert (body["status"], body["message"]) == ("failed", "1 error in kb.csv; nothing was imported.")
    assert body["errors"] == [
        {"file": "kb.csv", "line": 2, "field": "name", "message": "The name is missing."}
    ]
    assert not KnowledgeBase.objects.filter(name="Fresh").exists()  # made for the import, removed with it


def test_imports_need_a_manager_and_a_kb_of_the_project(client, news, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path
    url = reverse("api:kb-import-list", args=[news.project.pk])
    client.force_login(news.annotator)
    refused = client.post(
        url, {"file": SimpleUploadedFile("kb.csv", b"id,name\n"), "knowledge_base": news.kb.pk}
    )
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "permission_denied")
    client.force_login(news.manager)
    neither = client.post(url, {"file": SimpleUploadedFile("kb.csv", b"id,name\n")})
    assert neither.json()["error"]["fields"] == {
        "knowledge_base": ["Give knowledge_base or knowledge_base_name."]
    }
    foreign = client.post(
        url, {"file": SimpleUploadedFile("kb.csv", b"id,name\n"), "knowledge_base": KnowledgeBaseFactory().pk}
    )
    assert foreign.status_code == 404
    assert Job.objects.count() == 0


def test_jobs_of_other_projects_do_not_exist(client, news, outsider):
    job = Job.objects.create(
        project=news.project, kind="import_kb", params={"file_label": "kb.csv", "path": "/srv/x"}
    )
    client.force_login(outsider)
    assert client.get(reverse("api:job-detail", args=[job.pk])).status_code == 404
    client.force_login(news.annotator)
    assert client.get(reverse("api:job-detail", args=[job.pk])).json()["params"] == {"file_label": "kb.csv"}


def test_the_schema_documents_the_kb_endpoints_and_their_errors(client, db):
    schema = client.get(reverse("api:schema"), {"format": "json"}).json()
    candidates = schema["paths"]["/api/v1/projects/{project_id}/kb/candidates/"]["get"]
    assert [p["name"] for p in candidates["parameters"]] == [
        "context",
        "limit",
        "mention",
        "project_id",
        "type",
    ]
    assert set(candidates["responses"]) == {
        "200",
        "400",
        "401",
        "404",
        "429",
    }  # 401 and 429: every call, see annotator.api.schema
    imports = schema["paths"]["/api/v1/projects/{project_id}/kb/imports/"]["post"]
    assert list(imports["requestBody"]["content"]) == ["multipart/form-data"]
    assert set(imports["responses"]) == {"202", "400", "401", "403", "404", "409", "413", "429"}
    assert set(schema["paths"]["/api/v1/jobs/{job_id}/"]["get"]["responses"]) == {"200", "401", "404", "429"}
    assert (
        schema["components"]["schemas"]["Error"]["properties"]["error"]["$ref"]
        == "#/components/schemas/ErrorBody"
    )
