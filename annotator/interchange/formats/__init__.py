"""The import and export formats, one pure module each (no Django), behind one registry."""

from annotator.interchange.formats.base import build_registry
from annotator.interchange.formats.brat import Brat, BratWriter
from annotator.interchange.formats.conll import Conll, ConllWriter
from annotator.interchange.formats.csvfile import Csv, CsvWriter
from annotator.interchange.formats.docbin import DocBinReader, DocBinWriter
from annotator.interchange.formats.doccano import Doccano, DoccanoWriter
from annotator.interchange.formats.jsonl import JsonLines, JsonLinesWriter
from annotator.interchange.formats.labelstudio import LabelStudio, LabelStudioWriter
from annotator.interchange.formats.text import PlainText

FORMATS = build_registry(
    [JsonLines(), Csv(), PlainText(), Brat(), Conll(), DocBinReader(), Doccano(), LabelStudio()],
    [
        JsonLinesWriter(), DocBinWriter(), ConllWriter(), BratWriter(), DoccanoWriter(), LabelStudioWriter(),
        CsvWriter(),
    ],
)  # fmt: skip
