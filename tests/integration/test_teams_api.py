"""The teamwork API: settings, the queue, curation into gold (If-Match on gold), comments and history."""

import pytest
from django.urls import reverse

from annotator.annotations import services
from annotator.annotations.models import AnnotationSet, SetKind, Span
from annotator.api.tokens import create_token
from annotator.projects.models import Role
from annotator.review.models import Comment
from tests.factories import ArticleFactory, MembershipFactory, UserFactory
from tests.integration.test_curation import gold_rows
from tests.integration.test_curation import two as two  # the fixture

pytestmark = pytest.mark.django_db


def call(client, method, url, data=None, version=None, token=None):
    headers = {}
    if version is not None:
        headers["HTTP_IF_MATCH"] = f'"{version}"'
    if token is not None:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return getattr(client, method)(url, data or {}, content_type="application/json", **headers)


def error(response):
    return response.json()["error"]


def test_managers_change_settings_through_the_api(client, news):
    url = reverse("api:project-settings", args=[news.project.pk])
    token = create_token(user=news.manager, name="m", scope="write")[1]
    response = call(
        client, "patch", url, {"assignment_strategy": "random", "abandon_after_minutes": 5}, token=token
    )
    assert response.json() == {
        "annotators_per_article": 1,
        "assignment_strategy": "random",
        "blind": True,
        "abandon_after_minutes": 5,
        "promote_to_gold": False,
        "trim_span_whitespace": False,
    }
    refused = call(client, "patch", url, {"annotators_per_article": 3, "promote_to_gold": True}, token=token)
    assert refused.status_code == 400
    assert error(refused)["fields"] == {
        "__all__": ["Promoting submitted sets to gold needs exactly one annotator per article."]
    }
    news.project.refresh_from_db()
    assert (news.project.annotators_per_article, news.project.assignment_strategy) == (1, "random")
    annotator = create_token(user=news.annotator, name="a", scope="write")[1]
    forbidden = call(client, "patch", url, {"blind": False}, token=annotator)
    assert (forbidden.status_code, error(forbidden)["message"]) == (
        403,
        "Only the project's managers change its settings.",
    )
    assert call(client, "get", url, token=annotator).json()["blind"] is True


def test_the_queue_hands_out_an_article_and_then_nothing(client, news):
    second = ArticleFactory(project=news.project)
    client.force_login(news.annotator)
    url = reverse("api:next-article", args=[news.project.pk])
    assert call(client, "post", url).json()["id"] == news.article.pk  # unfinished: mine first
    services.submit_set(annotation_set=news.annotation_set, by=news.annotator, expected_version=1)
    assert call(client, "post", url).json()["id"] == second.pk
    assert AnnotationSet.objects.filter(article=second, annotator=news.annotator).exists()  # reserved
    own = AnnotationSet.objects.get(article=second, annotator=news.annotator)
    services.submit_set(annotation_set=own, by=news.annotator, expected_version=1)
    assert call(client, "post", url).status_code == 204


def test_curation_through_the_api_with_if_match_on_gold(client, two):
    client.force_login(two.carol)
    url = reverse("api:curation", args=[two.article.pk])
    body = client.get(url)
    assert body["ETag"] == '"1"'
    data = body.json()
    assert data["sets"] == [two.alices.pk, two.bobs.pk]
    person = next(item for item in data["spans"] if item["type"] == "PERSON")
    assert person == {
        "start": 0, "end": 16, "type": "PERSON", "text": "Sergey Naryshkin", "status": "agreed",
        "link_status": "disagreed", "in_gold": False,
        "versions": [
            {"set": two.alices.pk, "id": two.a_person.pk, "link": "Sergey Naryshkin (sergey-naryshkin)"},
            {"set": two.bobs.pk, "id": Span.objects.get(annotation_set=two.bobs, start=0).pk, "link": "NIL"},
        ],
    }  # fmt: skip
    take = reverse("api:curation-take", args=[two.article.pk])
    assert call(client, "post", take, {"item": "span", "id": two.a_date.pk}).status_code == 428
    taken = call(client, "post", take, {"item": "span", "id": two.a_date.pk}, version=1)
    assert taken["ETag"] == '"2"'
    stale = call(client, "post", reverse("api:curation-take-agreed", args=[two.article.pk]), version=1)
    assert stale.status_code == 412
    agreed = call(client, "post", reverse("api:curation-take-agreed", args=[two.article.pk]), version=2)
    assert agreed.status_code == 200
    assert gold_rows(two.article) == (
        [(0, 16, "PERSON", None), (25, 30, "GPE", "minsk"), (34, 42, "DATE", None)],
        [("Sergey Naryshkin", "visited", "Minsk")],
    )
    foreign = call(
        client,
        "post",
        take,
        {"item": "span", "id": Span.objects.filter(annotation_set__kind=SetKind.GOLD).first().pk},
        version=3,
    )
    assert foreign.status_code == 404  # gold's own span is not a version to take


def test_annotators_cannot_curate_through_the_api(client, two):
    client.force_login(two.annotator)
    response = client.get(reverse("api:curation", args=[two.article.pk]))
    assert (response.status_code, error(response)["message"]) == (403, "Only curators and managers curate.")
    agreed = call(client, "post", reverse("api:curation-take-agreed", args=[two.article.pk]), version=1)
    assert agreed.status_code == 403
    assert not AnnotationSet.objects.filter(kind=SetKind.GOLD).exists()


def test_comments_and_history_through_the_api(client, news):
    bob = UserFactory(username="bob")
    MembershipFactory(project=news.project, user=bob, role=Role.ANNOTATOR)
    span = services.create_span(
        annotation_set=news.annotation_set,
        start=0,
        end=16,
        entity_type=news.person,
        by=news.annotator,
        expected_version=1,
    )
    client.force_login(news.annotator)
    url = reverse("api:article-comments", args=[news.article.pk])
    made = call(client, "post", url, {"text": "<b>who?</b>", "span": span.pk})
    assert made.status_code == 201
    assert {k: v for k, v in made.json().items() if k not in ("id", "created_at")} == {
        "author": "alice", "text": "<b>who?</b>", "span": span.pk, "start": 0, "end": 16,
    }  # fmt: skip
    client.force_login(bob)
    assert (
        call(client, "post", url, {"text": "x", "span": span.pk}).status_code == 404
    )  # blind: not his to read
    call(client, "post", url, {"text": "bob's"})
    assert [c["text"] for c in client.get(url).json()] == ["bob's"]
    assert Comment.objects.count() == 2
    history = client.get(reverse("api:article-history", args=[news.article.pk])).json()
    assert (history["count"], history["results"]) == (0, [])  # bob has no set; alice's is hidden from him
    client.force_login(news.annotator)
    history = client.get(reverse("api:article-history", args=[news.article.pk])).json()
    assert [(e["kind"], e["action"], e["what"]) for e in history["results"]] == [
        ("span", "added", "PERSON “Sergey Naryshkin” [0, 16)"),
        ("set", "added", "status in progress, version 1"),
    ]
