"""Fetching a document (`api/document_reads.py`): the article and the set answered as their serializers
answer them, byte for byte, with the same scoping, 404s, ETag and conditional GET, in one query each."""

import json

import pytest
from django.db import connection
from django.db.models import Prefetch
from django.urls import reverse
from rest_framework.renderers import JSONRenderer

from annotator.annotations.models import AnnotationSet, Relation, SetKind, Span
from annotator.annotations.services import create_relation, create_span, link_span
from annotator.api import document_reads
from annotator.api.annotation_serializers import AnnotationSetDetailSerializer, ArticleDetailSerializer
from annotator.api.tokens import create_token
from annotator.articles.models import Article
from annotator.projects.models import Role
from annotator.projects.services import add_member
from tests import hostile
from tests.factories import (
    AnnotationSetFactory,
    ArticleFactory,
    EntityTypeFactory,
    KBEntityFactory,
    ProjectFactory,
    RelationTypeFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

ON_POSTGRESQL = connection.vendor == "postgresql"
# Everything a JSON writer may escape differently: quotes, backslashes, every control character PostgreSQL
# can store (all but NUL), DEL, U+2028/U+2029 (escaped by DRF over the whole answer), markup, bidi, emoji.
AWKWARD = (
    '"quoted" \\back\\slash\\ /slash/ '
    + "".join(chr(code) for code in range(1, 32))
    + "\x7f \u2028 \u2029 "
    + f"{hostile.SCRIPT} {hostile.RLO}gnp.exe {hostile.ZWJ_FAMILY} {hostile.COMBINING} {hostile.ARABIC}"
)


@pytest.fixture
def token(news, settings):
    settings.ANNOTATOR_TOKEN_CACHE_SECONDS = 600  # the token is read once, then remembered

    def token(user=None, project=None):
        return create_token(user=user or news.annotator, name="script", project=project)[1]

    return token


@pytest.fixture
def fetch(client, token):
    def fetch(url, secret=None, **headers):
        return client.get(url, HTTP_AUTHORIZATION=f"Bearer {secret or token()}", **headers)

    return fetch


@pytest.fixture
def general(monkeypatch):
    """Answer sets on the general path (model instance, serializer, renderer) inside the block."""

    class General:
        def __enter__(self):
            monkeypatch.setattr(document_reads, "written_by_database", lambda request: False)

        def __exit__(self, *exc):
            monkeypatch.undo()

    return General()


def awkward_set(news):
    """The news annotator's set over a text full of awkward characters: spans linked, NIL and unlinked,
    of types with awkward names, in relations of a type with an awkward name."""
    text = f"Sergey Naryshkin {AWKWARD} visited Minsk."
    article = ArticleFactory(project=news.project, text=text, title=AWKWARD[:900], metadata={"k": AWKWARD})
    odd_type = EntityTypeFactory(project=news.project, name=hostile.PERSON, key="x")
    odd_relation = RelationTypeFactory(project=news.project, name=hostile.MET, heads=[odd_type, news.person],
                                       tails=[odd_type, news.gpe, news.person])  # fmt: skip
    odd_entity = KBEntityFactory(knowledge_base=news.kb, kb_id=AWKWARD[:200], name=AWKWARD, type="PERSON")
    from annotator.annotations.services import get_or_create_own_set

    annotation_set = get_or_create_own_set(article=article, user=news.annotator)

    def span(start, end, entity_type):
        return create_span(annotation_set=annotation_set, start=start, end=end, entity_type=entity_type,
                           by=news.annotator, expected_version=annotation_set.version)  # fmt: skip

    minsk_at = text.index("Minsk")
    awkward_at = text.index(AWKWARD)
    minsk = span(minsk_at, minsk_at + 5, news.gpe)
    odd = span(awkward_at, awkward_at + len(AWKWARD), odd_type)  # the surface is the awkward text
    naryshkin = span(7, 16, news.person)
    span(0, 6, news.person)  # unlinked
    whole = span(0, 16, news.org)  # the same start as another: ordered by end, then id
    link_span(span=odd, kb_entity=odd_entity, by=news.annotator, expected_version=annotation_set.version)
    link_span(span=naryshkin, kb_entity=news.naryshkin, by=news.annotator,
              expected_version=annotation_set.version)  # fmt: skip
    link_span(span=whole, kb_entity=None, by=news.annotator, expected_version=annotation_set.version)  # NIL
    for head, tail, relation_type in ((naryshkin, minsk, news.visited), (odd, naryshkin, odd_relation)):
        create_relation(annotation_set=annotation_set, head=head, tail=tail, relation_type=relation_type,
                        by=news.annotator, expected_version=annotation_set.version)  # fmt: skip
    return annotation_set


def serializer_bytes(annotation_set):
    """The detail serializer's answer over the set read with its prefetches, as the JSON renderer writes it."""
    annotation_set = (
        AnnotationSet.objects.select_related("annotator")
        .prefetch_related(
            Prefetch("spans", queryset=Span.objects.select_related("entity_type", "link__kb_entity")),
            Prefetch("relations", queryset=Relation.objects.select_related("relation_type")),
        )
        .get(pk=annotation_set.pk)
    )
    return JSONRenderer().render(AnnotationSetDetailSerializer(annotation_set).data)


# Sets


def test_the_set_is_the_serializer_s_answer_byte_for_byte_in_one_query(fetch, token, news, general):
    annotation_set = awkward_set(news)
    url = reverse("api:set-detail", args=[annotation_set.pk])
    secret = token()
    assert fetch(url, secret).status_code == 200  # the token is read, then remembered
    with general:
        slow = fetch(url, secret)
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        fast = fetch(url, secret)
    assert fast.status_code == slow.status_code == 200
    assert fast.content == slow.content == serializer_bytes(annotation_set)
    assert b"\\u2028" in fast.content
    assert "\u2028".encode() not in fast.content
    assert (fast["ETag"], fast["Content-Type"]) == (f'"{annotation_set.version}"', "application/json")
    assert (slow["ETag"], slow["Content-Type"]) == (fast["ETag"], fast["Content-Type"])
    spans = json.loads(fast.content)["spans"]
    assert [(s["start"], s["end"]) for s in spans][:3] == [(0, 6), (0, 16), (7, 16)]
    assert [s["link"] is None for s in spans] == [True, False, False, False, True]
    # PostgreSQL: the set, its spans and relations in one statement; elsewhere the set, spans, relations.
    assert len(queries) == (1 if ON_POSTGRESQL else 3)


def test_sets_of_every_kind_and_empty_ones(fetch, token, news, general):
    gold = AnnotationSetFactory(article=news.article, kind=SetKind.GOLD, annotator=None)
    imported = AnnotationSetFactory(article=news.article, kind=SetKind.IMPORTED, annotator=None,
                                    name=AWKWARD[:100])  # fmt: skip
    # Updated at a whole second: Python's isoformat writes no fraction then.
    AnnotationSet.objects.filter(pk=gold.pk).update(updated_at="2026-01-02T03:04:05Z")
    manager = token(news.manager)
    for annotation_set in (news.annotation_set, gold, imported):
        url = reverse("api:set-detail", args=[annotation_set.pk])
        with general:
            slow = fetch(url, manager)
        fast = fetch(url, manager)
        assert fast.content == slow.content == serializer_bytes(annotation_set)
    assert json.loads(fetch(reverse("api:set-detail", args=[gold.pk]), manager).content)["updated_at"] == (
        "2026-01-02T03:04:05Z"
    )


def test_who_cannot_read_a_set_finds_nothing_as_on_the_general_path(fetch, token, news, client, general):
    other = ProjectFactory(name="Other", slug="other")
    add_member(project=other, user=news.annotator, role=Role.ANNOTATOR)
    stranger = UserFactory(username="stranger")
    add_member(project=news.project, user=stranger, role=Role.ANNOTATOR)
    news.project.blind = True
    news.project.save()
    url = reverse("api:set-detail", args=[news.annotation_set.pk])
    refusals = [
        (url, token(project=other)),  # a token limited to another project of hers
        (url, token(stranger)),  # another annotator of a blind project
        (reverse("api:set-detail", args=[2**63 - 1]), token()),  # no such set
    ]
    for where, secret in refusals:
        with general:
            slow = fetch(where, secret)
        fast = fetch(where, secret)
        assert (fast.status_code, fast.content) == (slow.status_code, slow.content)
        assert (fast.status_code, fast.json()["error"]["message"]) == (404, "Not found.")
    assert fetch(url, token(project=news.project)).status_code == 200
    assert fetch(url, token(news.manager)).status_code == 200  # managers see every set of a blind project
    assert client.get(url).status_code in (401, 403)  # no credentials: as before, refused before any read


def test_a_conditional_get_answers_304_while_the_set_is_unchanged(fetch, news):
    url = reverse("api:set-detail", args=[news.annotation_set.pk])
    first = fetch(url)
    unchanged = fetch(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert (unchanged.status_code, unchanged.content, unchanged["ETag"]) == (304, b"", first["ETag"])
    create_span(annotation_set=news.annotation_set, start=0, end=6, entity_type=news.person, by=news.annotator,
                expected_version=news.annotation_set.version)  # fmt: skip
    changed = fetch(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert (changed.status_code, changed["ETag"]) == (200, f'"{news.annotation_set.version}"')
    assert changed.content == fetch(url).content == serializer_bytes(news.annotation_set)


def test_the_database_writes_only_the_renderer_s_plain_json(rf, news):
    from rest_framework.renderers import BrowsableAPIRenderer
    from rest_framework.request import Request

    request = Request(rf.get("/"))
    request.accepted_renderer, request.accepted_media_type = JSONRenderer(), "application/json"
    assert document_reads.written_by_database(request) is ON_POSTGRESQL
    request.accepted_media_type = "application/json; indent=4"
    assert document_reads.written_by_database(request) is False
    request.accepted_renderer, request.accepted_media_type = BrowsableAPIRenderer(), "text/html"
    assert document_reads.written_by_database(request) is False
    conditional = Request(rf.get("/", HTTP_IF_NONE_MATCH='"1"'))
    conditional.accepted_renderer, conditional.accepted_media_type = JSONRenderer(), "application/json"
    assert document_reads.written_by_database(conditional) is False


# Articles


def test_the_article_is_the_serializer_s_answer_byte_for_byte_in_one_query(
    fetch, token, news, django_assert_num_queries
):
    metadata = {"zeta": [1, 2.5, 1e-07, None, True], "a": {"nested": AWKWARD}, "": "", "ключ": 10**20}
    article = ArticleFactory(project=news.project, text=f"Text {AWKWARD}", title=AWKWARD[:900],
                             external_id=None, metadata=metadata)  # fmt: skip
    secret = token()
    url = reverse("api:article-detail", args=[article.pk])
    assert fetch(url, secret).status_code == 200  # the token is read, then remembered
    with django_assert_num_queries(1):
        answer = fetch(url, secret)
    expected = JSONRenderer().render(ArticleDetailSerializer(Article.objects.get(pk=article.pk)).data)
    assert (answer.status_code, answer.content) == (200, expected)
    assert json.loads(answer.content)["external_id"] is None


def test_who_cannot_read_an_article_finds_nothing(fetch, token, news, outsider):
    other = ProjectFactory(name="Other", slug="other")
    add_member(project=other, user=news.annotator, role=Role.ANNOTATOR)
    elsewhere = ArticleFactory(project=ProjectFactory(name="Far", slug="far"))
    url = reverse("api:article-detail", args=[news.article.pk])
    for where, secret in (
        (url, token(project=other)),  # a token limited to another project of hers
        (url, token(outsider)),  # not a member
        (reverse("api:article-detail", args=[elsewhere.pk]), token()),
        (reverse("api:article-detail", args=[2**63 - 1]), token()),
    ):
        refused = fetch(where, secret)
        assert (refused.status_code, refused.json()["error"]["message"]) == (404, "Not found.")
    assert fetch(url, token(project=news.project)).status_code == 200
