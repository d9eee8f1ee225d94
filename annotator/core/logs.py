"""How log lines read: each names the request it belongs to, a refusal is one line, JSON lines on request.

No Django import here: gunicorn's configuration (gunicorn.conf.py) uses the formatter before Django loads.

Django logs a 403 or a 404 that a view raised with its whole traceback, and so a refusal that Django
itself makes (a Host it does not serve, a body over its limit: `django.security.*`, at level ERROR). A
refusal is not an error: `RefusalFilter` makes each one a single warning with its status, method, path
and user id; tracebacks stay for real errors (5xx).
"""

from __future__ import annotations

import json
import logging
import logging.config
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

# The id of the request being answered, for every line logged while it is (see RequestIdMiddleware).
REQUEST_ID: ContextVar[str] = ContextVar("request_id", default="-")


def printable(text: str, limit: int = 300) -> str:
    """Text as one log line: control characters (a newline in a URL...) escaped, long text cut."""
    shown = "".join(char if char.isprintable() else ascii(char)[1:-1] for char in text[:limit])
    return shown if len(text) <= limit else f"{shown}…"


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record: the one of the request it is about, else the current one."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = getattr(getattr(record, "request", None), "request_id", None)
        if request_id is None and record.name == "gunicorn.access" and isinstance(record.args, dict):
            request_id = record.args.get("{x-request-id}o")  # gunicorn's access line: the id we answered with
        record.request_id = request_id or REQUEST_ID.get()
        return True


class RefusalFilter(logging.Filter):
    """One line, no traceback, for every 4xx answer (see the module's docstring)."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        refusal = record.name == "django.request" or record.name.startswith("django.security.")
        if refusal and isinstance(status, int) and status < 500 and not getattr(record, "refusal", False):
            request = getattr(record, "request", None)
            _one_line(record, status=status, request=request, reason=_reason(record.getMessage(), request))
        return True


def _reason(message: str, request: Any) -> str:
    """Django's "Forbidden (Permission denied): /path" without the path, which the line says anyway."""
    path = getattr(request, "path", None)
    if not path:
        return message
    escaped = path.encode("unicode_escape").decode("ascii")  # how django.utils.log writes the path
    return message.removesuffix(f": {path}").removesuffix(f": {escaped}")


def _one_line(record: logging.LogRecord, *, status: int, request: Any, reason: str) -> None:
    method = getattr(request, "method", None) or "-"
    path = printable(getattr(request, "path", None) or "-")
    user = user_id(request)
    record.__dict__.update(status_code=status, method=method, path=path, user_id=user, refusal=True)
    record.msg = "%s %s %s user=%s: %s"
    record.args = (status, method, path, user, printable(reason))
    record.levelno, record.levelname = logging.WARNING, "WARNING"
    record.exc_info, record.exc_text, record.stack_info = None, None, None


def user_id(request: Any) -> str:
    """The signed-in user's id, without loading a user nobody has loaded yet (a query while logging)."""
    user = getattr(request, "user", None) if request is not None else None
    wrapped = getattr(user, "_wrapped", user)  # a lazy user the request never used is not set up
    pk = getattr(wrapped, "pk", None)
    return str(pk) if pk is not None else "-"


class JsonLinesFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, request id, message, the refusal's fields, and a
    traceback only where there is one."""

    FIELDS = {"status_code": "status", "method": "method", "path": "path", "user_id": "user"}

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", REQUEST_ID.get()),
            "message": record.getMessage(),
        }
        for attribute, key in self.FIELDS.items():
            if (value := getattr(record, attribute, None)) is not None:
                entry[key] = value
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


def logging_config(*, level: str, json_lines: bool) -> dict[str, Any]:
    """The LOGGING setting (and gunicorn's): every line through the request id and refusal filters."""
    formatter = {"()": JsonLinesFormatter} if json_lines else {"format": PLAIN_FORMAT}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}, "refusals": {"()": RefusalFilter}},
        "formatters": {"annotator": formatter},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "annotator",
                "filters": ["refusals", "request_id"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # Django's default config gives `django` a console handler of its own in DEBUG: without this,
            # every record of it would be written twice, once past the filters, traceback and all.
            "django": {"handlers": [], "level": "INFO", "propagate": True},
            "django.db.backends": {"level": "WARNING"},
        },
    }


def configure(config: dict[str, Any]) -> None:
    """Django's LOGGING_CONFIG: the config, and Python's warnings as log records too (so that in JSON mode
    a library's warning is a JSON line, not raw text in between)."""
    logging.config.dictConfig(config)
    logging.captureWarnings(True)
