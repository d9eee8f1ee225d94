"""The suggestions REST API: article suggestions, raw text, pre-annotation and training jobs, versions,
quality; roles, 404 for other projects' ids in URLs and bodies, query counts."""

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from annotator.jobs.models import Job, JobStatus
from annotator.kb.services import EntityRecord, upsert_entity
from annotator.suggestions import gazetteer
from annotator.suggestions.generate import ensure_active_suggester, ensure_article_suggestions
from annotator.suggestions.models import Decision, SuggesterVersion, Suggestion, SuggestionKind, SuggestionRun
from annotator.suggestions.services import accept_suggestion, reject_suggestion
from tests.factories import ArticleFactory, ProjectFactory, SuggesterVersionFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("named_news_kb")]


def suggestions_url(article):
    return reverse("api:article-suggestions", args=[article.pk])


def test_an_articles_suggestions_are_computed_on_the_first_request_then_read(client, news):
    client.force_login(news.annotator)
    body = client.get(suggestions_url(news.article)).json()
    version = SuggesterVersion.objects.get(project=news.project, is_active=True)
    results = body["results"]
    assert [
        (r["kind"], r["start"], r["end"], r["text"], r["entity_type"])
        for r in results
        if r["kind"] == "entity"
    ] == [
        ("entity", 0, 16, "Sergey Naryshkin", "PERSON"),
        ("entity", 25, 30, "Minsk", "GPE"),
        ("entity", 34, 42, "April 15", "DATE"),
    ]
    link = next(r for r in results if r["kind"] == "link" and r["start"] == 0)
    assert link["kb_entity"] == {
        "id": news.naryshkin.pk,
        "kb_id": "sergey-naryshkin",
        "name": "Sergey Naryshkin",
    }
    assert (link["rank"], link["score"], link["source"], link["suggester_version"]) == (
        0,
        0.75,
        "kb-candidates",
        version.pk,
    )
    relation = next(r for r in results if r["kind"] == "relation")
    assert {
        k: relation[k]
        for k in (
            "text",
            "tail_start",
            "tail_end",
            "tail_text",
            "tail_entity_type",
            "relation_type",
            "source",
        )
    } == {
        "text": "Sergey Naryshkin",
        "tail_start": 25,
        "tail_end": 30,
        "tail_text": "Minsk",
        "tail_entity_type": "GPE",
        "relation_type": "visited",
        "source": "rule:visited",
    }
    assert all(r["my_decision"] is None for r in results)
    assert SuggestionRun.objects.count() == 1
    ids = sorted(r["id"] for r in results)
    assert (
        sorted(client.get(suggestions_url(news.article)).json()["results"][i]["id"] for i in range(6)) == ids
    )


def test_my_decision_and_the_kind_filter(client, news):
    ensure_article_suggestions(article=news.article)
    entity = Suggestion.objects.get(kind=SuggestionKind.ENTITY, start=0)
    accept_suggestion(
        suggestion=entity, annotation_set=news.annotation_set, by=news.annotator, expected_version=1
    )
    client.force_login(news.annotator)
    body = client.get(suggestions_url(news.article), {"kind": "entity"}).json()
    assert [(r["start"], r["my_decision"]) for r in body["results"]] == [
        (0, "accepted"),
        (25, None),
        (34, None),
    ]
    client.force_login(news.manager)  # someone else's decision is not theirs
    body = client.get(suggestions_url(news.article), {"kind": "entity"}).json()
    assert [r["my_decision"] for r in body["results"]] == [None, None, None]
    response = client.get(suggestions_url(news.article), {"kind": "span"})
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"kind": ["Choose one of entity, relation, link."]}


def test_the_suggestions_endpoint_makes_as_many_queries_however_many_suggestions(client, news):
    many = ArticleFactory(
        project=news.project, text=" ".join(["Sergey Naryshkin visited Minsk on April 15."] * 40)
    )
    client.force_login(news.annotator)
    client.get(suggestions_url(news.article))
    client.get(suggestions_url(many))
    decided = Suggestion.objects.filter(article=news.article, kind=SuggestionKind.ENTITY).first()
    reject_suggestion(
        suggestion=decided, annotation_set=news.annotation_set, by=news.annotator, expected_version=1
    )
    for article, count in ((news.article, 6), (many, 40 * 6)):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(suggestions_url(article), {"page_size": 1000})
        assert response.status_code == 200
        assert len(response.json()["results"]) == count
        # session, user, article, active suggester with its run's fingerprint, two gazetteer aggregates,
        # the page
        assert len(queries) == 7, [q["sql"] for q in queries]


