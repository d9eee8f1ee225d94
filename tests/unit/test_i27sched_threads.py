"""Web processes serve requests in threads (gunicorn.conf.py): a suggester's gazetteer is not changed
while another thread runs its pipeline (annotator.suggestions.nlp.pipeline.Suggester)."""

import threading

from spacy.language import Language

from annotator.suggestions import nlp
from annotator.suggestions.nlp import Pattern

TEXT = "Sergey Naryshkin visited Minsk on April 15."
inside, go_on = threading.Event(), threading.Event()


@Language.component("i27sched_pause")
def pause(doc):
    """Holds the pipeline at its end until the test lets it go on."""
    inside.set()
    assert go_on.wait(60)
    return doc


def test_patterns_change_only_after_a_batch_another_thread_is_analysing_is_done():
    suggester = nlp.build_suggester()
    suggester.ensure_patterns("v1", lambda: [Pattern("PERSON", "Sergey Naryshkin", "kb:sergey-naryshkin")])
    suggester.nlp.add_pipe("i27sched_pause", last=True)
    found = []
    analysing = threading.Thread(
        target=lambda: found.extend(
            (e.start, e.end, e.source) for e in next(suggester.analyse([TEXT])).entities
        )
    )
    changing = threading.Thread(target=lambda: suggester.ensure_patterns("v2", lambda: []))
    analysing.start()
    assert inside.wait(60)  # the pipeline is running, in the other thread
    changing.start()
    changing.join(timeout=1)
    still_waiting = changing.is_alive()
    go_on.set()
    analysing.join(timeout=60)
    changing.join(timeout=60)
    assert still_waiting  # the gazetteer waited for the batch under way
    assert (0, 16, "kb-ruler") in found  # which was read with the patterns it started with
    assert suggester.fingerprint == "v2"
    assert [e.source for e in next(suggester.analyse([TEXT])).entities if e.start == 0] != ["kb-ruler"]
