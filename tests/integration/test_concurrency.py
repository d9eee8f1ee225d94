"""Many clients saving to one annotation set at once, through a real gunicorn and the real database."""

import threading

import pytest

from annotator.annotations.models import AnnotationSet, Span
from annotator.api.tokens import create_token
from tests.live import api_call as call
from tests.live import gunicorn

CLIENTS = 8
ROUNDS = 6


@pytest.mark.django_db(transaction=True)
def test_concurrent_saves_to_one_set_exactly_the_current_version_wins_and_nothing_is_lost(news):
    text = "word " * 400
    news.article.text = text
    news.article.save()
    token = create_token(user=news.annotator, name="load", scope="write")[1]
    set_id = news.annotation_set.pk
    results = []
    lock = threading.Lock()
    start_together = threading.Barrier(CLIENTS)

    def client(number, base):
        for round_ in range(ROUNDS):
            status, etag, _ = call("GET", f"{base}/api/v1/sets/{set_id}/", token)
            assert status == 200
            start_together.wait(timeout=60) if round_ == 0 else None
            position = 5 * (number * ROUNDS + round_)  # a distinct word per attempt
            status, new_etag, body = call(
                "POST", f"{base}/api/v1/sets/{set_id}/spans/", token,
                {"start": position, "end": position + 4, "type": "PERSON"}, if_match=etag,
            )  # fmt: skip
            with lock:
                results.append((status, etag, new_etag, position, body))

    with gunicorn(workers=4) as base:
        threads = [threading.Thread(target=client, args=(n, base)) for n in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=180)

    assert len(results) == CLIENTS * ROUNDS
    statuses = sorted({status for status, *_ in results})
    assert set(statuses) <= {201, 412}, results  # a conflict or a success: never a 5xx, never a deadlock
    won = [r for r in results if r[0] == 201]
    lost = [r for r in results if r[0] == 412]
    assert won  # the race really happened: some won,
    assert lost  # and some lost
    saved = set(Span.objects.filter(annotation_set_id=set_id).values_list("start", flat=True))
    assert saved == {position for _, _, _, position, _ in won}  # every acknowledged write is there, no other
    # Each success moved the set from the version it read to the next: versions never fork.
    moves = sorted((int(etag.strip('"')), int(new.strip('"'))) for _, etag, new, _, _ in won)
    assert [after - before for before, after in moves] == [1] * len(won)
    assert len({before for before, _ in moves}) == len(won)
    assert AnnotationSet.objects.get(pk=set_id).version == 1 + len(won)
    for _, _, _, _, body in lost:
        assert body["error"]["code"] == "conflict"
