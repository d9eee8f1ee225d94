"""CoNLL 2003 and IOB2: one token per line, its entity tag in the last column.

`-DOCSTART-` lines start a new document (a file without them is one document), blank lines end
sentences. Tags are `O`, `B-TYPE` and `I-TYPE`; an `I-` tag that does not continue an entity of its type
starts one, so both IOB1 (CoNLL 2003) and IOB2 read the same way. The text is rebuilt as the format
implies: tokens joined by one space, sentences by a line break. Documents have no external id, so
re-imports recognise them by their text. A line starting with `# ` whose last column is not a tag is a
comment (exports name their tokenizer in one: `# tokenizer: spacy 3.8.18 blank:en`).

The writer tokenises with spaCy (`tokens.py`), cutting tokens at entity edges too, and tags IOB2. One
token layer holds no overlaps: the outermost spans are kept (`writing.one_layer`), the nested and
crossing ones left out. Sentences end where spaCy's sentencizer starts one or the text breaks a line,
never inside an entity; labels with spaces get `_` instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import IO, ClassVar

from annotator.interchange.formats.base import (
    DocumentRecord,
    MemberContext,
    ProblemLog,
    SpanRecord,
    StreamReader,
    Where,
)
from annotator.interchange.formats.lines import byte_lines, decode
from annotator.interchange.formats.tokens import pieces, tokenizer_name
from annotator.interchange.formats.writing import one_layer, token_label

_NOT_SPACE = re.compile(r"\S+")


def is_tag(tag: str) -> bool:
    return tag == "O" or (tag[:2] in ("B-", "I-") and len(tag) > 2)


class _Document:
    """The document being rebuilt: its text so far, its finished spans and the one still open."""

    def __init__(self, where: Where) -> None:
        self.where = where
        self.parts: list[str] = []
        self.length = 0
        self.spans: list[SpanRecord] = []
        self.open: tuple[str, int, int, Where] | None = None  # label, start, end, where it began
        self.sentence_started = False
        self.too_long = False

    def add_token(self, token: str, tag: str, at: Where) -> None:
        if self.sentence_started:
            self.parts.append(" ")
            self.length += 1
        start = self.length
        self.parts.append(token)
        self.length += len(token)
        self.sentence_started = True
        if tag == "O":
            self.close()
            return
        prefix, label = tag[0], tag[2:]
        if prefix == "I" and self.open is not None and self.open[0] == label:
            self.open = (label, self.open[1], self.length, self.open[3])
            return
        self.close()
        self.open = (label, start, self.length, at)

    def end_sentence(self) -> None:
        self.close()
        if self.sentence_started:
            self.parts.append("\n")
            self.length += 1
            self.sentence_started = False

    def close(self) -> None:
        if self.open is not None:
            label, start, end, at = self.open
            self.spans.append(SpanRecord(f"T{len(self.spans) + 1}", start, end, label, where=at))
            self.open = None

    def record(self) -> DocumentRecord | None:
        self.end_sentence()
        text = "".join(self.parts).rstrip("\n")
        if not text:
            return None
        return DocumentRecord(text=text, annotated=True, spans=tuple(self.spans), where=self.where)


class Conll(StreamReader):
    name: ClassVar[str] = "conll"
    label: ClassVar[str] = "CoNLL 2003 / IOB2"
    suffixes: ClassVar[tuple[str, ...]] = (
        ".conll", ".iob", ".iob2", ".bio", ".txt", ".tsv", ".train", ".dev", ".test", ".testa", ".testb",
    )  # fmt: skip

    def read_member(
        self, stream: IO[bytes], context: MemberContext, problems: ProblemLog
    ) -> Iterator[DocumentRecord]:
        limit = context.limits.max_record_bytes
        document: _Document | None = None
        failed = False
        for number, raw in byte_lines(stream, context.where, problems, max_bytes=limit):
            at = context.at(number)
            line = decode(raw, at, problems, line=number)
            if line is None:
                failed = True
                continue
            columns = line.split()
            if columns and columns[0] == "-DOCSTART-":
                if document is not None and not failed and (record := document.record()) is not None:
                    yield record
                document, failed = _Document(context.at(number + 1)), False
                continue
            if document is None:
                document = _Document(at)
            if not columns:
                document.end_sentence()
                continue
            tag = columns[-1]
            if line.startswith("# ") and not is_tag(tag):
                continue
            if len(columns) < 2 or not is_tag(tag):
                problems.add(
                    at, f"The tag {tag!r} is not O, B-TYPE or I-TYPE (the last column holds the tag)."
                )
                failed = True
                continue
            if document.length > limit:
                if not document.too_long:
                    problems.add(document.where, f"The document is longer than {limit:,} characters.")
                document.too_long, failed = True, True
                continue
            document.add_token(columns[0], tag, at)
        if document is not None and not failed and (record := document.record()) is not None:
            yield record


class ConllWriter:
    """`token TAG` lines (IOB2), a blank line between sentences, `-DOCSTART-` before each document."""

    name: ClassVar[str] = "conll"
    label: ClassVar[str] = "CoNLL 2003 / IOB2 (spaCy tokens)"
    media_type: ClassVar[str] = "text/plain; charset=utf-8"
    extension: ClassVar[str] = ".conll"
    streamable: ClassVar[bool] = True

    def write(self, documents: Iterable[DocumentRecord]) -> Iterator[bytes]:
        yield f"# tokenizer: {tokenizer_name()}\n".encode()
        for record in documents:
            yield self.document(record).encode("utf-8")

    @staticmethod
    def document(record: DocumentRecord) -> str:
        text = record.text
        spans = one_layer(record.spans)
        cuts = {offset for span in spans for offset in (span.start, span.end)}
        cut, sentence_starts = pieces(text, cuts, sentences=True)
        tokens = [match.span() for start, end in cut for match in _NOT_SPACE.finditer(text, start, end)]
        lines = ["-DOCSTART- -X- -X- O", ""]
        entity = iter(spans)
        current = next(entity, None)
        previous_end, previous_entity = None, None
        for start, end in tokens:
            while current is not None and current.end <= start:
                current = next(entity, None)
            inside = current if current is not None and current.start <= start else None
            continuing = inside is not None and inside is previous_entity
            new_sentence = previous_end is not None and (
                "\n" in text[previous_end:start] or start in sentence_starts
            )
            if new_sentence and not continuing:
                lines.append("")
            tag = "O" if inside is None else ("I-" if continuing else "B-") + token_label(inside.label)
            lines.append(f"{text[start:end]} {tag}")
            previous_end, previous_entity = end, inside
        lines.append("")
        return "\n".join(lines) + "\n"
