"""One-statement writes racing another writer (PostgreSQL): a row that writer commits while the statement
waits for the set's row is invisible to the statement's snapshot. The claim of the set's version must
never be written for no row, the span an acceptance reuses must be the span as it is now, and the answer
must be the one the two writes would have got one after the other.

Each race is made deterministic with two connections: the other writer's transaction locks the set's row
without moving its version (as a schema change or a requeue holds the sets it touches, and a merge of
entity types moves spans before it bumps their sets) and writes its rows; the write under test runs in a
thread of its own, takes its snapshot, and waits for the set's row; only once PostgreSQL reports that
wait does the other transaction commit. The write's version check then passes, on rows its snapshot
does not show."""

import threading
import time
from types import SimpleNamespace

import pytest
from django.db import connection, transaction
from django.urls import reverse

from annotator.annotations import services as annotation_services
from annotator.annotations.editing import with_editing_facts
from annotator.annotations.models import AnnotationSet, Span
from annotator.annotations.services import get_or_create_gold_set
from annotator.api.tokens import create_token
from annotator.core.errors import InvalidAnnotation, StaleVersion
from annotator.suggestions import services as decisions
from annotator.suggestions.models import Decision, SuggesterVersion, Suggestion, SuggestionKind, Verdict

POSTGRES = connection.vendor == "postgresql"
pytestmark = [
    pytest.mark.skipif(not POSTGRES, reason="needs PostgreSQL: the one-statement writes and their row locks"),
    pytest.mark.django_db(transaction=True),  # as a request runs: no transaction around it
]

NARYSHKIN = (0, 16)


def race(set_id, other_writer, write):
    """Run `write()` in a thread (its own connection, autocommit) while another transaction that has
    locked the set's row and run `other_writer()` holds it; commit that transaction once `write`'s
    statement waits for the row. What `write` returned or raised."""
    outcome = {}
    connected = threading.Event()

    def run():
        try:
            connection.ensure_connection()
            outcome["pid"] = connection.connection.info.backend_pid
            connected.set()
            outcome["returned"] = write()
        except Exception as error:  # the test looks at what was raised
            outcome["raised"] = error
        finally:
            connected.set()
            connection.close()

    thread = threading.Thread(target=run)
    with transaction.atomic():
        assert AnnotationSet.objects.select_for_update().filter(pk=set_id).exists()
        other_writer()
        thread.start()
        assert connected.wait(timeout=60)
        assert "pid" in outcome, outcome
        deadline = time.monotonic() + 60
        with connection.cursor() as cursor:
            while True:  # poll PostgreSQL's lock table: no sleep stands for the wait itself
                cursor.execute("SELECT pg_backend_pid() = ANY(pg_blocking_pids(%s))", [outcome["pid"]])
                if cursor.fetchone()[0]:
                    break
                assert thread.is_alive(), f"the write never waited for the set's row: {outcome}"
                assert time.monotonic() < deadline, "the write did not reach the set's row in a minute"
                time.sleep(0.005)
    thread.join(timeout=60)
    assert not thread.is_alive()
    return SimpleNamespace(returned=outcome.get("returned"), raised=outcome.get("raised"))


@pytest.fixture
def world(news):
    version = SuggesterVersion.objects.create(project=news.project, name="t", kind="rules", version="1")
    suggestion = Suggestion.objects.create(
        article=news.article, suggester_version=version, kind=SuggestionKind.ENTITY, start=NARYSHKIN[0],
        end=NARYSHKIN[1], entity_type=news.person, score=0.9, source="t",
    )  # fmt: skip
    assert news.annotation_set.version == 1
    return SimpleNamespace(news=news, set_id=news.annotation_set.pk, suggestion=suggestion)


def loaded_set(world):
    """The set as a page or the API reads it for a write: with its article and span rules."""
    return with_editing_facts(AnnotationSet.objects.filter(pk=world.set_id)).get()


def version(world):
    return AnnotationSet.objects.get(pk=world.set_id).version


def span(world, entity_type=None):
    return Span.objects.create(
        annotation_set_id=world.set_id, start=NARYSHKIN[0], end=NARYSHKIN[1],
        entity_type=entity_type or world.news.person, surface="Sergey Naryshkin",
    )  # fmt: skip


def reject_elsewhere(world):
    """The other writer's rejection of the suggestion in the set."""
    return Decision.objects.create(
        suggestion=world.suggestion, annotation_set_id=world.set_id, verdict=Verdict.REJECTED,
        result={"created": []},
    )  # fmt: skip


def history_rows():
    return (Span.history.count(), Decision.history.count())


