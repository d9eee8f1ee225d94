"""File shapes real tools write: JSON that is not one object per line, UTF-16 text, and CoNLL in every
tagging scheme and column layout, each read into exact records (and CoNLL round-tripped)."""

import json

import pytest

from annotator.interchange.formats.base import DocumentRecord, FormatError, Problem, SpanRecord, Where
from tests.unit.test_export_formats import export, read_back
from tests.unit.test_import_formats import read

TEXT = "Naryshkin visited Minsk."


def test_a_pretty_printed_object_several_or_a_json_array_are_read_as_what_they_are():
    line = {"external_id": "a1", "text": TEXT, "entities": [{"start": 0, "end": 9, "label": "PERSON"}]}
    other = {"external_id": "a2", "text": "Minsk."}
    expected = [
        DocumentRecord(text=TEXT, external_id="a1", annotated=True, spans=(SpanRecord("0", 0, 9, "PERSON"),)),
        DocumentRecord(text="Minsk.", external_id="a2"),
    ]
    for data in (
        (json.dumps(line, indent=2) + "\n" + json.dumps(other, indent=2)).encode(),
        json.dumps([line, other], indent=2).encode(),
        b"\xef\xbb\xbf" + json.dumps([line, other]).encode(),
    ):
        records, problems = read("jsonl", "pretty.jsonl", data)
        assert (records, problems) == (expected, [])
        assert records[1].where == Where("pretty.jsonl", None, "[1]")
    records, problems = read(
        "doccano", "d.json", json.dumps([{"text": TEXT, "label": [[0, 9, "PER"]]}]).encode()
    )
    assert [(r.text, r.spans) for r in records] == [(TEXT, (SpanRecord("0", 0, 9, "PER"),))]


def test_a_json_array_with_a_bad_item_or_cut_short_says_so():
    records, problems = read("jsonl", "a.json", b'[{"text": "One."}, 5, {"text": "Tw')
    assert [r.text for r in records] == ["One."]
    assert problems == [
        Problem("a.json", None, "[1]", "Each item must be a JSON object, not a number."),
        Problem("a.json", None, "[2]",
                "The JSON cannot be read past this item: the file ends in the middle of the JSON: it looks cut short."),
    ]  # fmt: skip


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "conll", "text"])
def test_a_utf16_file_gets_one_clear_message(fmt):
    records, problems = read(fmt, f"u.{fmt}", "text,title\nMinsk,City\n".encode("utf-16"))
    assert records == []
    assert [p.message for p in problems] == [
        "The file is UTF-16 text, not UTF-8: save it as UTF-8 and import it again."
    ]


SCHEMES = {
    "IOB1": "Sergey I-PER\nNaryshkin I-PER\nmet I-PER\nB I-LOC\nMinsk B-LOC\nand O\nVitebsk I-LOC\n",
    "IOB2": "Sergey B-PER\nNaryshkin I-PER\nmet B-PER\nB B-LOC\nMinsk B-LOC\nand O\nVitebsk B-LOC\n",
    "IOBES": "Sergey B-PER\nNaryshkin E-PER\nmet S-PER\nB S-LOC\nMinsk S-LOC\nand O\nVitebsk S-LOC\n",
    "BILOU": "Sergey B-PER\nNaryshkin L-PER\nmet U-PER\nB U-LOC\nMinsk U-LOC\nand O\nVitebsk U-LOC\n",
}
# IOB1's I-PER after a finished I-PER span continues it: "Sergey Naryshkin met" is one PER there.
SPANS = [(0, 16, "PER"), (17, 20, "PER"), (21, 22, "LOC"), (23, 28, "LOC"), (33, 40, "LOC")]


@pytest.mark.parametrize("scheme", SCHEMES)
def test_each_tagging_scheme_reads_the_same_entities_and_round_trips(scheme):
    records, problems = read("conll", "s.conll", SCHEMES[scheme].encode())
    assert problems == []
    (record,) = records
    assert record.text == "Sergey Naryshkin met B Minsk and Vitebsk"
    expected = [(0, 20, "PER"), *SPANS[2:]] if scheme == "IOB1" else SPANS
    assert [(s.start, s.end, s.label) for s in record.spans] == expected
    for span in record.spans:
        assert record.text[span.start : span.end].strip() == record.text[span.start : span.end]
    (back,) = read_back("conll", export("conll", record))
    assert (back.text, [(s.start, s.end, s.label) for s in back.spans]) == (record.text, expected)


