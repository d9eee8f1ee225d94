"""Reading ahead in a thread: the next batches are parsed and checked while the database writes this one.

An import spends about as long in Python (JSON, checks, hashing) as the database spends writing, and
while it waits on the database the GIL is free; so the reader runs in its own thread, at most `depth`
batches ahead (memory stays constant), and hands over its exceptions with its items. The consumer hands
back what it is done with (`discard`), and the reader frees it: the consumer's time is the database's
waiting time, the reader's is not.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")
_END = object()


class ReadAhead(Generic[T]):
    """Iterate `items` in a background thread; use as a context manager so that leaving early stops it."""

    def __init__(self, items: Iterator[T], *, depth: int = 2) -> None:
        self._queue: queue.Queue[tuple[object, BaseException | None]] = queue.Queue(maxsize=depth)
        self._spent: queue.SimpleQueue[list[object]] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(items,), name="import-read-ahead", daemon=True
        )

    def __enter__(self) -> ReadAhead[T]:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        while self._thread.is_alive():
            with contextlib.suppress(
                queue.Empty
            ):  # make room: a producer blocked on a full queue sees the stop
                self._queue.get(timeout=0.05)
        self._thread.join()

    def discard(self, items: list[Any]) -> None:
        """Hand what the consumer is done with to the reader thread, which frees it before reading on: half
        a million objects a batch (records, spans, rows), freed in the consumer, were a sixth of its time.
        The list is emptied here; its items must have no other references left."""
        self._spent.put(items.copy())
        items.clear()

    def _free(self) -> None:
        while True:
            try:
                self._spent.get_nowait()  # dropped here, in this thread
            except queue.Empty:
                return

    def _put(self, item: object, error: BaseException | None = None) -> bool:
        while not self._stop.is_set():
            self._free()
            try:
                self._queue.put((item, error), timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, items: Iterator[T]) -> None:
        try:
            for item in items:
                if not self._put(item):
                    break
        except BaseException as error:  # handed to the consumer, which raises it
            self._put(None, error)
        else:
            self._put(_END)
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()
        # Read to the end: what the consumer hands back from now on is freed here too, until it leaves.
        while not self._stop.wait(0.01):
            self._free()
        self._free()

    def __iter__(self) -> Iterator[T]:
        while True:
            item, error = self._queue.get()
            if error is not None:
                raise error
            if item is _END:
                return
            yield item  # type: ignore[misc]
