"""A new span, an acceptance and a rejection through the REST API in one statement that also reads the set
(api/set_writes_at_once.py): what it writes and answers is what the usual way writes and answers, row for
row and byte for byte, and every refusal is the usual way's; on PostgreSQL the usual requests cost that one
statement."""

from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from annotator.annotations.models import AnnotationSet, SetStatus, Span
from annotator.annotations.services import get_or_create_gold_set, get_or_create_own_set
from annotator.api import set_writes_at_once
from annotator.api.annotation_serializers import DecisionSerializer, SpanSerializer
from annotator.api.tokens import create_token
from annotator.projects.models import Role
from annotator.suggestions.models import Decision, SuggesterVersion, Suggestion, SuggestionKind
from tests.factories import ArticleFactory, MembershipFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db

POSTGRES = connection.vendor == "postgresql"
TEXT = "Sergey Naryshkin visited Minsk on April 15.\u3000Zero\u200bwidth\x85end."


@pytest.fixture
def world(news, settings):
    settings.ANNOTATOR_TOKEN_CACHE_SECONDS = 600  # a slow machine stays inside the token's lifetime
    news.article.text = TEXT
    news.article.save(update_fields=["text"])
    twin = ArticleFactory(project=news.project, text=TEXT, external_id="news-2", title="Twin")
    version = SuggesterVersion.objects.create(project=news.project, name="t", kind="rules", version="1")
    return SimpleNamespace(
        news=news,
        token=create_token(user=news.annotator, name="script", scope="write")[1],
        sets=[news.annotation_set, get_or_create_own_set(article=twin, user=news.annotator)],
        version=version,
    )


def suggest(world, annotation_set, start, end, entity_type=None, kind=SuggestionKind.ENTITY):
    extra = {}
    if kind == SuggestionKind.RELATION:
        news = world.news
        extra = {
            "tail_start": 25,
            "tail_end": 30,
            "tail_entity_type": news.gpe,
            "relation_type": news.visited,
        }
    return Suggestion.objects.create(
        article_id=annotation_set.article_id, suggester_version=world.version, kind=kind, start=start, end=end,
        entity_type=entity_type or world.news.person, score=0.9, source="t", **extra,
    )  # fmt: skip


def post(client, url, body, token, if_match):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    if if_match is not None:
        headers["HTTP_IF_MATCH"] = if_match
    return client.post(url, body, content_type="application/json", **headers)


@pytest.fixture
def usual_way(monkeypatch):
    """Turn the one-statement path off: every request takes the usual way."""

    def off():
        monkeypatch.setattr(set_writes_at_once, "create_span", lambda *args: None)
        monkeypatch.setattr(set_writes_at_once, "decide", lambda *args: None)

    return off


def answer(response):
    body = response.json()
    return response.status_code, response.get("ETag"), body


def without_ids(body, *names):
    return {key: ("<id>" if key in names and value is not None else value) for key, value in body.items()}


def span_rows(annotation_set):
    return [
        (s.start, s.end, s.entity_type_id, s.surface, s.fragments, s.created_by_id)
        for s in Span.objects.filter(annotation_set=annotation_set).order_by("start", "end", "entity_type_id")
    ]


def span_history(annotation_set):
    rows = Span.history.filter(annotation_set_id=annotation_set.pk).order_by("start", "end", "history_id")
    return [
        (h.history_type, h.history_user_id, h.history_change_reason, h.start, h.end, h.entity_type_id,
         h.surface, h.fragments, h.created_by_id, h.id is not None)
        for h in rows
    ]  # fmt: skip


def decision_rows(annotation_set):
    rows = Decision.objects.filter(annotation_set=annotation_set).order_by("suggestion__start", "verdict")
    spans = {s.pk: (s.start, s.end) for s in Span.objects.filter(annotation_set=annotation_set)}
    return [
        (d.suggestion.start, d.verdict, spans.get(d.span_id), d.relation_id, d.link_id, d.decided_by_id,
         {**d.result, "created": [c.split(":")[0] for c in d.result["created"]]})
        for d in rows
    ]  # fmt: skip


