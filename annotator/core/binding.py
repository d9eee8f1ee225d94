"""Where a person on this machine reaches the server that `manage.py serve` binds (ANNOTATOR_BIND)."""

from __future__ import annotations

import os

DEFAULT_BIND = "127.0.0.1:8000"


def configured_bind() -> str:
    return os.environ.get("ANNOTATOR_BIND", DEFAULT_BIND)


def local_url(bind: str) -> str | None:
    """`http://host:port/` for a `host:port` bind, with a wildcard host read as this machine; None for a
    unix socket or anything else without a port (a proxy in front of it says where to go)."""
    host, _, port = bind.rpartition(":")
    if not port.isdigit():
        return None
    host = host.strip("[]") or "127.0.0.1"
    if host in ("0.0.0.0", "::"):  # noqa: S104 - where to knock, not what to bind
        host = "127.0.0.1"
    return f"http://{host if ':' not in host else f'[{host}]'}:{port}/"
