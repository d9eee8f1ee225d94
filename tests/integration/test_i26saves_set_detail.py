"""`GET /api/v1/sets/{id}/`: the set read once, its spans and relations as plain rows (`api/set_contents.py`),
the detail serializer's answer."""

import json

import pytest
from django.db import connection
from django.db.models import Prefetch
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.renderers import JSONRenderer

from annotator.annotations.models import AnnotationSet, Relation, Span
from annotator.annotations.services import create_relation, create_span, link_span
from annotator.api.annotation_serializers import AnnotationSetDetailSerializer
from annotator.api.tokens import create_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def get(client, news, settings):
    settings.ANNOTATOR_TOKEN_CACHE_SECONDS = 600  # a slow machine stays inside the token's lifetime

    def get(url, project=None):
        secret = create_token(user=news.annotator, name="script", project=project)[1]
        return client.get(url, HTTP_AUTHORIZATION=f"Bearer {secret}")

    return get


@pytest.fixture
def rich_set(news):
    """Spans out of order, linked, NIL and unlinked, of several types, in two relations."""
    annotation_set = news.annotation_set

    def span(start, end, entity_type):
        return create_span(annotation_set=annotation_set, start=start, end=end, entity_type=entity_type,
                           by=news.annotator, expected_version=annotation_set.version)  # fmt: skip

    minsk_at = news.article.text.index("Minsk")
    minsk = span(minsk_at, minsk_at + 5, news.gpe)
    naryshkin = span(7, 16, news.person)
    sergey = span(0, 6, news.person)
    whole = span(0, 16, news.org)  # the same start as another: ordered by end, then id
    link_span(
        span=naryshkin, kb_entity=news.naryshkin, by=news.annotator, expected_version=annotation_set.version
    )
    link_span(span=whole, kb_entity=None, by=news.annotator, expected_version=annotation_set.version)  # NIL
    for head, tail, relation_type in ((naryshkin, minsk, news.visited), (sergey, naryshkin, news.met_with)):
        create_relation(annotation_set=annotation_set, head=head, tail=tail, relation_type=relation_type,
                        by=news.annotator, expected_version=annotation_set.version)  # fmt: skip
    return annotation_set


def serialized(annotation_set):
    """What the detail serializer made of the set, read with its prefetches, through the JSON renderer."""
    annotation_set = (
        AnnotationSet.objects.select_related("annotator")
        .prefetch_related(
            Prefetch("spans", queryset=Span.objects.select_related("entity_type", "link__kb_entity")),
            Prefetch("relations", queryset=Relation.objects.select_related("relation_type")),
        )
        .get(pk=annotation_set.pk)
    )
    return json.loads(JSONRenderer().render(AnnotationSetDetailSerializer(annotation_set).data))


def test_the_answer_is_the_detail_serializer_s_in_three_queries(get, news, rich_set):
    url = reverse("api:set-detail", args=[rich_set.pk])
    assert get(url).status_code == 200  # the token is read, then remembered
    with CaptureQueriesContext(connection) as queries:
        answer = get(url)
    assert answer.json() == serialized(rich_set)
    assert answer["ETag"] == f'"{rich_set.version}"'
    spans = answer.json()["spans"]
    assert [(s["start"], s["end"], s["type"]) for s in spans][:3] == [
        (0, 6, "PERSON"),
        (0, 16, "ORG"),
        (7, 16, "PERSON"),
    ]
    assert [s["link"] for s in spans][1:3] == [
        {"kb_entity": None, "kb_id": None, "name": None, "nil": True},
        {
            "kb_entity": news.naryshkin.pk,
            "kb_id": "sergey-naryshkin",
            "name": "Sergey Naryshkin",
            "nil": False,
        },
    ]
    assert len(answer.json()["relations"]) == 2
    reads = [q["sql"] for q in queries if q["sql"].startswith("SELECT")]
    # The token's secret is new each call: its read, then the set, spans, relations; on PostgreSQL the set
    # with its spans and relations, written as JSON by the database (api/document_reads.py).
    together = [(True, True, True)] if connection.vendor == "postgresql" else [
        (True, False, False),
        (False, True, False),
        (False, False, True),
    ]  # fmt: skip
    assert [
        ("annotations_annotationset" in r, "annotations_span" in r, "annotations_relation" in r)
        for r in reads[1:]
    ] == together


def test_an_empty_set_and_an_unchanged_one(get, news):
    url = reverse("api:set-detail", args=[news.annotation_set.pk])
    answer = get(url)
    assert answer.json() == serialized(news.annotation_set)
    assert (answer.json()["spans"], answer.json()["relations"]) == ([], [])


def test_a_set_the_caller_cannot_read_does_not_exist(get, news, client, outsider):
    from tests.factories import ProjectFactory

    url = reverse("api:set-detail", args=[news.annotation_set.pk])
    other = ProjectFactory(name="Other", slug="other")
    from annotator.projects.models import Role
    from annotator.projects.services import add_member

    add_member(project=other, user=news.annotator, role=Role.ANNOTATOR)
    assert get(url, project=news.project).status_code == 200
    refused = get(url, project=other)  # a token limited to another project of hers
    assert (refused.status_code, refused.json()["error"]["message"]) == (404, "Not found.")
    client.force_login(outsider)
    assert client.get(url).status_code == 404
    assert client.get(reverse("api:set-detail", args=[2**63 - 1])).status_code == 404
