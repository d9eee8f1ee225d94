"""An article's text as a JSON string, made from the UTF-8 bytes PostgreSQL sends.

A JSON Lines export writes each article's text once, as it is stored. Read as `str`, the text cost
psycopg a UTF-8 decode and orjson an encode back to UTF-8 (CPython's encoder for non-Latin-1 text is
the slowest step of the line: a sixth of an export's instructions with the decode). Read as bytes
(`raw_text`), it needs only the escapes orjson would write: a backslash before `\\` and `"`, and `\\n`,
`\\r`, `\\t` for the line breaks and tabs a text holds; a text with any other control character (rare:
imports keep them only from a JSON source) goes through orjson. `test_i29export_json_text` holds
`json_string(text.encode())` to `orjson.dumps(text)` on every code point below 128 and beyond.
"""

from __future__ import annotations

from typing import Any

import orjson
import psycopg
from psycopg.adapt import Loader

# The control characters orjson writes as `\\u00XX`, `\\b` or `\\f` (PostgreSQL text holds no NUL).
_OTHER_CONTROLS = bytes(code for code in range(32) if code not in b"\t\n\r")

# What orjson writes for the other characters a text escapes, in an order where no replacement's
# backslash is escaped again (the backslash first).
_ESCAPES = ((b"\\", b"\\\\"), (b'"', b'\\"'), (b"\n", b"\\n"), (b"\r", b"\\r"), (b"\t", b"\\t"))


def json_string(text: bytes) -> bytes:
    """The JSON string of this UTF-8 text, byte for byte what `orjson.dumps(text.decode())` writes."""
    if len(text.translate(None, _OTHER_CONTROLS)) != len(text):
        return orjson.dumps(text.decode())
    for character, escaped in _ESCAPES:
        # (`find`, not `in`: `in` first tries the bytes as an int, and formats the TypeError it clears)
        if text.find(character) != -1:
            text = text.replace(character, escaped)
    return b"".join((b'"', text, b'"'))


class _Bytes(Loader):
    """Text as its UTF-8 bytes, as they came."""

    def load(self, data: Any) -> bytes:
        return bytes(data)


def raw_text(cursor: psycopg.Cursor[Any]) -> None:
    """Make this cursor read `text` columns as their UTF-8 bytes (varchar columns stay `str`)."""
    cursor.adapters.register_loader("text", _Bytes)