def test_the_raw_text_endpoint_suggests_and_writes_nothing(client, news):
    client.force_login(news.annotator)
    text = "Sergey Naryshkin met officials in Minsk 🇧🇾 on April 15."
    with CaptureQueriesContext(connection) as queries:
        response = client.post(
            reverse("api:suggest"),
            {"project": news.project.pk, "text": text},
            content_type="application/json",
        )
    assert response.status_code == 200
    assert [q["sql"] for q in queries if q["sql"].split()[0] in ("INSERT", "UPDATE", "DELETE")] == []
    body = response.json()
    assert body["suggester"] == {"id": None, "name": "rules", "version": "4", "kind": "rules"}
    assert body["entities"] == [
        {
            "start": 0,
            "end": 16,
            "text": "Sergey Naryshkin",
            "entity_type": "PERSON",
            "score": 0.9,
            "source": "kb-ruler",
        },
        {"start": 34, "end": 39, "text": "Minsk", "entity_type": "GPE", "score": 0.9, "source": "kb-ruler"},
        {
            "start": 46,
            "end": 54,
            "text": "April 15",
            "entity_type": "DATE",
            "score": 0.75,
            "source": "rule:date",
        },
    ]
    assert text[46:54] == "April 15"  # code points: the flag is two of them
    assert body["relations"] == []
    assert [(link["entity"], link["kb_entity"]["kb_id"], link["rank"]) for link in body["links"]] == [
        (0, "sergey-naryshkin", 0),
        (1, "minsk", 0),
    ]
    assert (SuggesterVersion.objects.count(), Suggestion.objects.count(), SuggestionRun.objects.count()) == (
        0,
        0,
        0,
    )


def test_the_raw_text_endpoint_costs_a_fixed_handful_of_queries_and_sees_kb_edits_after_a_while(
    client, news, settings, monkeypatch
):
    ensure_active_suggester(project=news.project)
    client.force_login(news.annotator)
    body = {"project": news.project.pk, "text": "Sergey Naryshkin met the lake office in Minsk."}
    # The process's clock stands still until the test moves it: on a loaded machine the first call (which
    # builds the pipeline) can outlast the freshness window, and the next would then read the state again.
    clock = [time.monotonic()]
    monkeypatch.setattr(gazetteer.time, "monotonic", lambda: clock[0])

    def suggest():
        with CaptureQueriesContext(connection) as queries:
            response = client.post(reverse("api:suggest"), body, content_type="application/json")
        assert response.status_code == 200
        return response.json(), len(queries)

    suggest()
    answer, queries = suggest()
    # session, user, the project with the caller's role, the active suggester, its settings, the entity
    # types, the relation types and the types they allow: the KB's and gold's state is the one this process
    # read in the last ANNOTATOR_SUGGESTION_FRESHNESS_SECONDS (as page opens check freshness)
    assert queries == 8
    assert [e["text"] for e in answer["entities"]] == ["Sergey Naryshkin", "Minsk"]
    upsert_entity(knowledge_base=news.kb, record=EntityRecord(kb_id="lakes", name="lake office", type="ORG"))
    assert [e["text"] for e in suggest()[0]["entities"]] == ["Sergey Naryshkin", "Minsk"]  # trusted a while
    clock[0] += settings.ANNOTATOR_SUGGESTION_FRESHNESS_SECONDS + 1
    answer, queries = suggest()
    assert [e["text"] for e in answer["entities"]] == ["Sergey Naryshkin", "lake office", "Minsk"]
    assert [(link["entity"], link["kb_entity"]["kb_id"]) for link in answer["links"]] == [
        (0, "sergey-naryshkin"),
        (1, "lakes"),
        (2, "minsk"),
    ]


def test_the_raw_text_endpoint_refuses_other_projects_and_empty_text(client, news, outsider):
    client.force_login(outsider)
    response = client.post(
        reverse("api:suggest"), {"project": news.project.pk, "text": "Minsk"}, content_type="application/json"
    )
    assert response.status_code == 404
    client.force_login(news.annotator)
    response = client.post(
        reverse("api:suggest"), {"project": news.project.pk, "text": ""}, content_type="application/json"
    )
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["text"]


def test_managers_pre_annotate_as_a_job_and_poll_its_status(client, news, django_capture_on_commit_callbacks):
    client.force_login(news.manager)
    url = reverse("api:preannotate", args=[news.project.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"article_ids": [news.article.pk]}, content_type="application/json")
    assert response.status_code == 202
    job = Job.objects.get()
    assert response["Location"] == reverse("api:job-detail", args=[job.pk])
    assert (response.json()["status"], job.params) == ("queued", {"article_ids": [news.article.pk]})
    status = client.get(response["Location"]).json()
    assert (status["status"], status["progress_done"], status["progress_total"], status["percent"]) == (
        "succeeded",
        1,
        1,
        100,
    )
    assert status["result"] == {"articles": 1, "created": 6, "deleted": 0, "kept": 0, "suggester": "rules 4"}
    assert Suggestion.objects.count() == 6


