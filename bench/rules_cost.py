"""The name rules' own CPU cost (`find_names` of annotator/suggestions/nlp/names.py) per 1,000 documents,
against another revision's in the same run (A/B, interleaved, so both see the same machine load).

    python bench/rules_cost.py var/conll2003                     # against main
    python bench/rules_cost.py var/conll2003 --against 3f019a3 --rounds 7

The texts are CoNLL-2003's eng.train documents as the app imports them (see bench/rules_quality.py), and
the other sources' candidates (the shipped lists, the token rules) are computed once, by this checkout's
pipeline, and given to both versions: what is timed is `find_names` alone. The other revision's names.py
reads that revision's lists. It prints the median CPU seconds per 1,000 documents of each, their ratio and
the load average.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
NAMES = "annotator/suggestions/nlp/names.py"
LISTS = "annotator/suggestions/lists"


def other_version(revision: str, into: Path) -> ModuleType:
    """names.py and its lists as they are at `revision`, loaded as a module of their own."""
    (into / "lists").mkdir()
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{revision}:{NAMES}"], check=True, capture_output=True, text=True
    ).stdout
    (into / "names.py").write_text(source, encoding="utf-8")
    listing = subprocess.run(
        ["git", "-C", str(ROOT), "ls-tree", "--name-only", f"{revision}:{LISTS}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    for name in listing:
        content = subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{revision}:{LISTS}/{name}"], check=True, capture_output=True
        ).stdout
        (into / "lists" / name).write_bytes(content)
    spec = importlib.util.spec_from_file_location("names_other", into / "names.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.LISTS_DIR = into / "lists"
    return module


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=Path)
    parser.add_argument("--against", default="main", help="a git revision (default: main)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "annotator.settings_test")
    import django

    django.setup()
    from rules_quality import read_conll

    from annotator.suggestions import gazetteer, nlp
    from annotator.suggestions.nlp import names, pipeline

    documents = [text for text, _ in read_conll(args.folder / "eng.train")]
    suggester = nlp.build_suggester()
    suggester.ensure_patterns("lists", gazetteer.shipped_patterns)
    listed = [
        pipeline._ruler_candidates(doc)  # the lists' and token rules' candidates, as `_candidates` has them
        for doc in suggester.docs(documents)
    ]
    with tempfile.TemporaryDirectory(prefix="rules-cost-") as folder:
        other = other_version(args.against, Path(folder))
        versions = {"this checkout": names.find_names, args.against: other.find_names}
        for find in versions.values():  # warm the caches (lists read, words judged once)
            for text, found in zip(documents, listed, strict=True):
                find(text, found, guesses=True)
        timings: dict[str, list[float]] = {name: [] for name in versions}
        for _ in range(args.rounds):
            for name, find in versions.items():
                started = time.process_time()
                for text, found in zip(documents, listed, strict=True):
                    find(text, found, guesses=True)
                timings[name].append((time.process_time() - started) * 1000 / len(documents))
    one, five, _ = os.getloadavg()
    print(
        f"find_names over {len(documents)} eng.train documents, {args.rounds} rounds (load {one:.1f}/{five:.1f})"
    )
    medians = {name: statistics.median(values) for name, values in timings.items()}
    for name, value in medians.items():
        print(f"  {name:<16} {value:.3f} s CPU per 1,000 documents (median; rounds {timings[name]})")
    print(f"  ratio this checkout / {args.against}: {medians['this checkout'] / medians[args.against]:.2f}")


if __name__ == "__main__":
    main()