def test_options_name_the_token_and_tag_columns_and_comments_are_skipped():
    data = "# text = Minsk is big\nx\tMinsk\tB-LOC\tNNP\ny\tis\tO\tVBZ\n# a note\nz\tbig\tO\tJJ\n"
    records, problems = read("conll", "c.tsv", data.encode(), token="2", tags="3")
    assert problems == []
    assert [(r.text, [(s.start, s.end, s.label) for s in r.spans]) for r in records] == [
        ("Minsk is big", [(0, 5, "LOC")])
    ]
    with pytest.raises(FormatError, match="The CoNLL tags option names columns by number, from 1"):
        read("conll", "c.tsv", data.encode(), tags="tag")


def test_conll_u_without_entity_tags_is_refused_once_saying_what_it_is():
    data = "".join(f"{i}\tword{i}\tlemma\tNOUN\tNN\t_\t0\troot\t_\t_\n" for i in range(1, 4)) * 1
    records, problems = read("conll", "ud.conllu", (data + "\n" + data).encode())
    assert records == []
    assert problems == [
        Problem("ud.conllu", 1, None,
                "This is CoNLL-U or CoNLL-X (ten columns of words, lemmas, parts of speech and dependencies) with "
                "no entity tags: there is nothing to import as entities. If a column holds the tags, name it with "
                "the tags option (e.g. tags=10).")
    ]  # fmt: skip


def test_flair_s_ner_column_before_a_last_blank_one_and_its_relation_comments():
    from annotator.interchange.formats import FORMATS
    from annotator.interchange.formats.base import ProblemLog
    from annotator.interchange.formats.sources import BytesSource

    data = "# relations = 1;1;3;3;visited\n1\tNaryshkin\tPROPN\tB-PER\t_\n"
    data += "2\tvisited\tVERB\tO\t_\n3\tMinsk\tPROPN\tS-LOC\t_\n"
    problems = ProblemLog()
    (record,) = FORMATS.reader("conll").read(BytesSource("f.conllu", data.encode()), problems)
    assert [(s.start, s.end, s.label) for s in record.spans] == [(0, 9, "PER"), (18, 23, "LOC")]
    assert problems.warning_counts() == [
        {"kind": "CoNLL column", "action": "not read", "count": 1},  # the parts of speech
        {"kind": "CoNLL relation comment", "action": "skipped", "count": 1},
    ]


def test_spacy_s_sentence_per_line_iob_is_read():
    data = b"Who|WP|O is|VBZ|O Shaka|NNP|B-PER Khan|NNP|I-PER ?|.|O\nI|PRP|O like|VBP|O London|NNP|B-LOC\n"
    records, problems = read("conll", "s.iob", data)
    assert problems == []
    assert [(r.text, [(s.start, s.end, s.label) for s in r.spans]) for r in records] == [
        ("Who is Shaka Khan ?\nI like London", [(7, 17, "PER"), (27, 33, "LOC")])
    ]


def test_spacy_v2_training_json_is_named_for_what_it_is():
    records, problems = read(
        "jsonl", "train.json", b'[{"id": 0, "paragraphs": [{"raw": "x", "sentences": []}]}]'
    )
    assert records == []
    assert [p.message for p in problems] == [
        "This is spaCy's v2 training JSON (paragraphs of tokens), not JSON Lines: convert it to a DocBin with "
        "`python -m spacy convert` and import that."
    ]


def test_brat_events_sharing_a_trigger_and_a_self_equivalence_are_warned_about(tmp_path):
    from annotator.interchange.formats.base import ProblemLog
    from annotator.interchange.formats.brat import parse_ann

    ann = "T1\tProtein 0 3\tp53\nT2\tProtein 8 11\tMDM\nT3\tBinding 4 7\tand\nE1\tBinding:T3 Theme:T1\n"
    ann += "E2\tBinding:T3 Theme:T2 Theme2:T1\n*\tEquiv T1 T1\nT4\tBinding 12 15\tbin\nE3\tBinding:T4\n"
    problems = ProblemLog()
    _, relations, _ = parse_ann(ann, Where("b.ann"), problems)
    assert problems.items == []
    assert [(r.head, r.tail, r.label) for r in relations] == [
        ("T3", "T1", "arg:Theme"),
        ("T3", "T2", "arg:Theme"),
    ]
    assert problems.warning_counts() == [
        {"kind": "argument-less brat event", "action": "kept as trigger only", "count": 1},
        {"kind": "brat self-equivalence", "action": "skipped", "count": 1},
        {"kind": "shared-trigger brat event", "action": "merged into one", "count": 1},
    ]


