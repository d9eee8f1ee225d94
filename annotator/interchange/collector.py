"""Python's cyclic garbage collector held off while an import runs.

An import makes millions of short-lived objects (records, spans, row tuples), none of them in a reference
cycle: reference counting frees each one as soon as its batch is written, whatever the collector does.
The collector still runs every 700 new objects and, every so often, walks every live object of the
process: 40% of the importer's CPU for 495,944 spans (5.0-5.2 s -> 2.8-3.0 s of CPU with it off, A/B on
bench/import.py), for nothing found. So it is off for the import and back on after, however the import
ends. Imports in two threads of one process share the pause: the collector comes back with the last.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_holders = 0
_was_enabled = False


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run the block with the cyclic garbage collector off (as it was before once every holder is done)."""
    global _holders, _was_enabled
    with _lock:
        if _holders == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _was_enabled:
                gc.enable()
