"""No 500 from any number: offsets of every size and type on every span write path (the REST API and the
annotate page's actions) are a 400 that names the field, on PostgreSQL and SQLite, and nothing is written.

The offsets that once reached PostgreSQL's SUBSTRING as a bigint (2^31 and up) are here, with the ones a
64-bit or a JavaScript client can send (2^53, 2^63, 2^64), a negative one, and a string.
"""

import pytest
from django.urls import reverse

from annotator.annotations import services
from annotator.annotations.models import Span
from annotator.api.tokens import create_token
from annotator.core.errors import InvalidAnnotation
from annotator.suggestions.models import Decision
from tests.factories import SuggestionFactory

pytestmark = pytest.mark.django_db

LIMIT = 2147483647
HOSTILE = [2**31, 2**53, 2**63, 2**64, -1]


def out_of_range(name, value):
    return f"'{name}' must be a whole number from 0 to {LIMIT} (got {value})."


def string_refused(name, value):
    return f"'{name}' must be a JSON integer, not a string (got {value!r})."


@pytest.fixture
def api(client, news):
    token = create_token(user=news.annotator, name="numbers", scope="write")[1]

    def send(method, url, body, content_type="application/json"):
        version = news.annotation_set.version
        news.annotation_set.refresh_from_db()
        return getattr(client, method)(
            url,
            body,
            content_type=content_type,
            HTTP_AUTHORIZATION=f"Bearer {token}",
            HTTP_IF_MATCH=f'"{version}"',
        )

    return send


def refused(response, field, message):
    assert response.status_code == 400, response.content
    assert response.json() == {
        "error": {
            "code": "invalid",
            "message": "The request is not valid; see the fields.",
            "fields": {field: [message]},
        }
    }


@pytest.fixture
def minsk(news):
    return services.create_span(
        annotation_set=news.annotation_set, start=25, end=30, entity_type=news.gpe, by=news.annotator,
        expected_version=news.annotation_set.version,
    )  # fmt: skip


# The REST API. Each test tries every value in turn: none of them writes anything, so they share one
# set-up (the database work of a fixture costs more than a request).

FIELDS = ["start", "end"]


def expected(field, value):
    return string_refused(field, value) if isinstance(value, str) else out_of_range(field, value)


def test_creating_a_span_with_any_offset_outside_the_integer_range_or_a_string_is_a_400(api, news):
    for field in FIELDS:
        for value in [*HOSTILE, "0"]:
            body = {"start": 0, "end": 6, "type": "PERSON", field: value}
            response = api("post", reverse("api:set-spans", args=[news.annotation_set.pk]), body)
            refused(response, field, expected(field, value))
    assert Span.objects.count() == 0


def test_a_form_encoded_body_sends_offsets_as_digits_and_nothing_else(api, news):
    url = reverse("api:set-spans", args=[news.annotation_set.pk])
    form = "application/x-www-form-urlencoded"
    superscript = api("post", url, "start=%C2%B2&end=6&type=PERSON", content_type=form)
    refused(superscript, "start", "'start' must be a whole number written with the digits 0-9 (got '²').")
    huge = api("post", url, f"start=0&end={2**64}&type=PERSON", content_type=form)
    refused(huge, "end", out_of_range("end", repr(str(2**64))))
    made = api("post", url, "start=0&end=6&type=PERSON", content_type=form)
    assert made.status_code == 201
    assert list(Span.objects.values_list("start", "end", "surface")) == [(0, 6, "Sergey")]


def test_moving_a_span_with_any_hostile_offset_is_a_400_and_the_span_stays(api, news, minsk):
    for field in FIELDS:
        for value in [*HOSTILE, "0"]:
            response = api("patch", reverse("api:span-detail", args=[minsk.pk]), {field: value})
            refused(response, field, expected(field, value))
    assert list(Span.objects.values_list("start", "end")) == [(25, 30)]


def test_correcting_a_suggestion_with_any_hostile_offset_is_a_400(api, news):
    suggestion = SuggestionFactory(article=news.article, start=25, end=30, entity_type=news.person)
    for field in FIELDS:
        for value in [*HOSTILE, "0"]:
            body = {"suggestion": suggestion.pk, "verdict": "corrected", field: value}
            response = api("post", reverse("api:set-decisions", args=[news.annotation_set.pk]), body)
            refused(response, field, expected(field, value))
    assert (Decision.objects.count(), Span.objects.count()) == (0, 0)


def test_the_largest_offset_the_field_takes_is_refused_by_the_text_not_the_database(api, news):
    body = {"start": LIMIT - 1, "end": LIMIT, "type": "PERSON"}
    response = api("post", reverse("api:set-spans", args=[news.annotation_set.pk]), body)
    assert response.status_code == 400
    message = f"The span [{LIMIT - 1}, {LIMIT}) ends after the text, which has 43 characters."
    assert response.json()["error"] == {"code": "invalid", "message": message, "fields": {"start": [message]}}


def test_the_schema_documents_offsets_as_bounded_integers(client, news):
    client.force_login(news.annotator)
    schemas = client.get("/api/v1/schema/?format=json").json()["components"]["schemas"]
    for name in ["SpanCreateRequest", "PatchedSpanChangeRequest", "DecisionCreateRequest"]:
        for field in ["start", "end"]:
            offset = schemas[name]["properties"][field]
            assert (offset["type"], offset["minimum"], offset["maximum"]) == ("integer", 0, LIMIT)
            assert 'a string such as \\"12\\" is refused' in str(offset["description"]).replace('"', '\\"')


