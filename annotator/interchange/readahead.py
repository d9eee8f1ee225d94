"""Reading ahead in a thread: the next batches are parsed and checked while the database writes this one.

An import spends about as long in Python (JSON, checks, hashing) as the database spends writing, and
while it waits on the database the GIL is free; so the reader runs in its own thread, at most `depth`
batches ahead (memory stays constant), and hands over its exceptions with its items.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator
from typing import Generic, TypeVar

T = TypeVar("T")
_END = object()


class ReadAhead(Generic[T]):
    """Iterate `items` in a background thread; use as a context manager so that leaving early stops it."""

    def __init__(self, items: Iterator[T], *, depth: int = 2) -> None:
        self._queue: queue.Queue[tuple[object, BaseException | None]] = queue.Queue(maxsize=depth)
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

    def _put(self, item: object, error: BaseException | None = None) -> bool:
        while not self._stop.is_set():
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
            return
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()
        self._put(_END)

    def __iter__(self) -> Iterator[T]:
        while True:
            item, error = self._queue.get()
            if error is not None:
                raise error
            if item is _END:
                return
            yield item  # type: ignore[misc]
