"""Which function runs each kind of job. Apps register their handlers when they load."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from annotator.jobs.models import Job
    from annotator.jobs.progress import Progress

JobHandler = Callable[["Job", "Progress"], dict[str, Any]]

_handlers: dict[str, JobHandler] = {}


def register(kind: str) -> Callable[[JobHandler], JobHandler]:
    """Register the handler of a job kind. It returns the job's result, or raises JobFailed."""

    def decorator(handler: JobHandler) -> JobHandler:
        if kind in _handlers and _handlers[kind] is not handler:
            raise ValueError(f"A handler for {str(kind)!r} jobs is already registered.")
        _handlers[kind] = handler
        return handler

    return decorator


def handler_for(kind: str) -> JobHandler:
    try:
        return _handlers[kind]
    except KeyError:
        raise LookupError(f"No handler is registered for {str(kind)!r} jobs.") from None