def test_pre_annotation_is_for_managers_and_ids_of_other_projects_are_not_found(client, news, outsider):
    url = reverse("api:preannotate", args=[news.project.pk])
    client.force_login(news.annotator)
    response = client.post(url, {}, content_type="application/json")
    assert (response.status_code, response.json()["error"]["message"]) == (
        403,
        "Only the project's managers can do this.",
    )
    client.force_login(news.manager)
    elsewhere = ArticleFactory(project=ProjectFactory())
    response = client.post(
        url, {"article_ids": [news.article.pk, elsewhere.pk]}, content_type="application/json"
    )
    assert (response.status_code, response.json()["error"]["message"]) == (
        404,
        f"No article with id {elsewhere.pk} in this project.",
    )
    other_version = SuggesterVersionFactory(project=elsewhere.project)
    response = client.post(url, {"suggester_version": other_version.pk}, content_type="application/json")
    assert response.status_code == 404
    response = client.post(url, {"status": "finished"}, content_type="application/json")
    assert response.status_code == 400
    assert Job.objects.count() == 0
    client.force_login(outsider)
    assert client.post(url, {}, content_type="application/json").status_code == 404


def test_training_via_the_api_reports_missing_gold_in_the_job(
    client, news, django_capture_on_commit_callbacks
):
    client.force_login(news.manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("api:train-suggester", args=[news.project.pk]))
    assert response.status_code == 202
    status = client.get(response["Location"]).json()
    assert status["status"] == JobStatus.FAILED
    assert status["message"] == (
        "Training needs at least 5 annotated articles (curated gold, or submitted sets); this project has 0. "
        "Annotate more first."
    )
    client.force_login(news.annotator)
    assert client.post(reverse("api:train-suggester", args=[news.project.pk])).status_code == 403


def test_versions_are_listed_and_managers_switch_the_active_one(client, news, outsider):
    rules = SuggesterVersionFactory(project=news.project, name="rules", version="1", is_active=True)
    trained = SuggesterVersionFactory(
        project=news.project, name="ner", version="1", kind="trained", metrics={"entities": {}}
    )
    client.force_login(news.annotator)
    listed = client.get(reverse("api:suggester-list", args=[news.project.pk])).json()["results"]
    assert sorted((v["name"], v["is_active"]) for v in listed) == [("ner", False), ("rules", True)]
    activate = reverse("api:suggester-activate", args=[trained.pk])
    assert client.post(activate).status_code == 403
    client.force_login(outsider)
    assert client.post(activate).status_code == 404
    client.force_login(news.manager)
    response = client.post(activate)
    assert (response.status_code, response.json()["is_active"]) == (200, True)
    assert list(SuggesterVersion.objects.filter(is_active=True)) == [trained]
    rules.refresh_from_db()
    assert rules.is_active is False


def test_the_quality_endpoint_counts_decisions_per_label(client, news):
    ensure_article_suggestions(article=news.article)
    person = Suggestion.objects.get(kind=SuggestionKind.ENTITY, start=0)
    date = Suggestion.objects.get(kind=SuggestionKind.ENTITY, start=34)
    accept_suggestion(
        suggestion=person, annotation_set=news.annotation_set, by=news.annotator, expected_version=1
    )
    reject_suggestion(
        suggestion=date, annotation_set=news.annotation_set, by=news.annotator, expected_version=2
    )
    client.force_login(news.annotator)
    (version,) = client.get(reverse("api:suggestion-quality", args=[news.project.pk])).json()
    assert version["suggester_version"]["name"] == "rules"
    assert version["gold_articles"] == 0
    labels = {(row["kind"], row["label"]): row for row in version["labels"]}
    assert labels[("entity", "PERSON")] == {
        "kind": "entity", "label": "PERSON", "suggested": 1, "accepted": 1, "corrected": 0, "rejected": 0,
        "acceptance_rate": 1.0, "gold": None,
    }  # fmt: skip
    assert (labels[("entity", "DATE")]["rejected"], labels[("entity", "DATE")]["acceptance_rate"]) == (1, 0.0)
    assert labels[("relation", "visited")]["suggested"] == 1
    sources = {row["source"]: row for row in version["sources"]}
    assert (sources["kb-ruler"]["suggested"], sources["kb-ruler"]["accepted"]) == (2, 1)
    assert Decision.objects.count() == 2


def test_the_openapi_schema_documents_the_suggestion_endpoints(client, db):
    paths = client.get(reverse("api:schema"), {"format": "json"}).json()["paths"]
    assert {
        "/api/v1/articles/{article_id}/suggestions",
        "/api/v1/suggest",
        "/api/v1/projects/{project_id}/preannotate",
        "/api/v1/projects/{project_id}/train-suggester",
        "/api/v1/projects/{project_id}/suggesters",
        "/api/v1/suggesters/{suggester_id}/activate",
        "/api/v1/projects/{project_id}/suggestion-quality",
        "/api/v1/jobs/{job_id}/",
    } <= set(paths)
    preannotate = paths["/api/v1/projects/{project_id}/preannotate"]["post"]
    assert set(preannotate["responses"]) == {"202", "400", "401", "403", "404", "413", "429"}
