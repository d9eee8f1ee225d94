"""Typed access to fields of parsed JSON, with messages that name the field and say what was expected."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar, cast

from annotator.interchange.formats.base import ProblemLog, Where

T = TypeVar("T")

_KINDS: dict[type, str] = {
    str: "a string",
    int: "a whole number",
    list: "a list",
    dict: "an object",
    bool: "true or false",
}


def json_kind(value: Any) -> str:
    """How JSON would name the value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    for kind, name in (
        (str, "a string"), (int, "a number"), (float, "a number"), (list, "a list"), (dict, "an object"),
    ):  # fmt: skip
        if isinstance(value, kind):
            return name
    return type(value).__name__


class Invalid(Exception):
    """One field of a record is wrong; `field` is its path, e.g. `entities[2].start`."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def get(obj: dict[str, Any], key: str, kind: type[T], path: str, *, required: bool = True) -> T | None:
    """obj[key] checked to be of `kind`; None when it is absent (or null) and not required."""
    field = f"{path}.{key}" if path else key
    value = obj.get(key)
    if value is None:
        if required:
            raise Invalid(field, f"The field {key!r} is missing.")
        return None
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise Invalid(field, f"{key!r} must be a whole number, not {json_kind(value)}.")
    elif not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise Invalid(field, f"{key!r} must be {_KINDS.get(kind, kind.__name__)}, not {json_kind(value)}.")
    return cast(T, value)


def require(obj: dict[str, Any], key: str, kind: type[T], path: str) -> T:
    value = get(obj, key, kind, path)
    assert value is not None  # get() raised if it was missing
    return value


def offset(obj: dict[str, Any], key: str, path: str) -> int:
    value = require(obj, key, int, path)
    if value < 0:
        raise Invalid(f"{path}.{key}", f"{key!r} cannot be negative (got {value}).")
    return value


def identifier(value: Any, field: str) -> str:
    """An id given as a string or a number (doccano numbers its entities), as a string."""
    if value == "":
        raise Invalid(field, "An id cannot be empty.")
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise Invalid(field, f"An id must be a non-empty string or a number, not {json_kind(value)}.")
    return str(value)


def each(items: list[Any], path: str, parse: Callable[[Any, str], T], errors: list[Invalid]) -> Iterator[T]:
    """parse(item, its path) for every item, collecting every item's error instead of stopping at the first."""
    for index, item in enumerate(items):
        item_path = f"{path}[{index}]"
        try:
            if not isinstance(item, dict):
                raise Invalid(item_path, f"Each item of {path!r} must be an object, not {json_kind(item)}.")
            yield parse(item, item_path)
        except Invalid as error:
            errors.append(error)


@contextmanager
def collecting(errors: list[Invalid]) -> Iterator[None]:
    try:
        yield
    except Invalid as error:
        errors.append(error)


def report(errors: list[Invalid], problems: ProblemLog, where: Where) -> None:
    for error in errors:
        problems.add(where, error.message, field=error.field)


def ijson_reason(error: Exception) -> str:
    """What ijson's error says is wrong, in words (its messages come as bytes, and vary by backend)."""
    message: Any = error.args[0] if error.args else ""
    message = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    reason = message.strip().splitlines()[0].rstrip(".") if message.strip() else type(error).__name__
    if "premature EOF" in reason or "Incomplete JSON" in reason:
        return "the file ends in the middle of the JSON: it looks cut short"
    if "invalid bytes in UTF8" in reason or isinstance(error, UnicodeDecodeError):
        return "the text is not UTF-8; save the file as UTF-8"
    return reason
