"""Which function runs each kind of job. Apps register their handlers when they load."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from annotator.jobs.chunks import ChunkedHandler
    from annotator.jobs.models import Job
    from annotator.jobs.progress import Progress

JobHandler = Callable[["Job", "Progress"], dict[str, Any]]

_handlers: dict[str, JobHandler | ChunkedHandler] = {}


def register(kind: str) -> Callable[[JobHandler], JobHandler]:
    """Register the handler of a job kind that runs in one worker. It returns the job's result, or raises
    JobFailed."""

    def decorator(handler: JobHandler) -> JobHandler:
        _add(kind, handler)
        return handler

    return decorator


def register_chunked(kind: str, handler: ChunkedHandler) -> ChunkedHandler:
    """Register a job kind whose chunks any number of workers share (see jobs/chunks.py)."""
    _add(kind, handler)
    return handler


def _add(kind: str, handler: JobHandler | ChunkedHandler) -> None:
    if kind in _handlers and _handlers[kind] is not handler:
        raise ValueError(f"A handler for {str(kind)!r} jobs is already registered.")
    _handlers[kind] = handler


def handler_for(kind: str) -> JobHandler | ChunkedHandler:
    try:
        return _handlers[kind]
    except KeyError:
        raise LookupError(f"No handler is registered for {str(kind)!r} jobs.") from None
