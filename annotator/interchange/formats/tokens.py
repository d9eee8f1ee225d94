"""Cutting a text into tokens for the token-based exports (CoNLL, DocBin), with spaCy's tokenizer.

Entity edges need not fall on spaCy's token edges ("Naryshkin's", a span inside a word), so the text is
cut at both: every character lands in exactly one piece, and every span starts and ends on a piece's
edge. spaCy is imported only when a token-based format is written.

The tokens are read as arrays (`Doc.to_array`), never as `Token` objects: a Python object per token cost
more than the tokenizer itself (two thirds of a CoNLL export's time). Sentence starts are the
sentencizer's rule, run over those arrays (`sentence_starts`); a test holds it to the sentencizer's own
answer on texts made to trip it up.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from itertools import pairwise
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from spacy.language import Language


@cache
def pipeline() -> Language:
    """A blank English pipeline with a sentencizer: the tokenizer and sentence starts, nothing learnt."""
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    return nlp


@cache
def _punctuation() -> Any:
    """The string ids of the sentencizer's sentence-ending characters, as a sorted array."""
    import numpy

    nlp = pipeline()
    sentencizer: Any = nlp.get_pipe("sentencizer")
    return numpy.array(
        sorted(nlp.vocab.strings.add(char) for char in sentencizer.punct_chars), dtype="uint64"
    )


def tokenizer_name() -> str:
    """How the output names its tokenizer, so that a reader can tokenise new text the same way."""
    import spacy

    return f"spacy {spacy.__version__} blank:en"


def token_offsets(text: str, *, sentences: bool = False) -> tuple[Any, Any, Any]:
    """spaCy's tokens of the text as arrays: their start offsets, their end offsets, and (with
    `sentences`) the start offsets of the tokens that start a sentence (empty without)."""
    from spacy.attrs import IDX, IS_PUNCT, LENGTH, ORTH

    doc = pipeline().make_doc(text)
    columns = doc.to_array([IDX, LENGTH, ORTH, IS_PUNCT] if sentences else [IDX, LENGTH])
    if columns.ndim == 1:  # (an empty doc)
        columns = columns.reshape((0, 4 if sentences else 2))
    starts = columns[:, 0].astype("int64")
    ends = starts + columns[:, 1].astype("int64")
    if not sentences:
        return starts, ends, starts[:0]
    return starts, ends, starts[sentence_starts(columns[:, 2], columns[:, 3])]


def pieces(
    text: str, cuts: Iterable[int], *, sentences: bool = False
) -> tuple[list[tuple[int, int]], set[int]]:
    """The text as consecutive (start, end) pieces cut at spaCy's token edges and at `cuts`; with
    `sentences`, also the offsets where spaCy's sentencizer starts a sentence."""
    import numpy

    starts, ends, sentence_offsets = token_offsets(text, sentences=sentences)
    size = len(text)
    edges = set(numpy.concatenate((starts, ends)).tolist())
    edges.update((0, size))
    edges.update(offset for offset in cuts if 0 <= offset <= size)
    return list(pairwise(sorted(edges))), set(sentence_offsets.tolist())


def sentence_starts(orth: Any, is_punct: Any) -> Any:
    """The indices of the tokens that start a sentence, by spaCy's sentencizer's rule: the first token,
    and every token that is neither punctuation nor a sentence-ending character when one such character
    came since the last token that was neither."""
    import numpy

    if not len(orth):
        return numpy.zeros(0, dtype="int64")
    ending = numpy.isin(orth, _punctuation())
    words = numpy.flatnonzero(~(is_punct.astype(bool) | ending))
    endings_before = numpy.cumsum(ending)[words]  # a word is no ending: its count is of those before it
    since_last_word: Any = endings_before - numpy.concatenate(([0], endings_before[:-1]))
    return numpy.union1d([0], words[since_last_word > 0])