def test_merging_duplicate_spans_moves_relations_and_drops_one_between_the_copies():
    from annotator.interchange.formats.base import ProblemLog, RelationRecord
    from annotator.interchange.formats.merging import merge_duplicates

    spans = [SpanRecord("a", 0, 5, "GPE"), SpanRecord("b", 0, 5, "GPE"), SpanRecord("c", 9, 14, "GPE")]
    relations = [
        RelationRecord("a", "b", "same"),
        RelationRecord("b", "c", "near"),
        RelationRecord("a", "c", "near"),
    ]
    problems = ProblemLog()
    kept, moved = merge_duplicates(spans, relations, Where("x"), problems)
    assert [s.id for s in kept] == ["a", "c"]
    assert [(r.head, r.tail, r.label) for r in moved] == [("a", "c", "near")]
    assert problems.warning_counts() == [
        {"kind": "duplicate relation", "action": "merged", "count": 1},
        {"kind": "duplicate span", "action": "merged", "count": 1},
        {"kind": "duplicate-joining relation", "action": "skipped", "count": 1},
    ]


def test_columns_and_token_annotations_that_are_not_read_are_warned_about():
    from spacy.tokens import Doc, DocBin
    from spacy.vocab import Vocab

    from annotator.interchange.formats import FORMATS
    from annotator.interchange.formats.base import ProblemLog
    from annotator.interchange.formats.sources import BytesSource

    problems = ProblemLog()
    data = b"Minsk NNP B-NP B-LOC\nis VBZ B-VP O\n"
    (record,) = FORMATS.reader("conll").read(BytesSource("c.conll", data), problems)
    assert [(s.start, s.end, s.label) for s in record.spans] == [(0, 5, "LOC")]
    assert [w.message for w in problems.warnings] == [
        "Columns 2, 3 (parts of speech, chunks, lemmas...) are not read: only tokens and entity tags are imported."
    ]
    assert problems.warning_counts() == [{"kind": "CoNLL column", "action": "not read", "count": 2}]
    doc = Doc(
        Vocab(), words=["Minsk", "is"], spaces=[True, False], pos=["PROPN", "AUX"], lemmas=["Minsk", "be"]
    )
    problems = ProblemLog()
    list(FORMATS.reader("spacy").read(BytesSource("t.spacy", DocBin(docs=[doc]).to_bytes()), problems))
    assert [w.message for w in problems.warnings] == [
        "The document's token annotations (POS, LEMMA) have no place here: only its text, entities, span groups "
        "and categories are imported."
    ]


def test_inception_s_own_formats_are_named_for_what_they_are():
    records, problems = read(
        "conll", "doc.tsv", b"#FORMAT=WebAnno TSV 3.3\n#T_SP=webanno.custom.Ne|value\n\n"
    )
    assert records == []
    assert [(p.line, p.message) for p in problems] == [
        (1, "This is WebAnno TSV (INCEpTION's own format), not CoNLL: export the documents from INCEpTION as "
            "CoNLL 2002 or brat, and import that.")
    ]  # fmt: skip
    old = b" # de.tudarmstadt.ukp.dkpro.core.api.ner.type.NamedEntity | value\n1-1\tMinsk\tLOC\n"
    assert [p.line for p in read("conll", "v2.tsv", old)[1]] == [1]
    records, problems = read("jsonl", "doc.xmi", b'<?xml version="1.0" encoding="UTF-8"?><xmi:XMI/>\n')
    assert records == []
    assert [p.message for p in problems] == [
        "The file is XML (an INCEpTION or DKPro UIMA CAS XMI export, perhaps), which this format does not read: "
        "export brat, CoNLL or JSON from the tool instead."
    ]


def test_brat_duplicate_entities_are_merged_with_their_relations_and_links():
    from annotator.interchange.formats.base import LinkRecord, ProblemLog
    from annotator.interchange.formats.brat import parse_ann

    ann = (
        "T1\tGPE 0 5\tMinsk\nT2\tGPE 0 5\tMinsk\nT3\tGPE 10 17\tVitebsk\n"
        "R1\tnear Arg1:T2 Arg2:T3\nN1\tReference T2 Wikidata:Q2280\tMinsk\n"
    )
    problems = ProblemLog()
    spans, relations, links = parse_ann(ann, Where("d.ann"), problems)
    assert problems.items == []
    assert [s.id for s in spans] == ["T1", "T3"]
    assert [(r.head, r.tail) for r in relations] == [("T1", "T3")]
    assert links == [LinkRecord("T1", "Q2280", "Wikidata")]
    assert problems.warning_counts() == [{"kind": "duplicate span", "action": "merged", "count": 1}]
