"""spaCy DocBin (`.spacy`): entities (`doc.ents`), span groups (`doc.spans`) and their KB ids.

Every entity and every span of every span group becomes a span (the same offsets and label once), in
text order. A `kb_id_` links the span (`NIL` means not in the KB). With `store_user_data`, the doc's
`user_data` may carry `external_id`, `title` and `metadata`. The document's categories (`doc.cats`,
label -> score) are kept in the metadata as `cats` (the project has no categories of its own), and span
groups named other than `sc` as `span_groups` ({name: [[start, end, label], ...]}), which the writer
writes back as those groups (spans in none of them go into `sc`). A DocBin is one compressed blob, so
each .spacy file is read whole (inflated in chunks up to a cap, its version and every length checked
first: `docbin_bytes.py`): split big corpora into several files and zip them, one is read at a time.
spaCy's own errors (E018: a string missing from the table...) are passed on as they are.
spaCy is imported only when a DocBin is read or written.

The writer makes one .spacy file: `doc.ents` holds the spans a single layer can hold (the outermost,
see `writing.one_layer`), the span group `sc` (spancat's default key) holds every span, overlapping and
nested ones too, and both carry the KB id of linked spans (`NIL` for NIL). The tokens are spaCy's, cut
further at entity edges so that every span is a whole number of tokens. Discontinuous spans are written
as their whole range, and relations have no place in a DocBin.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import IO, TYPE_CHECKING, Any, ClassVar

from annotator.interchange.formats.base import (
    DocumentRecord,
    LinkRecord,
    MemberContext,
    ProblemLog,
    SpanRecord,
    StreamReader,
    Where,
)
from annotator.interchange.formats.docbin_bytes import DocBinError, open_docbin
from annotator.interchange.formats.docbin_stream import docbin_chunks
from annotator.interchange.formats.tokens import pieces, pipeline
from annotator.interchange.formats.writing import links_by_span, one_layer

if TYPE_CHECKING:
    from spacy.tokens import Doc, Span
    from spacy.vocab import Vocab


_TOKEN_ATTRIBUTES = ("TAG", "POS", "MORPH", "LEMMA", "DEP")


def token_annotations(doc: Doc, where: Where, problems: ProblemLog) -> None:
    """Warn that a document's token annotations (tags, lemmas, dependencies) have no place here."""
    found = [name for name in _TOKEN_ATTRIBUTES if doc.has_annotation(name)]
    if found:
        problems.warn(
            where,
            f"The document's token annotations ({', '.join(found)}) have no place here: only its text, entities, "
            "span groups and categories are imported.",
            kind="DocBin document with token annotations",
            action="read without them",
        )


def spacy_message(error: Exception) -> str:
    """spaCy's message (its errors start with a code like [E018]), or the kind of error for others."""
    message = error.args[0] if error.args and isinstance(error.args[0], str) else ""
    if message.startswith("[E") or message.startswith("[W"):
        return message
    return f"{type(error).__name__}{': ' + message if message else ''}"


class DocBinReader(StreamReader):
    name: ClassVar[str] = "spacy"
    label: ClassVar[str] = "spaCy DocBin (.spacy)"
    suffixes: ClassVar[tuple[str, ...]] = (".spacy",)

    def read_member(
        self, stream: IO[bytes], context: MemberContext, problems: ProblemLog
    ) -> Iterator[DocumentRecord]:
        from spacy.vocab import Vocab

        try:
            docbin = open_docbin(stream)
        except DocBinError as error:
            problems.add(context.where, f"This is not a spaCy DocBin that can be read: {error}")
            return
        docs = docbin.get_docs(Vocab())
        index = 0
        while True:
            where = context.at(item=f"docs[{index}]")
            try:
                doc = next(docs, None)
            except Exception as error:  # spaCy's own errors say what is wrong: E018 (a missing string)...
                problems.add(where, f"spaCy cannot read this document: {spacy_message(error)}")
                return
            if doc is None:
                return
            record = self.document(doc, where, problems)
            if record is not None:
                token_annotations(doc, where, problems)
                yield record
            index += 1

    @staticmethod
    def document(doc: Doc, where: Where, problems: ProblemLog) -> DocumentRecord | None:
        found: dict[tuple[int, int, str], str] = {}
        for span in [*doc.ents, *(span for key in sorted(doc.spans) for span in doc.spans[key])]:
            key = (span.start_char, span.end_char, span.label_)
            if key not in found or (not found[key] and span.kb_id_):
                found[key] = span.kb_id_
        spans, links = [], []
        for number, ((start, end, label), kb_id) in enumerate(sorted(found.items()), start=1):
            span_id = f"T{number}"
            spans.append(SpanRecord(span_id, start, end, label, where=where))
            if kb_id:
                links.append(LinkRecord(span_id, None if kb_id == "NIL" else kb_id, where=where))
        user: dict[Any, Any] = doc.user_data or {}
        external_id, title, metadata = (
            user.get("external_id"),
            user.get("title", ""),
            user.get("metadata", {}),
        )
        for name, value, kind in (
            ("external_id", external_id, (str, type(None))),
            ("title", title, str),
            ("metadata", metadata, dict),
        ):
            if not isinstance(value, kind):
                problems.add(
                    where,
                    f"user_data[{name!r}] has the wrong type ({type(value).__name__}).",
                    field=f"user_data.{name}",
                )
                return None
        if doc.cats:  # the document's categories and their scores: kept with the article
            metadata = {**metadata, "cats": dict(doc.cats)}
        groups = {
            key: [[span.start_char, span.end_char, span.label_] for span in doc.spans[key]]
            for key in sorted(doc.spans)
            if len(doc.spans[key])
        }
        if groups.keys() - {"sc"}:  # named groups: which span is in which, for an export to write back
            metadata = {**metadata, "span_groups": groups}
        return DocumentRecord(
            text=doc.text,
            external_id=external_id,
            title=title,
            metadata=metadata,
            annotated=True,
            spans=tuple(spans),
            links=tuple(links),
            where=where,
        )