# A new span (annotations.services.create_span -> add_span_at_once -> rows.insert_with_history_if)


def test_a_span_written_after_the_snapshot_is_refused_as_a_duplicate_and_claims_no_version(world):
    annotation_set = loaded_set(world)
    written = {}
    outcome = race(
        world.set_id,
        lambda: written.setdefault("span", span(world)),
        lambda: annotation_services.create_span(
            annotation_set=annotation_set,
            start=0,
            end=16,
            entity_type=world.news.person,
            by=world.news.annotator,
            expected_version=1,
        ),
    )
    # Before: the claim was written for no row (version 2) and the answer was a stale version.
    assert isinstance(outcome.raised, InvalidAnnotation), outcome
    assert str(outcome.raised) == "A PERSON span at [0, 16) already exists in this set."
    assert version(world) == 1
    assert list(Span.objects.filter(annotation_set_id=world.set_id).values_list("pk", flat=True)) == [
        written["span"].pk
    ]
    assert Span.history.filter(history_type="+").count() == 1  # the other writer's, none of this one


# A rejection (suggestions.services._reject_at_once -> rows.insert_with_history_if)


def test_a_decision_written_after_the_snapshot_refuses_a_rejection_as_decided_and_claims_no_version(world):
    annotation_set = loaded_set(world)
    outcome = race(
        world.set_id,
        lambda: reject_elsewhere(world),
        lambda: decisions.reject_suggestion(
            suggestion=world.suggestion,
            annotation_set=annotation_set,
            by=world.news.annotator,
            expected_version=1,
        ),
    )
    assert isinstance(outcome.raised, InvalidAnnotation), outcome
    assert (
        str(outcome.raised) == "This suggestion was already rejected in this set; undo that decision first."
    )
    assert version(world) == 1
    assert Decision.objects.filter(annotation_set_id=world.set_id).count() == 1


# An acceptance (suggestions.services._decide_entity_at_once)


def accept(world, annotation_set):
    return lambda: decisions.accept_suggestion(
        suggestion=world.suggestion,
        annotation_set=annotation_set,
        by=world.news.annotator,
        expected_version=1,
    )


def test_an_accepted_suggestion_reuses_a_span_written_after_the_snapshot(world):
    annotation_set = loaded_set(world)
    written = {}
    outcome = race(
        world.set_id, lambda: written.setdefault("span", span(world)), accept(world, annotation_set)
    )
    # Before: the claim was written, no decision (version 2), and the answer was a stale version.
    assert outcome.raised is None, outcome.raised
    decision = Decision.objects.get(annotation_set_id=world.set_id)
    assert (decision.pk, decision.span_id) == (outcome.returned.pk, written["span"].pk)
    assert decision.result == {
        "created": [], "span": {"start": 0, "end": 16, "type": "PERSON", "text": "Sergey Naryshkin"},
    }  # fmt: skip
    assert version(world) == 2
    assert Span.objects.filter(annotation_set_id=world.set_id).count() == 1


def test_an_acceptance_after_a_decision_written_after_the_snapshot_is_refused_and_writes_nothing(world):
    annotation_set = loaded_set(world)
    outcome = race(
        world.set_id,
        lambda: reject_elsewhere(world),
        accept(world, annotation_set),
    )
    # Before: the decision's unique key raised an IntegrityError (a 500).
    assert isinstance(outcome.raised, InvalidAnnotation), outcome
    assert (
        str(outcome.raised) == "This suggestion was already rejected in this set; undo that decision first."
    )
    assert version(world) == 1
    assert not Span.objects.filter(annotation_set_id=world.set_id).exists()
    assert history_rows() == (0, 1)


def test_an_acceptance_does_not_reuse_a_span_deleted_while_it_waited(world):
    annotation_set = loaded_set(world)
    doomed = span(world)
    outcome = race(world.set_id, doomed.delete, accept(world, annotation_set))
    # Before: the decision named the deleted span, and its foreign key raised an IntegrityError (a 500).
    assert outcome.raised is None, outcome.raised
    decision = Decision.objects.get(annotation_set_id=world.set_id)
    made = Span.objects.get(annotation_set_id=world.set_id)
    assert made.pk != doomed.pk
    assert (decision.span_id, decision.result["created"]) == (made.pk, [f"span:{made.pk}"])
    assert version(world) == 2


