"""The import and export formats, one pure module each (no Django), behind one registry."""

from annotator.interchange.formats.base import build_registry
from annotator.interchange.formats.brat import Brat
from annotator.interchange.formats.conll import Conll
from annotator.interchange.formats.csvfile import Csv
from annotator.interchange.formats.docbin import DocBinReader
from annotator.interchange.formats.doccano import Doccano
from annotator.interchange.formats.jsonl import JsonLines
from annotator.interchange.formats.labelstudio import LabelStudio
from annotator.interchange.formats.text import PlainText

FORMATS = build_registry(
    [JsonLines(), Csv(), PlainText(), Brat(), Conll(), DocBinReader(), Doccano(), LabelStudio()]
)
