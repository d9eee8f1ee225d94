"""spaCy DocBin (`.spacy`): entities (`doc.ents`), span groups (`doc.spans`) and their KB ids.

Every entity and every span of every span group becomes a span (the same offsets and label once), in
text order. A `kb_id_` links the span (`NIL` means not in the KB). With `store_user_data`, the doc's
`user_data` may carry `external_id`, `title` and `metadata`. A DocBin is one compressed blob, so each
.spacy file is read whole: split big corpora into several files and zip them, one is read at a time.
spaCy is imported only when a DocBin is read.
"""

from __future__ import annotations

from collections.abc import Iterator
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

if TYPE_CHECKING:
    from spacy.tokens import Doc

MAX_DOCBIN_BYTES = 2**30


class DocBinReader(StreamReader):
    name: ClassVar[str] = "spacy"
    label: ClassVar[str] = "spaCy DocBin (.spacy)"
    suffixes: ClassVar[tuple[str, ...]] = (".spacy",)

    def read_member(
        self, stream: IO[bytes], context: MemberContext, problems: ProblemLog
    ) -> Iterator[DocumentRecord]:
        from spacy.tokens import DocBin
        from spacy.vocab import Vocab

        data = stream.read(MAX_DOCBIN_BYTES + 1)
        if len(data) > MAX_DOCBIN_BYTES:
            problems.add(
                context.where, f"The DocBin is larger than {MAX_DOCBIN_BYTES:,} bytes: split it into several."
            )
            return
        try:
            docs = list(DocBin(store_user_data=True).from_bytes(data).get_docs(Vocab()))
        except Exception as error:  # msgpack, zlib and spaCy each raise their own kinds
            problems.add(context.where, f"This is not a spaCy DocBin ({type(error).__name__}).")
            return
        del data
        for index, doc in enumerate(docs):
            record = self.document(doc, context.at(item=f"docs[{index}]"), problems)
            if record is not None:
                yield record

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
