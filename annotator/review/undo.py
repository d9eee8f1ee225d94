"""The undo stack of each annotation set, per user, kept in the session so that it survives a reload."""

from __future__ import annotations

from typing import Any

from django.contrib.sessions.backends.base import SessionBase

DEPTH = 30  # how many actions back a person can undo


def _key(set_id: int) -> str:
    return f"undo:{set_id}"


def push(session: SessionBase, set_id: int, operation: dict[str, Any] | None) -> None:
    if operation is None:
        return
    stack = session.get(_key(set_id), [])
    session[_key(set_id)] = [*stack, operation][-DEPTH:]


def pop(session: SessionBase, set_id: int) -> dict[str, Any] | None:
    stack = session.get(_key(set_id), [])
    if not stack:
        return None
    session[_key(set_id)] = stack[:-1]
    return stack[-1]


def depth(session: SessionBase, set_id: int) -> int:
    return len(session.get(_key(set_id), []))
