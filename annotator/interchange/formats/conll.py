"""CoNLL 2003, IOB1/IOB2/IOBES/BILOU, GermEval and CoNLL-U-like files: one token per line.

`-DOCSTART-` lines start a new document (a file without them is one document), blank lines end
sentences, and lines starting with `#` whose last column is not a tag are comments (`# text = ...`,
`# tokenizer: spacy ...`). Columns are split by tabs when the line has one (a token may then hold a
space: "New Berlin"), else by runs of whitespace. The token is the first column, or the second when the
first is a token index (1, 2, 3... in each sentence, as in CoNLL-U and GermEval); the tag is the last
column, or with an index, every column after the token that holds only tags in the first sentence
(GermEval's outer and inner columns, nested entities and all; flair's NER column before a last `_`).
Options name the columns instead (1-based): `token=2`, `tags=3,4`. spaCy's one sentence per line `.iob`
(`Who|WP|O is|VBZ|O`) is read too; CoNLL-U and CoNLL-X files without entity tags are refused once,
saying so, and relations in flair's `# relations = ...` comments are skipped with a warning.

Tags are `O` and PREFIX-TYPE, in any of the schemes: B (begins), I (inside: continues an entity of its
type, or starts one, as IOB1 does), E or L (ends), S or U (a single token). The text is rebuilt as the
format implies: tokens joined by one space, sentences by a line break. Documents have no external id,
so re-imports recognise them by their text.

The writer tokenises with spaCy (`tokens.py`), cutting tokens at entity edges too, and tags IOB2. One
token layer holds no overlaps: the outermost spans are kept (`writing.one_layer`), the nested and
crossing ones left out. Sentences end where spaCy's sentencizer starts one or the text breaks a line,
never inside an entity; labels with spaces get `_` instead.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import IO, Any, ClassVar

from annotator.interchange.formats.base import (
    DocumentRecord,
    FormatError,
    MemberContext,
    ProblemLog,
    SpanRecord,
    StreamReader,
    Where,
)
from annotator.interchange.formats.lines import byte_lines, decode
from annotator.interchange.formats.tokens import token_offsets, tokenizer_name
from annotator.interchange.formats.writing import one_layer, token_label

_PREFIXES = frozenset("BIELSU")
TAG_HELP = "O or PREFIX-TYPE with B, I, E, L, S or U (IOB1, IOB2, IOBES, BILOU)"


def is_tag(tag: str) -> bool:
    return tag == "O" or (len(tag) > 2 and tag[0] in _PREFIXES and tag[1] in "-_")


def pipe_tokens(columns: list[str]) -> list[list[str]] | None:
    """spaCy's one-sentence-per-line `.iob` (`Who|WP|O is|VBZ|O Shaka|NNP|B-PER`): the line's tokens as
    [word, tag] token lines, or None when the line is not one."""
    parts = [token.rsplit("|", 1) for token in columns]
    if len(columns) > 1 and all(len(part) == 2 and part[0] and is_tag(part[1]) for part in parts):
        return [[part[0].split("|", 1)[0], part[1]] for part in parts]
    return None


def is_webanno(first_line: str) -> bool:
    """Whether a file's first line is a WebAnno TSV header (version 3's `#FORMAT=`, or version 2's layer
    list such as ` # de.tudarmstadt.ukp.dkpro.core.api.ner.type.NamedEntity | value`)."""
    line = first_line.strip()
    return line.startswith("#FORMAT=WebAnno TSV") or (
        line.startswith("#") and ("de.tudarmstadt.ukp." in line or "webanno.custom." in line)
    )


def split_columns(line: str) -> list[str]:
    """A token line's columns: by tabs when it has any (so a token may hold a space), else by whitespace."""
    if "\t" in line:
        columns = [column.strip() for column in line.rstrip("\r\n").split("\t")]
        return columns if any(columns) else []
    return line.split()


@dataclass(frozen=True)
class Layout:
    """Which columns hold the token and the tags (0-based; negative counts from the end)."""

    token: int = 0
    tags: tuple[int, ...] = (-1,)

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Layout | None:
        if "token" not in options and "tags" not in options:
            return None
        token = _column_number(options.get("token", "1"), "token")
        tags = tuple(_column_number(part, "tags") for part in str(options.get("tags", "-1")).split(","))
        return cls(token, tags)

    @classmethod
    def guess(cls, sentence: list[list[str]]) -> Layout:
        """From a file's first sentence: an index column first (1, 2, 3...), and GermEval's two tag columns."""
        indexed = len(sentence[0]) >= 3 and all(
            len(columns) >= 3 and columns[0] == str(number)
            for number, columns in enumerate(sentence, start=1)
        )
        if not indexed:
            return cls()
        # The tag columns: those after the token where every value is a tag (GermEval's outer and inner
        # columns, flair's NER column before a last `_` one), else the last.
        width = min(len(columns) for columns in sentence)
        tags = tuple(i for i in range(2, width) if all(is_tag(columns[i]) for columns in sentence))
        return cls(1, tags or (-1,))


