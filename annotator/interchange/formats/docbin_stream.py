"""A spaCy DocBin written as it is made: the bytes of `DocBin.to_bytes()`, without holding the DocBin.

`DocBin.to_bytes()` is `zlib.compress(msgpack({version, attrs, tokens, spaces, lengths, strings, cats,
flags, span_groups, user_data}))`, the token arrays of every document stacked into one. Held in memory,
that is the token arrays three times over (the list, the stacked copy, its bytes) and the msgpack copy:
2.5 GB at its peak for 10,000 articles with 5 million tokens. Here each document's token arrays go to a
temporary file as they are made, the rest (strings, span groups, user data: a few bytes a document)
stays in memory, and at the end the same message is packed field by field through a streaming
compressor: the same bytes (held by tests against `DocBin.to_bytes()`), at a flat memory.

It also costs less: spaCy's `DocBin.add` reads nine string attributes of every token as Python objects
and packs each document's user data and span groups with a new msgpack packer, which looks up its
encoders among every installed package's entry points each time (two thirds of a DocBin export's
time). Here the strings come from the token arrays, once per distinct value, and one packer packs all.
"""

from __future__ import annotations

import struct
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from spacy.tokens import Doc

_BLOCK = 1 << 20  # bytes read back from the token files at a time

# The DocBin attributes whose values are strings (the rest are numbers: HEAD, ENT_IOB, POS, SENT_START),
# which `DocBin.add` puts in the string table as the tokens' `text`, `norm_`, `tag_`, `dep_`,
# `ent_type_`, `ent_kb_id_`, `ent_id_`, `lemma_` and `str(morph)`.
_STRING_ATTRIBUTES = ("ORTH", "NORM", "TAG", "DEP", "ENT_TYPE", "ENT_KB_ID", "ENT_ID", "LEMMA", "MORPH")


def _bin_header(size: int) -> bytes:
    """msgpack's header of a byte string of this size (bin 8, 16 or 32, as msgpack picks)."""
    if size <= 0xFF:
        return b"\xc4" + struct.pack(">B", size)
    if size <= 0xFFFF:
        return b"\xc5" + struct.pack(">H", size)
    return b"\xc6" + struct.pack(">I", size)


class DocBinStream:
    """Add docs with `add`, then `chunks()` yields the compressed DocBin, as `DocBin.to_bytes()` makes it
    (a DocBin with every attribute and `store_user_data`)."""

    def __init__(self) -> None:
        import srsly
        from spacy.attrs import IDS, SPACY
        from spacy.tokens import DocBin

        self._model = DocBin(store_user_data=True)  # its version and attributes, in its order
        self._spaces_attribute = SPACY
        self._attributes: list[int | str] = list(self._model.attrs)
        self._string_columns = [self._attributes.index(IDS[name]) for name in _STRING_ATTRIBUTES]
        self._packer = srsly.msgpack.Packer(use_bin_type=True)  # as srsly.msgpack_dumps, made once
        self._tokens = tempfile.TemporaryFile()  # noqa: SIM115 - closed by chunks() or close()
        self._spaces = tempfile.TemporaryFile()  # noqa: SIM115
        self._token_bytes = self._space_bytes = 0
        self._lengths: list[int] = []
        self._strings: set[str] = set()
        self._cats: list[dict[str, float]] = []
        self._flags: list[dict[str, bool]] = []
        self._span_groups: list[bytes] = []
        self._user_data: list[bytes] = []

    def add(self, doc: Doc) -> None:
        """What `DocBin.add(doc)` keeps of the doc: the token arrays written out, the rest held."""
        import numpy

        array = doc.to_array(self._attributes)
        if len(array.shape) == 1:
            array = array.reshape((array.shape[0], 1))
        spaces = numpy.asarray(doc.to_array(self._spaces_attribute), dtype=bool)
        self._token_bytes += self._tokens.write(array.tobytes("C"))
        self._space_bytes += self._spaces.write(spaces.tobytes("C"))
        self._lengths.append(len(array))
        self._flags.append({"has_unknown_spaces": doc.has_unknown_spaces})
        strings = doc.vocab.strings
        if len(array):
            values = numpy.unique(array[:, self._string_columns])
            self._strings.update(strings[int(value)] for value in values.tolist())
        self._cats.append(doc.cats)
        self._user_data.append(self._packer.pack(doc.user_data))
        self._span_groups.append(self._groups(doc))

    def _groups(self, doc: Doc) -> bytes:
        """`doc.spans.to_bytes()`, packed with this packer; their labels and ids go in the strings."""
        strings, table = doc.vocab.strings, self._strings
        groups: dict[bytes, list[str]] = {}
        for key, group in doc.spans.items():
            spans = []
            for span in group:
                spans.append(
                    struct.pack(
                        ">QQQllll", span.id, span.kb_id, span.label, span.start, span.end, span.start_char,
                        span.end_char,
                    )
                )  # fmt: skip
                table.add(span.label_)
                if span.kb_id in strings:
                    table.add(span.kb_id_)
                if span.id in strings:
                    table.add(span.id_)
            body = self._packer.pack({"name": group.name, "attrs": group.attrs, "spans": spans})
            groups.setdefault(body, []).append(key)
        return self._packer.pack(groups if groups else [])

    def chunks(self) -> Iterator[bytes]:
        """The compressed DocBin, a piece at a time; the temporary files are closed after."""
        import numpy

        pack, compressor = self._packer.pack, zlib.compressobj()
        try:
            fields: list[tuple[str, Any]] = [
                ("version", self._model.version),
                ("attrs", self._model.attrs),
                ("tokens", (self._tokens, self._token_bytes)),
                ("spaces", (self._spaces, self._space_bytes)),
                ("lengths", numpy.asarray(self._lengths, dtype="int32").tobytes("C")),
                ("strings", sorted(self._strings)),
                ("cats", self._cats),
                ("flags", self._flags),
                ("span_groups", self._span_groups),
                ("user_data", self._user_data),
            ]
            yield compressor.compress(self._packer.pack_map_header(len(fields)))
            for key, value in fields:
                yield compressor.compress(pack(key))
                if not isinstance(value, tuple):
                    yield compressor.compress(pack(value))
                    continue
                stream, size = value
                yield compressor.compress(_bin_header(size))
                stream.seek(0)
                while block := stream.read(_BLOCK):
                    yield compressor.compress(block)
            yield compressor.flush()
        finally:
            self.close()

    def close(self) -> None:
        self._tokens.close()
        self._spaces.close()


def docbin_chunks(docs: Iterable[Doc]) -> Iterator[bytes]:
    """The DocBin of these docs (`DocBin(store_user_data=True)` with each added, `.to_bytes()`), in pieces."""
    stream = DocBinStream()
    try:
        for doc in docs:
            stream.add(doc)
    except BaseException:
        stream.close()
        raise
    yield from (piece for piece in stream.chunks() if piece)
