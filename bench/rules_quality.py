"""The default suggester's shipped lists and rules on CoNLL-2003 English, fast, without a database: for
tuning the name rules (annotator/suggestions/nlp/names.py) on the TRAINING split and confirming on the
development split.

    python bench/rules_quality.py var/conll2003                      # eng.train (the tuning split)
    python bench/rules_quality.py var/conll2003 --split eng.testa    # confirm on the development split
    python bench/rules_quality.py var/conll2003 --sources            # also each source's own precision
    python bench/rules_quality.py var/conll2003 --errors ORG --fn 40 # examples of missed ORG (eng.train)

Documents are rebuilt as the app's CoNLL import rebuilds them (tokens joined by one space, sentences by
a line break, `-DOCSTART-` starts a document), and go through the same `Suggester.analyse` and merge as
`bench/quality.py`'s "default suggester, empty KB" (the shipped lists' patterns, the rules, CoNLL's types
PER, ORG, LOC, MISC with the labels mapped by name). `eng.testb` is never opened. It also prints the name
rules' own CPU time (`find_names`) per 1,000 documents, and the load average.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TYPES = frozenset({"PER", "ORG", "LOC", "MISC"})
SPLITS = ("eng.train", "eng.testa")


def read_conll(path: Path) -> list[tuple[str, list[tuple[int, int, str]]]]:
    """(text, [(start, end, label)]) per document, IOB1 as CoNLL-2003 writes it."""
    documents: list[tuple[str, list[tuple[int, int, str]]]] = []
    parts: list[str] = []
    spans: list[tuple[int, int, str]] = []
    state = {"length": 0, "open": None, "started": False}

    def close() -> None:
        if state["open"] is not None:
            spans.append(state["open"])
            state["open"] = None

    def end_sentence() -> None:
        close()
        if state["started"]:
            parts.append("\n")
            state["length"] += 1
            state["started"] = False

    def end_document() -> None:
        end_sentence()
        text = "".join(parts).rstrip("\n")
        if text:
            documents.append((text, list(spans)))
        parts.clear()
        spans.clear()
        state["length"] = 0

    for line in path.read_text(encoding="utf-8").splitlines():
        columns = line.split()
        if not columns:
            end_sentence()
            continue
        if columns[0] == "-DOCSTART-":
            end_document()
            continue
        token, tag = columns[0], columns[-1]
        if state["started"]:
            parts.append(" ")
            state["length"] += 1
        start = state["length"]
        parts.append(token)
        state["length"] += len(token)
        state["started"] = True
        end = state["length"]
        if tag == "O":
            close()
            continue
        prefix, label = tag[0], tag[2:]
        current = state["open"]
        if prefix == "I" and current is not None and current[2] == label:
            state["open"] = (current[0], end, label)
        else:
            close()
            state["open"] = (start, end, label)
    end_document()
    return documents


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=Path)
    parser.add_argument("--split", default="eng.train", choices=SPLITS)
    parser.add_argument("--limit", type=int, default=0, help="the first N documents only")
    parser.add_argument("--sources", action="store_true", help="each source's precision before the merge")
    parser.add_argument("--errors", default="", help="a CoNLL type: print missed and wrong mentions of it")
    parser.add_argument("--fn", type=int, default=30, help="how many missed mentions to print")
    parser.add_argument("--fp", type=int, default=30, help="how many wrong mentions to print")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "annotator.settings_test")
    import django

    django.setup()
    from annotator.suggestions import gazetteer, labels, nlp, sources
    from annotator.suggestions.nlp import names, pipeline
    from annotator.suggestions.scoring import MICRO, score

    documents = read_conll(args.folder / args.split)
    if args.limit:
        documents = documents[: args.limit]
    suggester = nlp.build_suggester()
    suggester.ensure_patterns("lists", gazetteer.shipped_patterns)
    spoken = sorted({*sources.LIST_LABELS, *sources.RULE_LABELS, *sources.ENGLISH_RULE_LABELS})
    mapping = labels.effective_map(spoken, TYPES, {})
    merge = nlp.Merge(label_map=mapping, types=TYPES)

    spent = [0.0]
    real = names.find_names

    def timed(*a, **k):
        started = time.process_time()
        try:
            return real(*a, **k)
        finally:
            spent[0] += time.process_time() - started

    pipeline.find_names = timed  # type: ignore[assignment]
    started = time.perf_counter()
    cpu = time.process_time()
    analyses = list(
        suggester.analyse((text for text, _ in documents), merge=merge, keep_candidates=args.sources)
    )
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    pipeline.find_names = real  # type: ignore[assignment]

    predicted, expected = [], []
    for index, ((_, gold), analysis) in enumerate(zip(documents, analyses, strict=True)):
        predicted += [((index, e.start, e.end), e.label) for e in analysis.entities]
        expected += [((index, s, e), label) for s, e, label in gold]
    scores = score(predicted, expected)
    one, five, _ = os.getloadavg()
    print(f"{args.split}: {len(documents)} documents, {len(expected)} entities   (load {one:.1f}/{five:.1f})")
    for label in ["PER", "ORG", "LOC", "MISC", MICRO]:
        s = scores.get(label)
        if s is not None:
            print(
                f"  {label:<5} P {s.precision:.3f}  R {s.recall:.3f}  F1 {s.f1:.3f}   "
                f"(tp {s.tp}, fp {s.fp}, fn {s.fn})"
            )
    per_thousand = 1000 / max(1, len(documents))
    print(
        f"  time: {wall:.1f} s wall, {cpu:.1f} s CPU in all; name rules (find_names) {spent[0]:.2f} s CPU "
        f"= {spent[0] * per_thousand:.2f} s per 1,000 documents"
    )

    if args.sources:
        gold_at = {((i, s, e)): label for i, (_, gold) in enumerate(documents) for s, e, label in gold}
        tally: dict[tuple[str, str], Counter] = defaultdict(Counter)
        for index, analysis in enumerate(analyses):
            for c in analysis.candidates:
                target = merge.target(c.label)
                if not target:
                    continue
                right = gold_at.get((index, c.start, c.end))
                verdict = "right" if right == target else ("type" if right else "wrong")
                tally[(c.source, target)][verdict] += 1
        print("  per source (before the merge): right / other type / wrong spans, precision")
        for (source, target), counts in sorted(tally.items()):
            total = sum(counts.values())
            print(
                f"    {source:<22} {target:<5} {counts['right']:>6} {counts['type']:>6} {counts['wrong']:>6}"
                f"   P {counts['right'] / total:.3f}"
            )

    if args.errors:
        if args.split != "eng.train":
            raise SystemExit("Error analysis is for the tuning split, eng.train, only.")
        wanted = args.errors
        rng = random.Random(args.seed)
        found = {key: label for key, label in predicted}
        gold_keys = {key: label for key, label in expected}
        missed, wrong = [], []
        for key, label in expected:
            if label == wanted and found.get(key) != label:
                missed.append((key, found.get(key)))
        for key, label in predicted:
            if label == wanted and gold_keys.get(key) != label:
                wrong.append((key, gold_keys.get(key)))

        def context(key: tuple[int, int, int]) -> str:
            index, start, end = key
            text = documents[index][0]
            left = text[max(0, start - 40) : start].replace("\n", " / ")
            right = text[end : end + 40].replace("\n", " / ")
            return f"{left}[[{text[start:end]}]]{right}"

        def overlapping(key: tuple[int, int, int]) -> str:
            index, start, end = key
            near = [
                f"{documents[index][0][e.start : e.end]}={e.label}/{e.source}"
                for e in analyses[index].entities
                if e.start < end and start < e.end
            ]
            return "; ".join(near)

        print(f"\nmissed {wanted}: {len(missed)}")
        for key, got in rng.sample(missed, min(args.fn, len(missed))):
            print(f"  {context(key)}   <{overlapping(key) or got}>")
        print(f"\nwrong {wanted}: {len(wrong)}")
        for key, gold_label in rng.sample(wrong, min(args.fp, len(wrong))):
            source = next((e.source for e in analyses[key[0]].entities if (e.start, e.end) == key[1:]), "?")
            print(f"  {context(key)}   (gold {gold_label}; {source})")


if __name__ == "__main__":
    main()