def _column_number(value: Any, name: str) -> int:
    text = str(value).strip()
    if text == "-1":
        return -1
    if not text.isdigit() or int(text) < 1:
        raise FormatError(f"The CoNLL {name} option names columns by number, from 1 (e.g. tags=3,4).")
    return int(text) - 1


class _Layer:
    """The entities of one tag column as they are read: the one still open, and the finished ones."""

    def __init__(self) -> None:
        self.open: tuple[str, int, int, Where] | None = None  # label, start, end, where it began
        self.done: list[tuple[int, int, str, Where]] = []

    def add(self, tag: str, start: int, end: int, at: Where) -> None:
        if tag == "O":
            self.close()
            return
        prefix, label = tag[0], tag[2:]
        continues = self.open is not None and self.open[0] == label
        if prefix in "IEL" and continues:
            assert self.open is not None
            self.open = (label, self.open[1], end, self.open[3])
        else:
            self.close()
            self.open = (label, start, end, at)
        if prefix in "ELSU":
            self.close()

    def close(self) -> None:
        if self.open is not None:
            label, start, end, at = self.open
            self.done.append((start, end, label, at))
            self.open = None


class _Document:
    """The document being rebuilt: its text so far and one layer of entities per tag column."""

    def __init__(self, where: Where, layers: int) -> None:
        self.where = where
        self.parts: list[str] = []
        self.length = 0
        self.layers = [_Layer() for _ in range(layers)]
        self.sentence_started = False
        self.too_long = False
        self.tokens = 0

    def add_token(self, token: str, tags: list[str], at: Where) -> None:
        if self.sentence_started:
            self.parts.append(" ")
            self.length += 1
        start = self.length
        self.parts.append(token)
        self.length += len(token)
        self.sentence_started = True
        self.tokens += 1
        for layer, tag in zip(self.layers, tags, strict=True):
            layer.add(tag, start, self.length, at)

    def end_sentence(self) -> None:
        for layer in self.layers:
            layer.close()
        if self.sentence_started:
            self.parts.append("\n")
            self.length += 1
            self.sentence_started = False

    def record(self) -> DocumentRecord | None:
        self.end_sentence()
        text = "".join(self.parts).rstrip("\n")
        if not text:
            return None
        found = sorted({(s, e, label): at for layer in self.layers for s, e, label, at in layer.done}.items())
        spans = tuple(
            SpanRecord(f"T{number}", start, end, label, where=at)
            for number, ((start, end, label), at) in enumerate(found, start=1)
        )
        return DocumentRecord(text=text, annotated=True, spans=spans, where=self.where)


class Conll(StreamReader):
    name: ClassVar[str] = "conll"
    label: ClassVar[str] = "CoNLL (2003, IOB1/IOB2/IOBES/BILOU, GermEval)"
    suffixes: ClassVar[tuple[str, ...]] = (
        ".conll", ".conllu", ".iob", ".iob2", ".bio", ".bioes", ".txt", ".tsv", ".train", ".dev", ".test",
        ".testa", ".testb",
    )  # fmt: skip
    option_names: ClassVar[frozenset[str]] = frozenset({"token", "tags"})

    def check_options(self, options: Mapping[str, Any]) -> None:
        super().check_options(options)
        Layout.from_options(options)

    def read_member(
        self, stream: IO[bytes], context: MemberContext, problems: ProblemLog
    ) -> Iterator[DocumentRecord]:
        reading = _Reading(context, problems)
        before = len(problems)
        sentence: list[tuple[list[str], Where]] = []
        for number, raw in byte_lines(
            stream, context.where, problems, max_bytes=context.limits.max_record_bytes
        ):
            at = context.at(number)
            line = decode(raw, at, problems, line=number)
            if line is None:
                reading.failed = True
                continue
            if number == 1 and is_webanno(line):
                problems.add(
                    at,
                    "This is WebAnno TSV (INCEpTION's own format), not CoNLL: export the documents from INCEpTION "
                    "as CoNLL 2002 or brat, and import that.",
                )
                return
            columns = split_columns(line)
            if columns and columns[0] == "-DOCSTART-":
                reading.sentence(sentence)
                sentence = []
                yield from reading.next_document(context.at(number + 1))
                continue
            if not columns:
                reading.sentence(sentence)
                sentence = []
                continue
            if line.startswith("#") and not (len(columns) >= 2 and is_tag(columns[-1])):
                if line.startswith("# relations"):  # flair keeps relations in comments: not read here
                    problems.warn(
                        at,
                        "Relations written in a comment (flair's `# relations = ...`) are not read.",
                        kind="CoNLL relation comment",
                        action="skipped",
                    )
                continue  # a comment
            if (reading.layout is None or reading.pipes) and (tokens := pipe_tokens(columns)) is not None:
                reading.pipes = True
                reading.sentence(sentence)  # a whole sentence on one line
                reading.sentence([(token, at) for token in tokens])
                sentence = []
                continue
            sentence.append((columns, at))
        reading.sentence(sentence)
        yield from reading.next_document(None)
        if not reading.tokens and len(problems) == before:
            problems.add(context.where, "The file has no tokens: it is empty.")


