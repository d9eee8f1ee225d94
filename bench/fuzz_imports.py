"""Coverage-guided fuzzing of every import reader with atheris (libFuzzer), for long runs.

The first input byte picks the format, the rest is the file. The check is the one
tests/unit/test_import_fuzz.py runs with Hypothesis in CI: only reported problems escape a reader, and every
span `prepare()` accepts points at the surface it declares. Bounded by FUZZ_SECONDS (default 20) so that
`make bench` ends; run with FUZZ_SECONDS=3600 for a real campaign. A crash prints the input and exits 1.

    .venv/bin/python bench/fuzz_imports.py            # 20 s
    FUZZ_SECONDS=600 .venv/bin/python bench/fuzz_imports.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

with atheris.instrument_imports():
    from annotator.interchange.checks import prepare
    from annotator.interchange.formats import FORMATS
    from annotator.interchange.formats.base import Limits, ProblemLog, TooManyProblems
    from annotator.interchange.formats.sources import BytesSource, SourceError

# brat needs an archive (a .txt and .ann pair); the zip reader is fuzzed through the other formats' archives.
NAMES = {"jsonl": "a.jsonl", "csv": "a.csv", "text": "a.txt", "conll": "a.conll", "spacy": "a.spacy",
         "doccano": "a.jsonl", "labelstudio": "a.json"}  # fmt: skip
FORMAT_LIST = sorted(NAMES)


def check(data: bytes) -> None:
    if not data:
        return
    fmt = FORMAT_LIST[data[0] % len(FORMAT_LIST)]
    source = BytesSource(NAMES[fmt], data[1:], Limits(max_record_bytes=2**16))
    try:
        records = list(FORMATS.reader(fmt).read(source, ProblemLog(limit=50), {}))
    except (SourceError, TooManyProblems):
        return
    for record in records:
        prepared = prepare(record, max_chars=10**6, problems=ProblemLog(limit=10**6))
        if prepared is None:
            continue
        text = prepared.record.text
        for span in prepared.record.spans:
            pieces = span.fragments or ((span.start, span.end),)
            assert all(0 <= start < end <= len(text) for start, end in pieces), (fmt, span)
            if span.text is not None:
                surface = " ".join(text[start:end] for start, end in pieces)
                assert surface == span.text.replace("\r\n", "\n"), (fmt, span, surface)


def main() -> None:
    seconds = int(os.environ.get("FUZZ_SECONDS", "20"))
    # libFuzzer prints its figures (runs, exec/s, coverage) and exits itself: 0 when the time is up.
    atheris.Setup([sys.argv[0], f"-max_total_time={seconds}", "-max_len=4096", "-print_final_stats=1"], check)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