def test_an_acceptance_does_not_reuse_a_span_retyped_while_it_waited(world):
    annotation_set = loaded_set(world)
    retyped = span(world)

    def retype():
        retyped.entity_type = world.news.org
        retyped.save()

    outcome = race(world.set_id, retype, accept(world, annotation_set))
    # Before: the PERSON decision was recorded on the span that is now an ORG.
    assert outcome.raised is None, outcome.raised
    decision = Decision.objects.select_related("span").get(annotation_set_id=world.set_id)
    assert decision.span_id != retyped.pk
    assert (decision.span.start, decision.span.end, decision.span.entity_type_id) == (
        0,
        16,
        world.news.person.pk,
    )
    assert decision.result["created"] == [f"span:{decision.span_id}"]
    assert Span.objects.get(pk=retyped.pk).entity_type_id == world.news.org.pk
    assert version(world) == 2


# The same acceptance through the REST API's one statement (api/set_writes_at_once.py)


def test_the_api_s_acceptance_does_not_reuse_a_span_retyped_while_it_waited(world, client):
    token = create_token(user=world.news.annotator, name="script", scope="write")[1]
    retyped = span(world)

    def retype():
        retyped.entity_type = world.news.org
        retyped.save()

    def post():
        response = client.post(
            reverse("api:set-decisions", args=[world.set_id]),
            {"suggestion": world.suggestion.pk, "verdict": "accepted"}, content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_IF_MATCH='"1"',
        )  # fmt: skip
        return response.status_code, response.get("ETag"), response.json()

    outcome = race(world.set_id, retype, post)
    assert outcome.raised is None, outcome.raised
    status, etag, body = outcome.returned
    made = Span.objects.get(annotation_set_id=world.set_id, entity_type=world.news.person)
    assert (status, etag, body["span"], body["result"]["created"]) == (
        201,
        '"2"',
        made.pk,
        [f"span:{made.pk}"],
    )


def test_an_acceptance_of_a_suggestion_deleted_while_it_waited_is_refused_as_stale_and_writes_nothing(world):
    annotation_set = loaded_set(world)
    outcome = race(
        world.set_id, Suggestion.objects.filter(pk=world.suggestion.pk).delete, accept(world, annotation_set)
    )
    # Before: the decision's foreign key raised an IntegrityError (a 500).
    assert isinstance(outcome.raised, StaleVersion), outcome
    assert str(outcome.raised) == (
        "This annotation set changed since you loaded it (you had version 1, it is now at version None). "
        "Reload to see the changes, then apply yours again."
    )
    assert version(world) == 1
    assert not Span.objects.filter(annotation_set_id=world.set_id).exists()
    assert not Decision.objects.exists()


# The REST API on a gold set: the one statement of api/set_writes_at_once.py covers only annotator sets,
# so a curator's acceptance is suggestions.services' statement.


def test_a_curator_s_acceptance_through_the_api_reuses_a_span_written_while_it_waited(world, client):
    gold = get_or_create_gold_set(article=world.news.article)
    world.set_id = gold.pk
    token = create_token(user=world.news.manager, name="curator", scope="write")[1]
    written = {}

    def post():
        response = client.post(
            reverse("api:set-decisions", args=[gold.pk]),
            {"suggestion": world.suggestion.pk, "verdict": "accepted"}, content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_IF_MATCH=f'"{gold.version}"',
        )  # fmt: skip
        return response.status_code, response.get("ETag"), response.json()

    outcome = race(gold.pk, lambda: written.setdefault("span", span(world)), post)
    # Before: 412 (the claim written for no row moved the version) and the version moved.
    assert outcome.raised is None, outcome.raised
    status, etag, body = outcome.returned
    assert (status, etag) == (201, f'"{gold.version + 1}"'), body
    assert (body["span"], body["result"]["created"]) == (written["span"].pk, [])
    assert version(world) == gold.version + 1
    assert Span.objects.filter(annotation_set_id=gold.pk).count() == 1


def test_a_correction_reuses_a_span_of_the_corrected_type_written_while_it_waited(world):
    annotation_set = loaded_set(world)
    written = {}
    outcome = race(
        world.set_id,
        lambda: written.setdefault("span", span(world, world.news.org)),
        lambda: decisions.correct_suggestion(
            suggestion=world.suggestion,
            annotation_set=annotation_set,
            by=world.news.annotator,
            expected_version=1,
            entity_type=world.news.org,
        ),
    )
    # Before: the claim was written, no decision (version 2), and the answer was a stale version.
    assert outcome.raised is None, outcome.raised
    decision = Decision.objects.get(annotation_set_id=world.set_id)
    assert (decision.verdict, decision.span_id, decision.result["created"]) == (
        Verdict.CORRECTED, written["span"].pk, [],
    )  # fmt: skip
    assert version(world) == 2
    assert Span.objects.filter(annotation_set_id=world.set_id).count() == 1