class _Reading:
    """One member being read, sentence by sentence: its layout (given or guessed) and its document."""

    def __init__(self, context: MemberContext, problems: ProblemLog) -> None:
        self.context, self.problems = context, problems
        self.layout = Layout.from_options(context.options)
        self.document: _Document | None = None
        self.failed = False
        self.tokens = 0
        self.start: Where | None = None  # where the next document begins (after a -DOCSTART- line)
        self.columns_checked = False  # whether the columns that are not read were said
        self.pipes = False  # sentences on one line each, as `word|POS|TAG` tokens
        self.quiet = False  # the file's layout is refused as a whole: its lines are not reported one by one

    def next_document(self, where: Where | None) -> Iterator[DocumentRecord]:
        if self.document is not None and not self.failed and (record := self.document.record()) is not None:
            yield record
        self.document, self.failed = None, False
        self.start = where

    def sentence(self, lines: list[tuple[list[str], Where]]) -> None:
        if not lines:
            if self.document is not None:
                self.document.end_sentence()
            return
        if self.layout is None:
            if (guessed := self.untagged(lines)) is not None:
                self.problems.add(lines[0][1], guessed)
                self.failed, self.layout = True, Layout(1, (-1,))
                self.quiet = True  # every line would say the same
            else:
                self.layout = Layout.guess([columns for columns, _ in lines])
        if self.quiet:
            return
        layout = self.layout
        if not self.columns_checked:
            self.columns_checked = True
            self.unread_columns(lines, layout)
        if self.document is None:
            self.document = _Document(self.start or lines[0][1], len(layout.tags))
        document, limit = self.document, self.context.limits.max_record_bytes
        for columns, at in lines:
            wanted = max(layout.token, *layout.tags) + 1
            tags = [columns[i] if i < len(columns) else "" for i in layout.tags]
            if len(columns) < max(wanted, 2) or not all(is_tag(tag) for tag in tags):
                shown = next((tag for tag in tags if not is_tag(tag)), "")
                self.problems.add(at, f"The tag {shown!r} is not {TAG_HELP} ({self.where_tags(layout)}).")
                self.failed = True
                continue
            if document.length > limit:
                if not document.too_long:
                    self.problems.add(document.where, f"The document is longer than {limit:,} characters.")
                document.too_long, self.failed = True, True
                continue
            document.add_token(columns[layout.token], tags, at)
            self.tokens += 1
        document.end_sentence()

    def unread_columns(self, lines: list[tuple[list[str], Where]], layout: Layout) -> None:
        """Say once which columns with content (parts of speech, chunks, lemmas...) are not read."""
        width = min(len(columns) for columns, _ in lines)
        used = {layout.token, *((tag % width) for tag in layout.tags)}
        if layout.token == 1:
            used.add(0)  # the index
        unread = [
            i
            for i in range(width)
            if i not in used and any(columns[i] not in ("_", "-") for columns, _ in lines)
        ]
        if unread:
            self.problems.warn(
                lines[0][1],
                f"Column{'s' * (len(unread) > 1)} {', '.join(str(i + 1) for i in unread)} (parts of speech, "
                "chunks, lemmas...) are not read: only tokens and entity tags are imported.",
                kind="CoNLL column",
                action="not read",
                count=len(unread),
            )

    def untagged(self, lines: list[tuple[list[str], Where]]) -> str | None:
        """Why a file in a dependency layout (CoNLL-U, CoNLL-X: ten columns, an index first) cannot be
        read, when none of its columns holds entity tags and no option names one."""
        if not all(len(columns) >= 10 and columns[0].isdigit() for columns, _ in lines):
            return None
        if any(is_tag(column) and column != "O" for columns, _ in lines for column in columns[2:]):
            return None
        return (
            "This is CoNLL-U or CoNLL-X (ten columns of words, lemmas, parts of speech and dependencies) "
            "with no entity tags: there is nothing to import as entities. If a column holds the tags, name it "
            "with the tags option (e.g. tags=10)."
        )

    @staticmethod
    def where_tags(layout: Layout) -> str:
        if layout.tags == (-1,):
            return "the last column holds the tag"
        return "tags in column " + ", ".join(str(i + 1) if i >= 0 else "last" for i in layout.tags)


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
        """The document's lines, worked out over arrays of character offsets (`_tokens`, `_tags`): only
        the lines themselves are made one at a time."""
        text = record.text
        spans = one_layer(record.spans)
        starts, ends, blank, tags = _tags(text, spans)
        names = ["O"]
        for span in spans:
            label = token_label(span.label)
            names += (f"B-{label}", f"I-{label}")
        before = ("", "\n")  # a blank line before the token's own: a new sentence
        lines = [
            f"{before[new]}{text[start:end]} {names[tag]}\n"
            for start, end, new, tag in zip(
                starts.tolist(), ends.tolist(), blank.tolist(), tags.tolist(), strict=True
            )
        ]
        return "-DOCSTART- -X- -X- O\n\n" + "".join(lines) + "\n"


