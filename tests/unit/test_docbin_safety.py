"""DocBins are opened safely: the version and every length are checked before spaCy sees them, spaCy's own
errors are passed on, and a zlib bomb is refused in bounded memory (peak RSS measured in a subprocess)."""

import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import srsly

from tests.unit.test_import_formats import read

ROOT = Path(__file__).resolve().parents[2]


def docbin_message(**changes):
    from spacy.tokens import Doc, DocBin
    from spacy.vocab import Vocab

    doc = Doc(Vocab(), words=["Minsk", "is", "here"], spaces=[True, True, False])
    msg = srsly.msgpack_loads(zlib.decompress(DocBin(docs=[doc]).to_bytes()))
    msg.update(changes)
    return msg


def problems_of(msg):
    records, problems = read("spacy", "c.spacy", zlib.compress(srsly.msgpack_dumps(msg)))
    assert records == []
    return [
        problem.message.removeprefix("This is not a spaCy DocBin that can be read: ") for problem in problems
    ]


def test_a_docbin_of_an_unknown_version_or_with_lengths_that_disagree_is_refused():
    assert problems_of(docbin_message(version="9.9")) == [
        "It declares the DocBin version '9.9'; this reader knows 0.1."
    ]
    lengths = (4).to_bytes(4, "little")
    assert problems_of(docbin_message(lengths=lengths)) == ["Its lengths add up to 4 tokens, but it holds 3."]
    assert problems_of(docbin_message(lengths=(-1).to_bytes(4, "little", signed=True))) == [
        "A document length is negative."
    ]
    assert problems_of(docbin_message(cats=[{}, {}])) == ["It has 1 documents but not as many cats."]


def test_spacy_s_own_error_is_passed_on_when_the_string_table_lacks_a_word():
    records, problems = read(
        "spacy", "c.spacy", zlib.compress(srsly.msgpack_dumps(docbin_message(strings=[])))
    )
    assert records == []
    assert len(problems) == 1
    assert problems[0].field == "docs[0]"
    assert problems[0].message.startswith(
        "spaCy cannot read this document: [E018] Can't retrieve string for hash"
    )


def test_a_zlib_bomb_is_refused_without_growing_the_process_by_256_mb(tmp_path):
    bomb = tmp_path / "bomb.spacy"
    compressor = zlib.compressobj(9)
    with open(bomb, "wb") as out:
        zeros = bytes(2**20)
        for _ in range(200):  # 200 MiB of zeros: about 200 KB compressed
            out.write(compressor.compress(zeros))
        out.write(compressor.flush())
    script = textwrap.dedent(f"""
        import resource, django, os
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "annotator.settings_test")
        django.setup()
        import spacy, numpy, srsly  # what any DocBin import loads, before the baseline
        from annotator.interchange.formats import FORMATS
        from annotator.interchange.formats.base import ProblemLog
        from annotator.interchange.formats.sources import open_source
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        problems = ProblemLog()
        records = list(FORMATS.reader("spacy").read(open_source(__import__("pathlib").Path({str(bomb)!r})), problems))
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(len(records), (after - before) // 1024, problems.items[0].message)
    """)
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    count, grown_mb, message = done.stdout.strip().split(" ", 2)
    assert count == "0"
    assert int(grown_mb) < 256, f"the import grew the process by {grown_mb} MB"
    assert message == (
        "This is not a spaCy DocBin that can be read: It inflates to more than 100,663,296 bytes, the limit for one "
        "DocBin: split the corpus into several .spacy files and zip them."
    )
