"""Plain text: each .txt file is one article, its external id the file's path without `.txt`.

A single uploaded file is one article; a zip archive (or a folder) of .txt files is one article per file.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, ClassVar

from annotator.interchange.formats.base import DocumentRecord, MemberContext, ProblemLog, StreamReader
from annotator.interchange.formats.lines import read_whole


class PlainText(StreamReader):
    name: ClassVar[str] = "text"
    label: ClassVar[str] = "Plain text (.txt, or a zip of .txt files)"
    suffixes: ClassVar[tuple[str, ...]] = (".txt",)

    def read_member(
        self, stream: IO[bytes], context: MemberContext, problems: ProblemLog
    ) -> Iterator[DocumentRecord]:
        text = read_whole(stream, context.where, problems, max_bytes=context.limits.max_record_bytes)
        if text is not None:
            yield DocumentRecord(text=text, external_id=context.member.stem, where=context.where)
