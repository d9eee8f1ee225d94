"""Reading text out of byte streams, line by line, with every encoding problem reported where it is."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

from annotator.interchange.formats.base import ProblemLog, Where

BOM = b"\xef\xbb\xbf"


def bounded_lines(stream: IO[bytes], *, max_bytes: int) -> Iterator[tuple[int, bytes | None]]:
    """(line number, the line's bytes with its line ending), or None for a line longer than `max_bytes`,
    which is skipped without ever being held in memory whole."""
    number = 0
    while line := stream.readline(max_bytes + 1):
        number += 1
        if len(line) > max_bytes and not line.endswith(b"\n"):
            while (rest := stream.readline(2**20)) and not rest.endswith(b"\n"):
                pass  # the rest of the overlong line, a megabyte at a time
            yield number, None
            continue
        yield number, line


UTF16_MESSAGE = "The file is UTF-16 text, not UTF-8: save it as UTF-8 and import it again."


XML_MESSAGE = (
    "The file is XML (an INCEpTION or DKPro UIMA CAS XMI export, perhaps), which this format does not read: "
    "export brat, CoNLL or JSON from the tool instead."
)


def is_utf16(head: bytes) -> bool:
    """Whether the file starts like UTF-16 text: its byte order mark, or ASCII letters each followed (or
    preceded) by a zero byte."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True
    pairs = head[:8]
    return len(pairs) >= 4 and (
        pairs[1::2] == bytes(len(pairs) // 2) or pairs[0::2] == bytes(len(pairs[0::2]))
    )


def byte_lines(
    stream: IO[bytes], where: Where, problems: ProblemLog, *, max_bytes: int
) -> Iterator[tuple[int, bytes]]:
    """(line number, the line's bytes with its line ending), a UTF-8 byte order mark dropped.

    A line longer than `max_bytes` is reported and skipped. A UTF-16 file is reported once, as that, and
    not read (every line of it would be undecodable, and its zero bytes confuse parsers).
    """
    for number, line in bounded_lines(stream, max_bytes=max_bytes):
        if number == 1 and line is not None and is_utf16(line):
            problems.add(where, UTF16_MESSAGE, line=1)
            return
        if number == 1 and line is not None and line.removeprefix(BOM).lstrip().startswith(b"<?xml"):
            problems.add(where, XML_MESSAGE, line=1)
            return
        if line is None:
            problems.add(
                where, f"The line is longer than {max_bytes:,} bytes, the limit for one record.", line=number
            )
            continue
        yield number, line[len(BOM) :] if number == 1 and line.startswith(BOM) else line


def decode(data: bytes, where: Where, problems: ProblemLog, *, line: int | None = None) -> str | None:
    """The bytes as UTF-8 text, or None with the first undecodable byte reported (line and column)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        before = data[: error.start]
        at_line = (line or 1) + before.count(b"\n")
        column = len(before[before.rfind(b"\n") + 1 :].decode("utf-8", "replace")) + 1
        problems.add(
            where,
            f"The text is not UTF-8: byte 0x{data[error.start]:02x} at column {column} cannot be read. "
            "Save the file as UTF-8.",
            line=at_line if line is not None or b"\n" in data else None,
        )
        return None


def read_whole(stream: IO[bytes], where: Where, problems: ProblemLog, *, max_bytes: int) -> str | None:
    """A whole member as text (a .txt article, a brat .ann file), refused past `max_bytes`."""
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        problems.add(where, f"The file is larger than {max_bytes:,} bytes, the limit for one document.")
        return None
    if data.startswith(BOM):
        data = data[len(BOM) :]
    if is_utf16(data):
        problems.add(where, UTF16_MESSAGE)
        return None
    return decode(data, where, problems, line=1)