def decision_history(annotation_set):
    rows = Decision.history.filter(annotation_set_id=annotation_set.pk).order_by("history_id")
    return [
        (h.history_type, h.history_user_id, h.history_change_reason, h.verdict, h.decided_by_id) for h in rows
    ]


def state(annotation_set):
    current = AnnotationSet.objects.get(pk=annotation_set.pk)
    return (current.version, current.status, span_rows(annotation_set), span_history(annotation_set),
            decision_rows(annotation_set), decision_history(annotation_set))  # fmt: skip


def test_the_white_space_the_statement_refuses_is_exactly_pythons():
    assert sorted(set_writes_at_once.WHITE_SPACE) == sorted(
        chr(c) for c in range(0x110000) if chr(c).strip() == ""
    )
    assert {"\u3000", "\x85", "\x1c", "\u2029"} <= set(set_writes_at_once.WHITE_SPACE)
    assert "\u200b" not in set_writes_at_once.WHITE_SPACE  # Python keeps a zero-width space in a span


@pytest.mark.skipif(not POSTGRES, reason="needs PostgreSQL: a write made in one statement")
def test_a_span_an_acceptance_and_a_rejection_each_cost_one_statement(client, world):
    url_of = {kind: reverse(f"api:set-{kind}", args=[world.sets[0].pk]) for kind in ("spans", "decisions")}
    accepted, rejected = suggest(world, world.sets[0], 25, 30), suggest(world, world.sets[0], 34, 39)
    post(client, url_of["spans"], {"start": 0, "end": 6, "type": "PERSON"}, world.token, '"1"')  # token read
    cases = [
        ("spans", {"start": 7, "end": 16, "type": "PERSON", "text": "Naryshkin"}, '"2"'),
        ("decisions", {"suggestion": accepted.pk, "verdict": "accepted"}, '"3"'),
        ("decisions", {"suggestion": rejected.pk, "verdict": "rejected"}, '"4"'),
    ]
    for kind, body, version in cases:
        with CaptureQueriesContext(connection) as queries:
            response = post(client, url_of[kind], body, world.token, version)
        assert response.status_code == 201, response.json()
        assert [q["sql"][:42] for q in queries] == ['WITH "target" AS MATERIALIZED (SELECT "id"']


@pytest.mark.parametrize(
    "body",
    [
        {"start": 0, "end": 16, "type": "PERSON"},
        {"start": 0, "end": 16, "type": " PERSON ", "text": "Sergey Naryshkin"},
        {"start": 25, "end": 30, "type": "GPE"},
        {"start": 44, "end": 49, "type": "ORG"},  # ends with a zero-width space: not white space to Python
        {"start": 44, "end": 58, "type": "ORG"},  # a next-line character inside
        {"start": 44, "end": 48, "type": "ORG", "text": "Zero"},
    ],
)
@pytest.mark.parametrize("if_match", ['"1"', 'W/"1"', " 1 "])
def test_a_span_made_in_one_statement_is_the_usual_ways_span(client, world, usual_way, body, if_match):
    fast, usual = world.sets
    response = post(client, reverse("api:set-spans", args=[fast.pk]), body, world.token, if_match)
    usual_way()
    expected = post(client, reverse("api:set-spans", args=[usual.pk]), body, world.token, if_match)
    status, etag, found = answer(response)
    assert (status, etag, without_ids(found, "id")) == (
        expected.status_code, expected["ETag"], without_ids(expected.json(), "id")
    )  # fmt: skip
    assert status == 201
    assert found == SpanSerializer(Span.objects.get(annotation_set=fast)).data
    assert response.content == expected.content.replace(
        f'"id":{expected.json()["id"]}'.encode(), f'"id":{found["id"]}'.encode()
    )
    assert state(fast) == state(usual)
    assert state(fast)[0] == 2
    assert len(span_history(fast)) == 1


