"""The cyclic garbage collector is off while an import runs and comes back as it was, however it ends."""

import gc
import threading

import pytest

from annotator.interchange.collector import collector_paused


@pytest.fixture(autouse=True)
def collector_on():
    gc.enable()
    yield
    gc.enable()


def test_the_collector_is_off_in_the_block_and_on_after():
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_it_comes_back_after_an_exception():
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("refused")
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off():
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()


def test_two_overlapping_imports_share_the_pause_and_the_last_one_out_turns_it_back_on():
    first_in, second_out, seen = threading.Event(), threading.Event(), []

    def second() -> None:
        first_in.wait()
        with collector_paused():
            pass
        seen.append(gc.isenabled())  # the first import still runs: still off
        second_out.set()

    thread = threading.Thread(target=second)
    thread.start()
    with collector_paused():
        first_in.set()
        second_out.wait(timeout=10)
        assert not gc.isenabled()
    thread.join()
    assert seen == [False]
    assert gc.isenabled()