class DocBinWriter:
    """One .spacy file of every document, built in memory: not streamable, large exports run as jobs."""

    name: ClassVar[str] = "spacy"
    label: ClassVar[str] = "spaCy DocBin (.spacy)"
    media_type: ClassVar[str] = "application/octet-stream"
    extension: ClassVar[str] = ".spacy"
    streamable: ClassVar[bool] = False

    def write(self, documents: Iterable[DocumentRecord]) -> Iterator[bytes]:
        """The bytes of `DocBin(store_user_data=True)` with every document added, `.to_bytes()`, made
        without holding them (`docbin_stream`): the token arrays wait in a temporary file."""
        vocab = pipeline().vocab
        return docbin_chunks(self.doc(record, vocab) for record in documents)

    @staticmethod
    def doc(record: DocumentRecord, vocab: Vocab) -> Doc:
        from spacy.tokens import Doc

        text = record.text
        starts = {span.start for span in record.spans}
        ends = {span.end for span in record.spans}
        words: list[str] = []
        spaces: list[bool] = []
        for start, end in pieces(text, starts | ends)[0]:
            # A single space after a word is that word's trailing space, unless a span starts on the space
            # or ends just after it (then the space must be a token of its own).
            if (
                text[start:end] == " "
                and words
                and not spaces[-1]
                and start not in starts
                and end not in ends
            ):
                spaces[-1] = True
            else:
                words.append(text[start:end])
                spaces.append(False)
        doc = Doc(vocab, words=words, spaces=spaces)
        links = links_by_span(record)

        def kb_id(span_id: str) -> str:
            link = links.get(span_id)
            return "" if link is None else (link.kb_id or "NIL")

        made: dict[str, Span] = {}
        for span in record.spans:
            made_span = doc.char_span(span.start, span.end, label=span.label, kb_id=kb_id(span.id))
            if made_span is None:  # the tokens were cut at every span edge, so this cannot happen
                raise ValueError(f"The span [{span.start}, {span.end}) is not on token edges.")
            made[span.id] = made_span
        doc.ents = [made[span.id] for span in one_layer(record.spans)]
        groups = record.metadata.get("span_groups")
        if isinstance(groups, dict) and groups:
            by_place = {(span.start, span.end, span.label): made[span.id] for span in record.spans}
            grouped: set[int] = set()
            for key, members in groups.items():
                found = [by_place.get(tuple(m)) for m in members if isinstance(m, list) and len(m) == 3]
                doc.spans[str(key)] = [span for span in found if span is not None]
                grouped.update(id(span) for span in found if span is not None)
            rest = [span for span in made.values() if id(span) not in grouped]  # annotated since the import
            if rest:
                doc.spans["sc"] = [*doc.spans.get("sc", []), *rest]
        else:
            doc.spans["sc"] = list(made.values())
        doc.user_data["external_id"] = record.external_id
        doc.user_data["title"] = record.title
        metadata = dict(record.metadata)
        metadata.pop("span_groups", None)  # written as the groups themselves
        cats = metadata.pop("cats", None)
        if isinstance(cats, dict) and all(
            isinstance(score, int | float) and not isinstance(score, bool) for score in cats.values()
        ):
            doc.cats = cats
        elif cats is not None:
            metadata["cats"] = cats
        doc.user_data["metadata"] = metadata
        return doc