@pytest.mark.parametrize("reuse", [False, True], ids=["new span", "the set's span"])
@pytest.mark.parametrize("verdict", ["accepted", "rejected"])
def test_a_decision_made_in_one_statement_is_the_usual_ways_decision(
    client, world, usual_way, reuse, verdict
):
    bodies = []
    for annotation_set in world.sets:
        if reuse:
            post(client, reverse("api:set-spans", args=[annotation_set.pk]), {"start": 25, "end": 30, "type": "GPE"},
                 world.token, '"1"')  # fmt: skip
        suggestion = suggest(world, annotation_set, 25, 30, world.news.gpe)
        bodies.append({"suggestion": suggestion.pk, "verdict": verdict})
    version = '"2"' if reuse else '"1"'
    fast, usual = world.sets
    response = post(client, reverse("api:set-decisions", args=[fast.pk]), bodies[0], world.token, version)
    usual_way()
    expected = post(client, reverse("api:set-decisions", args=[usual.pk]), bodies[1], world.token, version)
    assert response.status_code == expected.status_code == 201, (response.json(), expected.json())
    assert response["ETag"] == expected["ETag"]
    found, wanted = response.json(), expected.json()
    decision = Decision.objects.get(annotation_set=fast)
    assert (found["id"], found["suggestion"], found["span"]) == (decision.pk, decision.suggestion_id,
                                                                 decision.span_id)  # fmt: skip
    assert without_ids(found, "id", "suggestion", "span", "created_at") == {
        **without_ids(wanted, "id", "suggestion", "span", "created_at"),
        "result": {
            **wanted["result"],
            "created": [f"span:{found['span']}"] if wanted["result"]["created"] else [],
        },
    }
    assert list(found["result"]) == list(wanted["result"])  # the same keys in the same order
    assert found == DecisionSerializer(decision).data  # the stored row, its date-time too
    assert state(fast) == state(usual)


def test_rejecting_a_relation_suggestion_in_one_statement_is_the_usual_ways(client, world, usual_way):
    fast, usual = world.sets
    bodies = [
        {"suggestion": suggest(world, s, 0, 16, kind=SuggestionKind.RELATION).pk, "verdict": "rejected"}
        for s in world.sets
    ]
    response = post(client, reverse("api:set-decisions", args=[fast.pk]), bodies[0], world.token, '"1"')
    usual_way()
    expected = post(client, reverse("api:set-decisions", args=[usual.pk]), bodies[1], world.token, '"1"')
    assert (
        (response.status_code, response["ETag"]) == (expected.status_code, expected["ETag"]) == (201, '"2"')
    )
    assert state(fast) == state(usual)


# Refusals: each request is answered with the one-statement path on, then off, from the same state; the
# answers must be the same and nothing written. `setup` returns (url, body, token, If-Match).


def _span(world, body, if_match='"1"', token=None, set_index=0):
    url = reverse("api:set-spans", args=[world.sets[set_index].pk])
    return url, body, token or world.token, if_match


def _decision(world, suggestion, verdict="accepted", if_match='"1"'):
    url = reverse("api:set-decisions", args=[world.sets[0].pk])
    return url, {"suggestion": suggestion.pk, "verdict": verdict}, world.token, if_match


def _archived(world):
    world.news.project.archived_at = timezone.now()
    world.news.project.save(update_fields=["archived_at"])
    return _span(world, {"start": 0, "end": 16, "type": "PERSON"})


def _submitted(world):
    AnnotationSet.objects.filter(pk=world.sets[0].pk).update(status=SetStatus.SUBMITTED)
    return _span(world, {"start": 0, "end": 16, "type": "PERSON"})


def _no_overlaps(world):
    world.news.project.allow_overlapping_spans = False
    world.news.project.save(update_fields=["allow_overlapping_spans"])
    Span.objects.create(
        annotation_set=world.sets[0], start=0, end=6, entity_type=world.news.person, surface="Sergey"
    )
    return _span(world, {"start": 0, "end": 16, "type": "PERSON"})


def _trimmed(world):
    world.news.project.trim_span_whitespace = True
    world.news.project.save(update_fields=["trim_span_whitespace"])
    return _span(world, {"start": 16, "end": 30, "type": "PERSON"}, if_match='"7"')  # stale: nothing written


def _others_set(world):
    other = UserFactory(username="bob")
    MembershipFactory(project=world.news.project, user=other, role=Role.ANNOTATOR)
    return _span(world, {"start": 0, "end": 16, "type": "PERSON"},
                 token=create_token(user=other, name="bob", scope="write")[1])  # fmt: skip