@cache
def _whitespace() -> Any:
    """Whether each code point is one `\\s` matches (str.isspace): a table indexed by code point."""
    import numpy

    table = numpy.zeros(sys.maxunicode + 1, dtype=bool)
    table[[code for code in range(sys.maxunicode + 1) if chr(code).isspace()]] = True
    return table


def _tokens(text: str, cuts: Any) -> tuple[Any, Any, Any]:
    """The CoNLL tokens: the text's runs of non-space characters, cut at spaCy's token edges and at
    `cuts` (what the regular expression `\\S+` finds in each of `tokens.pieces`), as arrays of start and
    end offsets; and the offsets where spaCy's sentencizer starts a sentence."""
    import numpy

    size = len(text)
    token_starts, token_ends, sentence_starts = token_offsets(text, sentences=True)
    edge = numpy.zeros(size + 1, dtype=bool)
    edge[token_starts] = edge[token_ends] = True
    edge[cuts[(cuts >= 0) & (cuts <= size)]] = True
    codes = numpy.frombuffer(text.encode("utf-32-le"), dtype="uint32")
    solid = ~_whitespace()[codes]
    after_space = numpy.ones(size, dtype=bool)  # the character before is a space, or there is none
    after_space[1:] = ~solid[:-1]
    before_space = numpy.ones(size, dtype=bool)
    before_space[:-1] = ~solid[1:]
    starts = numpy.flatnonzero(solid & (after_space | edge[:-1]))
    ends = numpy.flatnonzero(solid & (before_space | edge[1:])) + 1
    return starts, ends, sentence_starts


def _tags(text: str, spans: list[SpanRecord]) -> tuple[Any, Any, Any, Any]:
    """The tokens' start and end offsets; whether a blank line (a new sentence) comes before each; and
    each one's tag as a number: 0 for O, 1 + 2 * i for B- of the i-th span, 2 + 2 * i for its I-.

    A sentence starts where spaCy's sentencizer starts one or a line breaks between two tokens, never
    inside an entity. The spans are one layer, in text order, so their ends rise: the span a token may be
    in is the first that ends after the token starts."""
    import numpy

    span_starts = numpy.array([span.start for span in spans], dtype="int64")
    span_ends = numpy.array([span.end for span in spans], dtype="int64")
    starts, ends, sentence_starts = _tokens(text, numpy.concatenate((span_starts, span_ends)))
    which = numpy.searchsorted(span_ends, starts, side="right")
    inside = which < len(spans)
    inside[inside] = span_starts[which[inside]] <= starts[inside]
    entity = numpy.where(inside, which, -1)
    continuing = numpy.zeros(len(starts), dtype=bool)
    continuing[1:] = inside[1:] & (entity[1:] == entity[:-1])
    newlines = numpy.zeros(len(text) + 1, dtype="int64")
    numpy.cumsum(numpy.frombuffer(text.encode("utf-32-le"), dtype="uint32") == 10, out=newlines[1:])
    blank = numpy.zeros(len(starts), dtype=bool)
    blank[1:] = (newlines[starts[1:]] > newlines[ends[:-1]]) | numpy.isin(starts[1:], sentence_starts)
    blank &= ~continuing
    tags = numpy.where(inside, 1 + 2 * entity + continuing, 0)
    return starts, ends, blank, tags
