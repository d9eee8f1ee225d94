"""The pipeline in a child process (`nlp.PipeProcess`): the same analyses as in this process, to the last
score and sentence, and a child that fails, dies or is left early never hangs its parent."""

import multiprocessing
import os
import signal
import time

import pytest

from annotator.suggestions.nlp import PipeProcess, PipeProcessFailed
from tests.unit.test_analysis_pinned import MERGE, TEXTS
from tests.unit.test_analysis_pinned import suggester as suggester  # the pinned fixture

MANY = [f"{text}\n\nItem {n}." for n in range(12) for text in TEXTS.values()]  # 48 texts, 12 batches of 4


def test_the_child_process_gives_exactly_the_analyses_of_this_one(suggester):
    here = list(suggester.analyse(MANY, merge=MERGE, keep_candidates=True, batch_size=4))
    with PipeProcess(suggester, batch_size=4) as process:
        there = list(
            suggester.analyse(MANY, merge=MERGE, keep_candidates=True, batch_size=4, process=process)
        )
        assert there == here
        # One child serves one `analyse` after another.
        again = list(suggester.analyse(MANY[:5], merge=MERGE, batch_size=4, process=process))
        assert again == list(suggester.analyse(MANY[:5], merge=MERGE, batch_size=4))
    assert len(here) == 48
    assert sum(len(a.entities) for a in here) > 48 * 8
    assert multiprocessing.active_children() == []


def test_a_failure_in_the_child_comes_back_with_its_traceback(suggester):
    texts = [*MANY[:6], None, *MANY[6:]]  # a text the pipeline cannot prepare, in the second batch
    with PipeProcess(suggester, batch_size=4) as process:
        analyses = suggester.analyse(texts, merge=MERGE, batch_size=4, process=process)
        first = [next(analyses) for _ in range(4)]
        with pytest.raises(PipeProcessFailed, match=r"(?s)process failed:.*AttributeError: 'NoneType'"):
            next(analyses)
    assert first == list(suggester.analyse(MANY[:4], merge=MERGE))
    assert multiprocessing.active_children() == []


def test_a_child_that_dies_is_reported_and_one_left_early_is_ended(suggester):
    with PipeProcess(suggester, batch_size=4) as process:
        analyses = suggester.analyse(MANY, merge=MERGE, batch_size=4, process=process)
        next(analyses)
        (child,) = multiprocessing.active_children()
        assert child.pid is not None
        os.kill(child.pid, signal.SIGKILL)
        with pytest.raises(PipeProcessFailed, match=r"The pipeline's process ended \(exit code -9\)\."):
            list(analyses)
    with PipeProcess(suggester, batch_size=4) as process:
        analyses = suggester.analyse(MANY, merge=MERGE, batch_size=4, process=process)
        next(analyses)
        analyses.close()  # the caller stops with batches still in the child
    assert multiprocessing.active_children() == []


def _parent_of_a_pipe_process(suggester, pids):
    process = PipeProcess(suggester)
    (child,) = multiprocessing.active_children()
    pids.send(child.pid)
    signal.pause()  # until killed
    process.close()


def test_the_child_of_a_parent_killed_outright_ends_by_itself(suggester):
    receiving, sending = multiprocessing.Pipe(duplex=False)
    parent = multiprocessing.get_context("fork").Process(
        target=_parent_of_a_pipe_process, args=(suggester, sending)
    )
    parent.start()
    child = receiving.recv()
    os.kill(parent.pid, signal.SIGKILL)
    parent.join()
    # The orphan notices within a second or two that its parent is gone: waited for, up to a minute.
    for _ in range(600):
        try:
            with open(f"/proc/{child}/stat") as stat:
                state = stat.read().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            break
        if state == "Z":  # ended, waiting for whoever adopted it to collect it
            break
        time.sleep(0.1)
    else:
        os.kill(child, signal.SIGKILL)
        pytest.fail("the pipeline's child outlived its killed parent for a minute")
