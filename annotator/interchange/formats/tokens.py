"""Cutting a text into tokens for the token-based exports (CoNLL, DocBin), with spaCy's tokenizer.

Entity edges need not fall on spaCy's token edges ("Naryshkin's", a span inside a word), so the text is
cut at both: every character lands in exactly one piece, and every span starts and ends on a piece's
edge. spaCy is imported only when a token-based format is written.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from itertools import pairwise
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spacy.language import Language


@cache
def pipeline() -> Language:
    """A blank English pipeline with a sentencizer: the tokenizer and sentence starts, nothing learnt."""
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    return nlp


def tokenizer_name() -> str:
    """How the output names its tokenizer, so that a reader can tokenise new text the same way."""
    import spacy

    return f"spacy {spacy.__version__} blank:en"


def pieces(
    text: str, cuts: Iterable[int], *, sentences: bool = False
) -> tuple[list[tuple[int, int]], set[int]]:
    """The text as consecutive (start, end) pieces cut at spaCy's token edges and at `cuts`; with
    `sentences`, also the offsets where spaCy's sentencizer starts a sentence."""
    nlp = pipeline()
    doc = nlp(text) if sentences else nlp.make_doc(text)
    edges = {0, len(text)}
    edges.update(offset for offset in cuts if 0 <= offset <= len(text))
    starts: set[int] = set()
    for token in doc:
        edges.add(token.idx)
        edges.add(token.idx + len(token.text))
        if sentences and token.is_sent_start:
            starts.add(token.idx)
    return list(pairwise(sorted(edges))), starts
