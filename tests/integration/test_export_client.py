"""The README's client example, run against a live server with `requests`: a token pulls curated gold as
streamed JSONL, has a job write a DocBin and fetches it, and a manager's token pushes pre-annotations."""

import json

import orjson
import pytest
import requests

from annotator.annotations.models import AnnotationSet, SetKind, SetStatus
from annotator.api.tokens import create_token
from tests.integration.test_export_service import with_gold


@pytest.fixture
def gold(transactional_db, news, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    return with_gold(news)


def test_the_readme_client_flow(live_server, gold):
    base, project = f"{live_server.url}/api/v1", gold.project.pk
    AnnotationSet.objects.filter(article__external_id="a2", kind=SetKind.GOLD).update(
        status=SetStatus.CURATED
    )
    api = requests.Session()
    api.headers["Authorization"] = "Bearer " + create_token(user=gold.manager, name="t", scope="write")[1]
    reader = api.post(f"{base}/tokens/", json={"name": "trainer", "scope": "read", "project": project})
    assert reader.status_code == 201
    api.headers["Authorization"] = "Bearer " + reader.json()["token"]

    with api.get(f"{base}/projects/{project}/export", stream=True,
                 params={"format": "jsonl", "set": "gold", "set_status": "curated"}) as response:  # fmt: skip
        response.raise_for_status()
        articles = [json.loads(line) for line in response.iter_lines()]
    assert [
        (a["external_id"], [(e["start"], e["end"], e["label"]) for e in a["entities"]]) for a in articles
    ] == [("a2", [(0, 2, "GPE"), (3, 10, "GPE")])]

    job = api.post(f"{base}/projects/{project}/exports/", json={"format": "spacy"}).json()
    job = api.get(job["url"]).json()  # the test settings run jobs as soon as they are queued
    assert (job["status"], job["result"]["articles"]) == ("succeeded", 3)
    docbin = api.get(f"{base}/exports/{job['id']}/file")
    assert docbin.headers["Content-Type"] == "application/octet-stream"
    assert len(docbin.content) == job["result"]["bytes"]

    api.headers["Authorization"] = "Bearer " + create_token(user=gold.manager, name="w", scope="write")[1]
    predictions = orjson.dumps({"external_id": "a3", "text": "Nothing to see here.",
                                "entities": [{"start": 0, "end": 7, "label": "ORG"}]})  # fmt: skip
    job = api.post(f"{base}/projects/{project}/imports/", files={"file": ("p.jsonl", predictions)},
                   data={"format": "jsonl", "set_name": "model-v3", "on_duplicate": "update"}).json()  # fmt: skip
    job = api.get(job["url"]).json()
    assert (job["status"], job["errors"]) == ("succeeded", [])
    imported = AnnotationSet.objects.get(article__external_id="a3", kind=SetKind.IMPORTED, name="model-v3")
    assert [(s.start, s.end, s.surface) for s in imported.spans.all()] == [(0, 7, "Nothing")]

    annotation_set = api.post(f"{base}/articles/{gold.article.pk}/sets/")
    created = api.post(f"{base}/sets/{annotation_set.json()['id']}/spans/",
                       headers={"If-Match": annotation_set.headers["ETag"]},
                       json={"start": 0, "end": 16, "type": "PERSON", "text": "Sergey Naryshkin"})  # fmt: skip
    assert created.status_code == 201
