"""The REST API: tokens, ETags and If-Match, every write through the services, scoping of ids everywhere."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from annotator.annotations import services
from annotator.annotations.models import EntityLink, Relation, Span
from annotator.api.models import ApiToken
from annotator.api.tokens import create_token, forget_tokens, revoke_token
from annotator.projects.models import Role
from annotator.suggestions.models import Decision, Verdict
from tests.factories import (
    ArticleFactory,
    KBEntityFactory,
    MembershipFactory,
    ProjectFactory,
    SuggestionFactory,
    UserFactory,
)
from tests.integration.test_access import STAFF_ONLY, fetch, scoped_routes

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(client):
    """A client that speaks JSON with a bearer token."""

    class Api:
        def __init__(self):
            self.token = None

        def headers(self, version=None):
            headers = {}
            if self.token:
                headers["HTTP_AUTHORIZATION"] = f"Bearer {self.token}"
            if version is not None:
                headers["HTTP_IF_MATCH"] = f'"{version}"'
            return headers

        def get(self, url, version=None, **params):
            return client.get(url, params, **self.headers(version))

        def send(self, method, url, data=None, version=None):
            return getattr(client, method)(
                url, data or {}, content_type="application/json", **self.headers(version)
            )

    return Api()


@pytest.fixture
def alice(api, news):
    api.token = create_token(user=news.annotator, name="alice's script", scope="write")[1]
    return api


def set_url(news, suffix=""):
    return reverse(f"api:set-{suffix}" if suffix else "api:set-detail", args=[news.annotation_set.pk])


def error(response):
    return response.json()["error"]


# Tokens


def test_a_token_is_shown_once_and_only_its_digest_is_kept(client, news):
    client.force_login(news.annotator)
    made = client.post(
        reverse("api:token-list"), {"name": "exporter", "scope": "read"}, content_type="application/json"
    )
    assert made.status_code == 201
    secret = made.json()["token"]
    assert secret.startswith("ann_")
    assert made.json()["prefix"] == secret[:10]
    listed = client.get(reverse("api:token-list")).json()["results"]
    assert [token["name"] for token in listed] == ["exporter"]
    assert "token" not in listed[0]
    stored = ApiToken.objects.values().get()
    assert secret not in str(stored)


def test_tokens_authenticate_until_revoked_or_expired(api, news):
    api.token = create_token(user=news.annotator, name="t")[1]
    url = reverse("api:project-list")
    assert api.get(url).status_code == 200
    assert ApiToken.objects.get().last_used_at is not None
    api.token = "ann_not-a-real-token"
    assert error(api.get(url)) == {
        "code": "authentication_failed",
        "message": "This token is not valid.",
        "fields": {},
    }
    assert api.get(url).status_code == 401
    assert api.get(url)["WWW-Authenticate"] == 'Bearer realm="api"'
    expiring, api.token = create_token(
        user=news.annotator, name="e", expires_at=timezone.now() + timedelta(hours=1)
    )
    assert api.get(url).status_code == 200
    ApiToken.objects.filter(pk=expiring.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    forget_tokens()  # as when ANNOTATOR_TOKEN_CACHE_SECONDS have passed since this process read it
    assert error(api.get(url))["message"] == "This token has expired."
    revoked, api.token = create_token(user=news.annotator, name="r")
    revoke_token(revoked)
    assert error(api.get(url))["message"] == "This token was revoked."


def test_a_read_token_reads_but_does_not_write(api, news):
    api.token = create_token(user=news.annotator, name="reader", scope="read")[1]
    assert api.get(set_url(news)).status_code == 200
    refused = api.send("post", set_url(news, "spans"), {"start": 0, "end": 16, "type": "PERSON"}, version=1)
    assert refused.status_code == 403
    assert error(refused)["message"] == "This token is read-only."
    assert Span.objects.count() == 0


def test_a_project_token_reaches_that_project_only(api, news):
    other = MembershipFactory(user=news.annotator, role=Role.MANAGER, project__name="Other").project
    api.token = create_token(user=news.annotator, name="news only", project=news.project)[1]
    assert [p["name"] for p in api.get(reverse("api:project-list")).json()["results"]] == ["News"]
    assert api.get(reverse("api:project-detail", args=[other.pk])).status_code == 404


def test_a_token_cannot_make_a_token_with_more_rights_than_itself(api, news):
    api.token = create_token(user=news.annotator, name="reader", scope="read", project=news.project)[1]
    url = reverse("api:token-list")
    writer = api.send("post", url, {"name": "w", "scope": "write", "project": news.project.pk})
    assert writer.status_code == 403  # a read token writes nothing, tokens included
    api.token = create_token(user=news.annotator, name="writer", scope="write", project=news.project)[1]
    broader = api.send("post", url, {"name": "all", "scope": "write"})
    assert broader.status_code == 400
    assert error(broader)["fields"] == {
        "project": ["A token limited to one project can only make tokens for that project."]
    }


def test_revoking_through_the_api_takes_effect_at_once(api, news):
    token, api.token = create_token(user=news.annotator, name="self", scope="write")
    assert api.send("delete", reverse("api:token-detail", args=[token.pk])).status_code == 204
    assert api.get(reverse("api:project-list")).status_code == 401


def test_the_tokens_page_shows_a_new_secret_once(client, news):
    client.force_login(news.annotator)
    page = client.post(reverse("tokens:list"), {"name": "<script>x</script>", "scope": "write"})
    html = page.content.decode()
    secret = ApiToken.objects.get()
    assert "Copy it now: it is shown this once" in html
    assert f"<code>{secret.prefix}…</code>" in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html
    assert "shown this once" not in client.get(reverse("tokens:list")).content.decode()
    client.post(reverse("tokens:revoke", args=[secret.pk]))
    assert ApiToken.objects.get().revoked_at is not None


# Sets, ETags, If-Match


def test_my_set_is_made_on_demand_and_carries_its_etag(alice, news):
    article = ArticleFactory(project=news.project)
    made = alice.send("post", reverse("api:article-sets", args=[article.pk]))
    assert made.status_code == 201
    assert made["ETag"] == '"1"'
    again = alice.send("post", reverse("api:article-sets", args=[article.pk]))
    assert (again.status_code, again.json()["id"]) == (200, made.json()["id"])


def test_writes_without_if_match_get_428_and_stale_ones_412_and_nothing_is_written(alice, news):
    url = set_url(news, "spans")
    body = {"start": 0, "end": 16, "type": "PERSON"}
    missing = alice.send("post", url, body)
    assert missing.status_code == 428
    assert error(missing)["code"] == "precondition_required"
    created = alice.send("post", url, body, version=1)
    assert created.status_code == 201
    assert created["ETag"] == '"2"'
    stale = alice.send("post", url, {"start": 25, "end": 30, "type": "GPE"}, version=1)
    assert stale.status_code == 412
    assert error(stale)["code"] == "conflict"
    assert stale.json()["error"]["current_version"] == 2
    assert list(Span.objects.values_list("surface", flat=True)) == ["Sergey Naryshkin"]
    assert alice.send("post", url, body, version="seven").status_code == 400


def test_the_set_reads_with_spans_links_relations_and_answers_304_when_unchanged(alice, news):
    head = services.create_span(
        annotation_set=news.annotation_set,
        start=0,
        end=16,
        entity_type=news.person,
        by=news.annotator,
        expected_version=1,
    )
    tail = services.create_span(
        annotation_set=news.annotation_set,
        start=25,
        end=30,
        entity_type=news.gpe,
        by=news.annotator,
        expected_version=2,
    )
    services.link_span(span=head, kb_entity=news.naryshkin, by=news.annotator, expected_version=3)
    services.create_relation(
        annotation_set=news.annotation_set, head=head, tail=tail, relation_type=news.visited, by=news.annotator,
        expected_version=4,
    )  # fmt: skip
    response = alice.get(set_url(news))
    body = response.json()
    assert response["ETag"] == '"5"'
    assert body["spans"][0] == {
        "id": head.pk, "start": 0, "end": 16, "type": "PERSON", "entity_type": news.person.pk,
        "text": "Sergey Naryshkin",
        "link": {"kb_entity": news.naryshkin.pk, "kb_id": "sergey-naryshkin", "name": "Sergey Naryshkin", "nil": False},
    }  # fmt: skip
    assert body["relations"] == [
        {
            "id": Relation.objects.get().pk,
            "head": head.pk,
            "tail": tail.pk,
            "type": "visited",
            "relation_type": news.visited.pk,
        }
    ]
    unchanged = Client().get(
        set_url(news), HTTP_AUTHORIZATION=f"Bearer {alice.token}", HTTP_IF_NONE_MATCH='"5"'
    )
    assert unchanged.status_code == 304


def test_reading_a_set_costs_the_same_queries_with_3_or_30_spans(alice, news, settings):
    # The token stays remembered however slowly a loaded machine adds the 27 spans: only the set is counted.
    settings.ANNOTATOR_TOKEN_CACHE_SECONDS = 3600

    def queries():
        forget_tokens()  # each call reads the token, however long adding spans took
        with CaptureQueriesContext(connection) as captured:
            assert alice.get(set_url(news)).status_code == 200
        return len(captured)

    def add(start):
        span = services.create_span(
            annotation_set=news.annotation_set, start=start, end=start + 1, entity_type=news.person,
            by=news.annotator, expected_version=news.annotation_set.version,
        )  # fmt: skip
        services.link_span(
            span=span, kb_entity=news.minsk, by=news.annotator, expected_version=news.annotation_set.version
        )

    solid = [at for at, char in enumerate(news.article.text) if not char.isspace()]  # no blank span
    for start in solid[:3]:
        add(start)
    queries()  # the token's first use also records when it was used
    few = queries()
    for start in solid[3:30]:
        add(start)
    assert queries() == few


def test_creating_a_span_costs_a_fixed_number_of_queries(alice, news, django_assert_max_num_queries):
    url = set_url(news, "spans")
    assert alice.send("post", url, {"start": 0, "end": 6, "type": "PERSON"}, version=1).status_code == 201
    # The token, the set with the caller's role, the type, the version claim, the article's facts, the
    # duplicate check, the span and its history (plus BEGIN and COMMIT where the database logs them).
    with django_assert_max_num_queries(10):
        created = alice.send(
            "post", url, {"start": 7, "end": 16, "type": "PERSON", "text": "Naryshkin"}, version=2
        )
    assert (created.status_code, created.json()["link"], created["ETag"]) == (201, None, '"3"')
    assert Span.objects.filter(annotation_set=news.annotation_set).count() == 2


def test_span_writes_check_text_and_schema_and_keep_the_etag_moving(alice, news):
    url = set_url(news, "spans")
    mismatch = alice.send(
        "post", url, {"start": 1, "end": 17, "type": "PERSON", "text": "Sergey Naryshkin"}, version=1
    )
    assert mismatch.status_code == 400
    assert list(error(mismatch)["fields"]) == ["surface"]
    unknown = alice.send("post", url, {"start": 0, "end": 16, "type": "ALIEN"}, version=1)
    assert error(unknown)["fields"] == {"type": ["This project has no entity type named 'ALIEN'."]}
    span_id = alice.send("post", url, {"start": 7, "end": 16, "type": "PERSON"}, version=1).json()["id"]
    changed = alice.send(
        "patch", reverse("api:span-detail", args=[span_id]), {"start": 0, "type": "ORG"}, version=2
    )
    assert (changed.status_code, changed.json()["text"], changed.json()["type"]) == (
        200,
        "Sergey Naryshkin",
        "ORG",
    )
    assert changed["ETag"] == '"3"'
    deleted = alice.send("delete", reverse("api:span-detail", args=[span_id]), version=3)
    assert (deleted.status_code, deleted["ETag"]) == (204, '"4"')
    assert Span.objects.count() == 0


def test_links_to_an_entity_or_nil_and_foreign_entities_do_not_exist(alice, news):
    span = services.create_span(
        annotation_set=news.annotation_set,
        start=0,
        end=16,
        entity_type=news.person,
        by=news.annotator,
        expected_version=1,
    )
    url = reverse("api:span-link", args=[span.pk])
    linked = alice.send("put", url, {"kb_entity": news.naryshkin.pk}, version=2)
    assert linked.json()["link"]["kb_id"] == "sergey-naryshkin"
    assert linked["ETag"] == '"3"'
    assert alice.send("put", url, {"kb_entity": None}, version=3).json()["link"]["nil"] is True
    foreign = alice.send("put", url, {"kb_entity": KBEntityFactory().pk}, version=4)
    assert foreign.status_code == 404
    assert EntityLink.objects.get().is_nil
    assert alice.send("delete", url, version=4).status_code == 204
    assert EntityLink.objects.count() == 0


def test_relations_take_spans_of_the_set_only_and_types_the_schema_allows(alice, news):
    head = services.create_span(
        annotation_set=news.annotation_set,
        start=0,
        end=16,
        entity_type=news.person,
        by=news.annotator,
        expected_version=1,
    )
    tail = services.create_span(
        annotation_set=news.annotation_set,
        start=25,
        end=30,
        entity_type=news.gpe,
        by=news.annotator,
        expected_version=2,
    )
    other_project_span = Span.objects.create(
        annotation_set=services.get_or_create_own_set(article=ArticleFactory(), user=UserFactory()),
        start=0, end=3, entity_type=news.person, surface="Ser",
    )  # fmt: skip
    url = set_url(news, "relations")
    assert (
        alice.send(
            "post", url, {"head": head.pk, "tail": other_project_span.pk, "type": "visited"}, version=3
        ).status_code
        == 404
    )
    refused = alice.send("post", url, {"head": tail.pk, "tail": head.pk, "type": "visited"}, version=3)
    assert error(refused)["message"] == "The schema does not allow visited from a GPE to a PERSON."
    made = alice.send("post", url, {"head": head.pk, "tail": tail.pk, "type": "visited"}, version=3)
    assert made.status_code == 201
    assert (
        alice.send("delete", reverse("api:relation-detail", args=[made.json()["id"]]), version=4).status_code
        == 204
    )
    assert Relation.objects.count() == 0


def test_decisions_accept_correct_reject_and_undo(alice, news):
    url = set_url(news, "decisions")
    accepted = SuggestionFactory(article=news.article, start=0, end=16, entity_type=news.person)
    corrected = SuggestionFactory(article=news.article, start=25, end=30, entity_type=news.person)
    rejected = SuggestionFactory(article=news.article, start=34, end=42, entity_type=news.person)
    first = alice.send("post", url, {"suggestion": accepted.pk, "verdict": "accepted"}, version=1)
    assert first.status_code == 201
    alice.send("post", url, {"suggestion": corrected.pk, "verdict": "corrected", "type": "GPE"}, version=2)
    alice.send("post", url, {"suggestion": rejected.pk, "verdict": "rejected"}, version=3)
    assert dict(Decision.objects.values_list("suggestion_id", "verdict")) == {
        accepted.pk: Verdict.ACCEPTED, corrected.pk: Verdict.CORRECTED, rejected.pk: Verdict.REJECTED,
    }  # fmt: skip
    assert sorted(Span.objects.values_list("surface", "entity_type__name")) == [
        ("Minsk", "GPE"),
        ("Sergey Naryshkin", "PERSON"),
    ]
    undone = alice.send("delete", reverse("api:decision-detail", args=[first.json()["id"]]), version=4)
    assert undone.status_code == 204
    assert list(Span.objects.values_list("surface", flat=True)) == ["Minsk"]
    foreign = alice.send(
        "post", url, {"suggestion": SuggestionFactory().pk, "verdict": "accepted"}, version=5
    )
    assert foreign.status_code == 404


def test_annotators_cannot_write_gold_but_curators_can(api, news):
    gold = services.get_or_create_gold_set(article=news.article)
    url = reverse("api:set-spans", args=[gold.pk])
    body = {"start": 0, "end": 16, "type": "PERSON"}
    api.token = create_token(user=news.annotator, name="a", scope="write")[1]
    hidden = api.send("post", url, body, version=1)  # a blind project: gold does not exist for annotators
    assert (hidden.status_code, error(hidden)["message"]) == (404, "Not found.")
    news.project.blind = False
    news.project.save()
    refused = api.send("post", url, body, version=1)
    assert (refused.status_code, error(refused)["message"]) == (
        403,
        "Only curators and managers change the gold set.",
    )
    api.token = create_token(user=news.manager, name="m", scope="write")[1]
    assert api.send("post", url, body, version=1).status_code == 201


def test_submit_then_writes_are_refused_with_409_until_reopened(alice, news):
    assert alice.send("post", set_url(news, "submit"), version=1).json()["status"] == "submitted"
    refused = alice.send("post", set_url(news, "spans"), {"start": 0, "end": 16, "type": "PERSON"}, version=2)
    assert refused.status_code == 409
    assert alice.send("post", set_url(news, "reopen"), version=2).json()["status"] == "in_progress"


def test_article_lists_filter_and_never_show_other_projects(alice, news):
    ArticleFactory(project=news.project, title="Lukashenko speaks", external_id="bt-7")
    ArticleFactory(project=ProjectFactory(), title="Lukashenko elsewhere")
    url = reverse("api:article-list", args=[news.project.pk])
    assert [a["title"] for a in alice.get(url, q="lukashenko").json()["results"]] == ["Lukashenko speaks"]
    assert [a["external_id"] for a in alice.get(url, external_id="news-1").json()["results"]] == ["news-1"]
    assert [a["external_id"] for a in alice.get(url, status="in_progress").json()["results"]] == ["news-1"]
    assert error(alice.get(url, status="done"))["fields"] == {
        "status": ["Status is one of new, in_progress, annotated, curated."]
    }
    assert "text" not in alice.get(url).json()["results"][0]
    detail = alice.get(reverse("api:article-detail", args=[news.article.pk])).json()
    assert detail["text"] == news.article.text


def test_a_non_members_token_gets_404_for_every_object_of_the_project(api, news, outsider):
    api.token = create_token(user=outsider, name="mallory", scope="write")[1]
    client = Client(HTTP_AUTHORIZATION=f"Bearer {api.token}")
    checked = 0
    for name, kwargs, query in scoped_routes(news):
        if not name.startswith("api:") or name in STAFF_ONLY:  # site routes about users: 403 for non-staff
            continue
        response = fetch(client, reverse(name, kwargs=kwargs) + query)
        assert response.status_code == 404, f"{name} answered {response.status_code} to a non-member's token"
        checked += 1
    assert checked >= 14
