"""Opening a DocBin safely: inflated in bounded chunks, and every declared length checked before spaCy uses it.

spaCy's `DocBin.from_bytes` inflates the whole blob at once (a zlib bomb of a few hundred kilobytes then
takes gigabytes) and trusts the lengths it finds (lengths that disagree with the tokens give documents
cut in the wrong places, or numpy errors). Here the bytes are inflated a chunk at a time up to a cap,
the message is checked field by field, and only then handed to a DocBin.
"""

from __future__ import annotations

import zlib
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from spacy.tokens import DocBin

# What one .spacy file may inflate to. Reading it builds Python objects several times its size, and no
# import may grow a worker by more than 256 MB: a bigger corpus is split into several files (zipped).
MAX_INFLATED = 96 * 2**20
DOCBIN_VERSIONS = ("0.1",)
_CHUNK = 2**20


class DocBinError(ValueError):
    """The bytes are not a DocBin this reader can open; the message says why."""


def inflate(stream: IO[bytes], *, limit: int = MAX_INFLATED) -> bytes:
    """The zlib stream inflated, a chunk at a time, refused as soon as it passes `limit` bytes."""
    inflater = zlib.decompressobj()
    parts: list[bytes] = []
    total = 0
    try:
        while chunk := stream.read(_CHUNK):
            while chunk:
                part = inflater.decompress(chunk, _CHUNK)
                total += len(part)
                if total > limit:
                    raise DocBinError(
                        f"It inflates to more than {limit:,} bytes, the limit for one DocBin: split the corpus "
                        "into several .spacy files and zip them."
                    )
                parts.append(part)
                chunk = inflater.unconsumed_tail
            if inflater.eof:
                break
        tail = inflater.flush()
    except zlib.error as error:
        raise DocBinError(f"It is not zlib-compressed as a DocBin is ({error}).") from None
    if not inflater.eof:
        raise DocBinError("It ends in the middle of its compressed data: the file looks cut short.")
    if total + len(tail) > limit:
        raise DocBinError(f"It inflates to more than {limit:,} bytes, the limit for one DocBin.")
    parts.append(tail)
    return b"".join(parts)


def _check(msg: Any) -> int:
    """The number of documents, once every length the message declares agrees with the others."""
    if not isinstance(msg, dict):
        raise DocBinError("Its content is not a DocBin's (a msgpack map).")
    version = msg.get("version")
    if version not in DOCBIN_VERSIONS:
        raise DocBinError(
            f"It declares the DocBin version {version!r}; this reader knows {', '.join(DOCBIN_VERSIONS)}."
        )
    attrs, tokens, spaces, lengths = (msg.get(key) for key in ("attrs", "tokens", "spaces", "lengths"))
    if not (isinstance(attrs, list) and attrs and all(isinstance(a, int) for a in attrs)):
        raise DocBinError("Its attribute list is missing or not a list of attribute ids.")
    if not (isinstance(tokens, bytes) and isinstance(spaces, bytes) and isinstance(lengths, bytes)):
        raise DocBinError("Its tokens, spaces or lengths are missing.")
    if len(lengths) % 4:
        raise DocBinError("Its document lengths are not whole 32-bit numbers.")
    counts = [int.from_bytes(lengths[i : i + 4], "little", signed=True) for i in range(0, len(lengths), 4)]
    if any(count < 0 for count in counts):
        raise DocBinError("A document length is negative.")
    total = sum(counts)
    if len(tokens) != total * len(attrs) * 8:
        raise DocBinError(
            f"Its lengths add up to {total:,} tokens, but it holds {len(tokens) // 8 // len(attrs):,}."
        )
    if len(spaces) != total:
        raise DocBinError(f"Its lengths add up to {total:,} tokens, but it holds {len(spaces):,} spaces.")
    if not isinstance(msg.get("strings"), list):
        raise DocBinError("Its string table is missing.")
    for key in ("cats", "flags", "span_groups", "user_data"):
        if key in msg and not (isinstance(msg[key], list) and len(msg[key]) == len(counts)):
            raise DocBinError(f"It has {len(counts):,} documents but not as many {key}.")
    return len(counts)


def open_docbin(stream: IO[bytes], *, limit: int = MAX_INFLATED) -> DocBin:
    """A DocBin read from the stream, checked; raises DocBinError saying what is wrong."""
    import numpy
    import srsly
    from spacy.tokens import DocBin
    from thinc.api import NumpyOps

    data = inflate(stream, limit=limit)
    try:
        msg = srsly.msgpack_loads(data)
    except Exception as error:  # msgpack raises several kinds
        raise DocBinError(f"Its content is not a DocBin's ({type(error).__name__}).") from None
    del data
    count = _check(msg)
    docbin = DocBin(store_user_data=True)
    docbin.attrs = msg["attrs"]
    docbin.strings = set(msg["strings"])
    lengths = numpy.frombuffer(msg["lengths"], dtype="int32")
    flat_tokens = numpy.frombuffer(msg["tokens"], dtype="uint64").reshape((-1, len(docbin.attrs)))
    flat_spaces = numpy.frombuffer(msg["spaces"], dtype=bool).reshape((-1, 1))
    docbin.tokens = NumpyOps().unflatten(flat_tokens, lengths)
    docbin.spaces = NumpyOps().unflatten(flat_spaces, lengths)
    docbin.cats = msg.get("cats", [{} for _ in range(count)])
    docbin.span_groups = msg.get("span_groups", [b"" for _ in range(count)])
    docbin.flags = msg.get("flags", [{} for _ in range(count)])
    docbin.user_data = list(msg["user_data"]) if "user_data" in msg else [None] * count
    return docbin