# The services, called by anything else (commands, jobs): any integer is a domain error, never a
# database error (PostgreSQL's SUBSTRING takes an integer, not a bigint).


def test_the_span_services_refuse_any_integer_outside_the_text(news, minsk):
    for start, end in [(2**31, 2**31 + 1), (0, 2**63), (2**64, 2**64 + 5), (-1, 2**31)]:
        news.annotation_set.refresh_from_db()
        with pytest.raises(InvalidAnnotation) as created:
            services.create_span(
                annotation_set=news.annotation_set, start=start, end=end, entity_type=news.person,
                by=news.annotator, expected_version=news.annotation_set.version,
            )  # fmt: skip
        assert created.value.field == "start"
        with pytest.raises(InvalidAnnotation):
            services.change_span(
                span=minsk,
                start=start,
                end=end,
                by=news.annotator,
                expected_version=news.annotation_set.version,
            )
    assert list(Span.objects.values_list("start", "end")) == [(25, 30)]


# The annotate page's actions (form posts: every value is text)

HTMX = {"HTTP_HX_REQUEST": "true"}


def act(client, news, action, **data):
    data.setdefault("version", news.annotation_set.version)
    return client.post(reverse("review:act", args=[news.article.pk, action]), data, **HTMX)


def page_refused(response, message):
    assert response.status_code == 400
    assert message.replace("'", "&#x27;") in response.content.decode()


def test_the_page_refuses_any_offset_outside_the_integer_range(client, news, minsk):
    client.force_login(news.annotator)
    suggestion = SuggestionFactory(article=news.article, start=0, end=6, entity_type=news.person)
    for field in FIELDS:
        for value in HOSTILE:
            message = out_of_range(field, repr(str(value)))
            data = {"start": 0, "end": 6, field: value}
            page_refused(act(client, news, "create-span", entity_type=news.person.pk, **data), message)
            page_refused(act(client, news, "change-span", span=minsk.pk, **{field: value}), message)
            page_refused(act(client, news, "correct", suggestion=suggestion.pk, **{field: value}), message)
    assert list(Span.objects.values_list("start", "end")) == [(25, 30)]
    assert Decision.objects.count() == 0


def test_the_page_takes_offsets_written_with_the_digits_0_to_9_only(client, news):
    client.force_login(news.annotator)
    for value in ["²", "١٢", "1_0", " 5", "+5", "5.0", "0x10"]:
        response = act(client, news, "create-span", start=value, end=6, entity_type=news.person.pk)
        page_refused(response, f"'start' must be a whole number written with the digits 0-9 (got {value!r}).")
    assert Span.objects.count() == 0
    accepted = act(client, news, "create-span", start="0", end="6", entity_type=news.person.pk)
    assert accepted.status_code == 200
    assert list(Span.objects.values_list("start", "end", "surface")) == [(0, 6, "Sergey")]


def test_other_numbers_the_page_sends_are_refused_not_a_500(client, news, minsk):
    client.force_login(news.annotator)
    for value in ["²", "9" * 40, str(2**64)]:
        stale = act(client, news, "create-span", version=value, start=0, end=6, entity_type=news.person.pk)
        page_refused(stale, "The page did not say which version of the set it holds; reload it.")
        deleted = act(client, news, "delete-span", span=value)
        if value == "²":
            page_refused(deleted, "'span' must be a whole number (got '²').")
        else:
            assert deleted.status_code == 404
        candidates = client.get(reverse("review:candidates", args=[news.article.pk]), {"span": value})
        assert candidates.status_code == 404
        kb_entity = client.post(
            reverse("review:new_kb_entity", args=[news.article.pk]),
            {"version": news.annotation_set.version, "knowledge_base": value, "name": "X", "span": minsk.pk},
            **HTMX,
        )
        page_refused(kb_entity, "Choose the knowledge base the new entity goes into.")
    assert list(Span.objects.values_list("start", "end")) == [(25, 30)]


# Other numbers that pages and the API read from text: "²" passes str.isdigit() but not int(), and a
# number past 2^63 does not fit a key. Each is "no such thing" or a plain refusal, never a 500.

NOT_NUMBERS = ["²", "١٢", str(2**63), str(2**64), "9" * 30, "9" * 120]


def test_ids_and_versions_read_from_text_are_never_a_500(client, news):
    client.force_login(news.manager)
    for value in NOT_NUMBERS:
        assert statuses_for(client, news, value) == {
            "guidelines": 200, "kb browse": 200, "kb api": 200, "import again": 404, "curation take": 404,
            "token": 404,
        }, value  # fmt: skip


def statuses_for(client, news, value):
    project = news.project.pk
    article = news.article.pk
    answers = {
        "guidelines": client.get(reverse("projects:guidelines", args=[project]), {"version": value}),
        "kb browse": client.get(reverse("kb:list", args=[project]), {"kb": news.kb.pk, "after": value}),
        "kb api": client.get(reverse("api:kb-entity-list", args=[project]), {"knowledge_base": value}),
        "import again": client.post(reverse("interchange:imports", args=[project]), {"again": value}),
        "curation take": client.post(
            reverse("review:take", args=[article]), {"version": value, "id": value, "item": "span"}, **HTMX
        ),
        "token": client.post(
            reverse("api:token-list"), {"name": "x", "project": value}, content_type="application/json"
        ),
    }
    return {name: response.status_code for name, response in answers.items()}