def _blind_others_set(world):
    world.news.project.blind = True
    world.news.project.save(update_fields=["blind"])
    return _others_set(world)


def _annotator_on_gold(world):
    world.sets[0] = get_or_create_gold_set(article=world.news.article)
    return _span(world, {"start": 0, "end": 16, "type": "PERSON"})


def _outsider(world):
    outsider = UserFactory(username="mallory")
    MembershipFactory(user=outsider, project=ProjectFactory(name="Other", slug="other"), role=Role.MANAGER)
    return _span(world, {"start": 0, "end": 16, "type": "PERSON"},
                 token=create_token(user=outsider, name="m", scope="write")[1])  # fmt: skip


def _token_of_another_project(world):
    other = ProjectFactory(name="Other", slug="other")
    MembershipFactory(user=world.news.annotator, project=other, role=Role.ANNOTATOR)
    token = create_token(user=world.news.annotator, name="p", scope="write", project=other)[1]
    return _span(world, {"start": 0, "end": 16, "type": "PERSON"}, token=token)


def _read_only_token(world):
    token = create_token(user=world.news.annotator, name="r", scope="read")[1]
    return _span(world, {"start": 0, "end": 16, "type": "PERSON"}, token=token)


def _duplicate(world):
    Span.objects.create(annotation_set=world.sets[0], start=0, end=16, entity_type=world.news.person,
                        surface="Sergey Naryshkin")  # fmt: skip
    return _span(world, {"start": 0, "end": 16, "type": "PERSON"})


def _decided(world):
    suggestion = suggest(world, world.sets[0], 25, 30, world.news.gpe)
    Decision.objects.create(suggestion=suggestion, annotation_set=world.sets[0], verdict="rejected",
                            result={"created": []})  # fmt: skip
    return _decision(world, suggestion)


def _decided_rejecting(world):
    url, body, token, if_match = _decided(world)
    return url, {**body, "verdict": "rejected"}, token, if_match


def _suggestion_of_another_article(world):
    return _decision(world, suggest(world, world.sets[1], 25, 30, world.news.gpe), verdict="rejected")


def _suggestion_with_white_space(world):
    return _decision(world, suggest(world, world.sets[0], 43, 48))  # "\u3000Zero"


def _suggestion_past_the_text(world):
    Suggestion.objects.filter(pk=(s := suggest(world, world.sets[0], 0, 16)).pk).update(start=60, end=99)
    return _decision(world, s)


def _suggestion_of_another_project(world):
    other = ProjectFactory(name="Other", slug="other")
    article = ArticleFactory(project=other, text=TEXT, external_id="x")
    version = SuggesterVersion.objects.create(project=other, name="t", kind="rules", version="1")
    suggestion = Suggestion.objects.create(article=article, suggester_version=version, kind="entity", start=0,
                                           end=16, entity_type=world.news.person, score=0.5, source="t")  # fmt: skip
    return _decision(world, suggestion, verdict="rejected")


