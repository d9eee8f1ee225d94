"""What the writers share: picking spans a one-layer format can hold, labels without spaces, byte buffers."""

from __future__ import annotations

import re
from collections.abc import Iterable

from annotator.interchange.formats.base import DocumentRecord, LinkRecord, SpanRecord

_WHITESPACE = re.compile(r"\s")


def one_layer(spans: Iterable[SpanRecord]) -> list[SpanRecord]:
    """The spans a format without overlaps can hold: in text order, the longer first where two start
    together, leaving out any span that overlaps one already kept (the nested and crossing ones)."""
    kept: list[SpanRecord] = []
    reach = 0
    for span in sorted(spans, key=lambda s: (s.start, -s.end, s.label)):
        if span.start >= reach:
            kept.append(span)
            reach = span.end
    return kept


def links_by_span(record: DocumentRecord) -> dict[str, LinkRecord]:
    return {link.span: link for link in record.links}


def surface(record: DocumentRecord, span: SpanRecord) -> str:
    """The span's text as the readers check it: discontinuous pieces joined by one space."""
    if not span.fragments:
        return record.text[span.start : span.end]
    return " ".join(record.text[start:end] for start, end in span.fragments)


def token_label(label: str) -> str:
    """A label inside a whitespace-separated format (CoNLL columns, brat lines): spaces become `_`."""
    return _WHITESPACE.sub("_", label)


class Buffer:
    """A write-only stream that hands over what was written so far (for zipfile and csv writing in chunks).

    It has no `tell()` or `seek()`, so zipfile writes a streamable archive (sizes after each member).
    """

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data
