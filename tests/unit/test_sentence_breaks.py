"""Sentences cut again at blank lines: several breaks inside one sentence, and a long text in linear time."""

import time
from types import SimpleNamespace

from annotator.suggestions import nlp
from annotator.suggestions.nlp.pipeline import _sentences


def sentences(text):
    (analysis,) = nlp.build_suggester().analyse([text])
    return [text[s:e] for s, e in analysis.sentences]


def test_every_blank_line_inside_one_sentence_cuts_it():
    text = "MINSK\n\nBelarus and Russia\n\n\nagreed today. Then they left."
    assert sentences(text) == ["MINSK\n\n", "Belarus and Russia\n\n\n", "agreed today.", "Then they left."]


def test_a_text_with_tens_of_thousands_of_sentences_and_paragraphs_is_cut_in_linear_time():
    paragraph = "Officials met in Minsk. They talked for hours\n\n"  # 2 sentences, 1 break
    text = paragraph * 20_000  # about 1 MB
    starts = [i * len(paragraph) for i in range(20_000)]
    sents = [SimpleNamespace(start_char=s, end_char=s + 23) for s in starts]
    sents += [SimpleNamespace(start_char=s + 24, end_char=s + len(paragraph)) for s in starts]
    sents.sort(key=lambda sent: sent.start_char)
    started = time.perf_counter()
    found = _sentences(SimpleNamespace(sents=sents), text)
    took = time.perf_counter() - started
    assert len(found) == 40_000
    assert found[:2] == ((0, 23), (24, len(paragraph)))
    assert took < 2  # every sentence against every break: 800 million comparisons, minutes