REFUSALS = {
    "stale If-Match": lambda w: _span(w, {"start": 0, "end": 16, "type": "PERSON"}, if_match='"5"'),
    "no If-Match": lambda w: _span(w, {"start": 0, "end": 16, "type": "PERSON"}, if_match=None),
    "odd If-Match": lambda w: _span(w, {"start": 0, "end": 16, "type": "PERSON"}, if_match="seven"),
    "no such set": lambda w: (
        reverse("api:set-spans", args=[2**62]),
        {"start": 0, "end": 1, "type": "PERSON"},
        w.token,
        '"1"',
    ),
    "unknown type": lambda w: _span(w, {"start": 0, "end": 16, "type": "PLANET"}),
    "past the text": lambda w: _span(w, {"start": 40, "end": 70, "type": "PERSON"}),
    "empty span": lambda w: _span(w, {"start": 16, "end": 16, "type": "PERSON"}),
    "reversed": lambda w: _span(w, {"start": 16, "end": 3, "type": "PERSON"}),
    "white space at the end": lambda w: _span(w, {"start": 0, "end": 7, "type": "PERSON"}),
    "ideographic space at the start": lambda w: _span(w, {"start": 43, "end": 48, "type": "PERSON"}),
    "next line at the end": lambda w: _span(w, {"start": 49, "end": 55, "type": "PERSON"}),
    "only white space": lambda w: _span(w, {"start": 43, "end": 44, "type": "PERSON"}),
    "other text declared": lambda w: _span(w, {"start": 0, "end": 16, "type": "PERSON", "text": "Sergei"}),
    "duplicate": _duplicate,
    "archived project": _archived,
    "submitted set": _submitted,
    "overlap not allowed": _no_overlaps,
    "trimming project, stale": _trimmed,
    "another annotator's set": _others_set,
    "another annotator's set, blind project": _blind_others_set,
    "gold set, annotator": _annotator_on_gold,
    "outsider": _outsider,
    "token of another project": _token_of_another_project,
    "read-only token": _read_only_token,
    "decided already": _decided,
    "decided already, rejecting": _decided_rejecting,
    "stale decision": lambda w: _decision(w, suggest(w, w.sets[0], 0, 16), if_match='"3"'),
    "suggestion of another article": _suggestion_of_another_article,
    "suggestion of another project": _suggestion_of_another_project,
    "suggestion with white space": _suggestion_with_white_space,
    "suggestion past the text": _suggestion_past_the_text,
    "no such suggestion": lambda w: (
        reverse("api:set-decisions", args=[w.sets[0].pk]),
        {"suggestion": 2**62, "verdict": "accepted"},
        w.token,
        '"1"',
    ),
}


@pytest.mark.parametrize("case", REFUSALS)
def test_a_refusal_is_the_usual_ways_word_for_word_and_writes_nothing(client, world, usual_way, case):
    url, body, token, if_match = REFUSALS[case](world)
    before = state(world.sets[0])
    refused = post(client, url, body, token, if_match)
    assert state(world.sets[0]) == before
    usual_way()
    expected = post(client, url, body, token, if_match)
    assert state(world.sets[0]) == before
    assert refused.status_code >= 400, refused.json()
    assert answer(refused) == answer(expected)
    assert refused.content == expected.content


def test_a_refusal_costs_the_statement_then_the_usual_way(client, world, usual_way):
    url, body, token, if_match = _span(world, {"start": 0, "end": 16, "type": "PERSON"}, if_match='"5"')
    post(client, url, body, token, if_match)  # the token's first use reads it
    with CaptureQueriesContext(connection) as tried:
        post(client, url, body, token, if_match)
    usual_way()
    with CaptureQueriesContext(connection) as usual:
        post(client, url, body, token, if_match)
    assert len(tried) == len(usual) + (1 if POSTGRES else 0)


@pytest.mark.skipif(not POSTGRES, reason="needs PostgreSQL: a write made in one statement")
@pytest.mark.django_db(transaction=True)  # as a request runs: no transaction around it
def test_a_row_written_after_the_statement_s_snapshot_claims_no_version(client, world, monkeypatch):
    """A client that sends its next write before the answer to its last can meet a span that another
    statement wrote after this one's snapshot: the check for an existing span finds none, the insert meets
    the unique key. The statement then fails whole (no version claimed for no row) and the usual way
    answers. Here the check is made blind to the existing span, as the older snapshot is."""
    Span.objects.create(annotation_set=world.sets[0], start=0, end=16, entity_type=world.news.person,
                        surface="Sergey Naryshkin")  # fmt: skip
    sql = set_writes_at_once._statement("span")
    check = '"x"."annotation_set_id" = %(set)s AND "x"."start" = %(start)s'
    assert check in sql
    monkeypatch.setattr(
        set_writes_at_once, "_statement", lambda kind: sql.replace(check, 'FALSE AND "x"."start" = %(start)s')
    )
    before = state(world.sets[0])
    response = post(client, reverse("api:set-spans", args=[world.sets[0].pk]),
                    {"start": 0, "end": 16, "type": "PERSON"}, world.token, '"1"')  # fmt: skip
    assert response.json()["error"]["message"] == "A PERSON span at [0, 16) already exists in this set."
    assert state(world.sets[0]) == before  # version 1, one span, no history row added
