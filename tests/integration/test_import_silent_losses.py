"""The shapes real files from other tools have, which used to import with something silently lost: each is
now imported whole (exact rows, `text[start:end] == surface` for every span) or refused saying why."""

import json

import pytest

from annotator.annotations.models import Span
from annotator.articles.models import Article
from annotator.interchange.formats.sources import BytesSource
from annotator.interchange.options import ImportOptions
from annotator.interchange.services import ImportRejected, import_articles

pytestmark = pytest.mark.django_db


def run(news, fmt, name, data, **options):
    return import_articles(
        project=news.project,
        source=BytesSource(name, data),
        options=ImportOptions(format=fmt, create_types=True, **options),
        by=news.manager,
    )


def imported(news):
    """(text, [(start, end, label)], metadata) of each imported article, every span checked against its text."""
    result = []
    for article in Article.objects.filter(project=news.project).exclude(pk=news.article.pk).order_by("pk"):
        spans = list(
            Span.objects.filter(annotation_set__article=article)
            .order_by("start", "end", "entity_type__name")
            .values_list("start", "end", "entity_type__name", "surface")
        )
        for start, end, _, surface in spans:
            assert article.text[start:end] == surface
        result.append((article.text, [span[:3] for span in spans], article.metadata))
    return result


def jsonl(*lines):
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode()


def test_doccano_1x_annotations_lists_become_spans_and_two_annotators_copies_one_span(news):
    data = jsonl(
        {"id": 41, "text": "Лукашенко met Naryshkin in Minsk.", "meta": {"source": "tass"},
         "annotation_approver": None,
         "annotations": [
             {"label": "PERSON", "start_offset": 0, "end_offset": 9, "user": 1},
             {"label": "PERSON", "start_offset": 14, "end_offset": 23, "user": 1},
             {"label": "PERSON", "start_offset": 14, "end_offset": 23, "user": 2},
             {"label": 7, "start_offset": 27, "end_offset": 32, "user": 2},
             {"label": "politics", "user": 1},
         ]},
    )  # fmt: skip
    result = run(news, "doccano", "doccano1.jsonl", data)
    assert imported(news) == [
        (
            "Лукашенко met Naryshkin in Minsk.",
            [(0, 9, "PERSON"), (14, 23, "PERSON"), (27, 32, "7")],
            {"source": "tass", "annotation_approver": None, "doccano_id": 41, "categories": ["politics"]},
        )
    ]
    assert Article.objects.get(project=news.project, text__startswith="Лука").external_id == "41"
    assert (result.created, result.spans) == (1, 3)
    assert result.warning_counts == [
        {"kind": "duplicate span", "action": "merged", "count": 1},
        {"kind": "numbered doccano label", "action": "kept as its number", "count": 1},
    ]
    assert [(w["line"], w["field"], w["message"]) for w in result.warnings] == [
        (1, "annotations[3].label", "The label is doccano's number 7 (this export does not name its labels): it "
         "is kept as the label '7'; rename the type once imported."),
        (1, "entities[annotations-2]",
         "The PERSON span at [14, 23) is there twice (annotations-1 and annotations-2): it is imported once."),
    ]  # fmt: skip


def test_docbin_categories_are_kept_in_the_metadata_and_named_span_groups_too(news):
    from spacy.tokens import Doc, DocBin
    from spacy.tokens import Span as SpacySpan
    from spacy.vocab import Vocab

    doc = Doc(Vocab(), words=["Clinics", "in", "Minsk", "reopened"], spaces=[True, True, True, False])
    doc.cats = {"health": 1.0, "sport": 0.0}
    doc.spans["health_aspects"] = [SpacySpan(doc, 0, 1, label="FACILITY")]
    bare = Doc(doc.vocab, words=["Only", "categories"], spaces=[True, False])
    bare.cats = {"health": 0.0, "sport": 1.0}
    data = DocBin(docs=[doc, bare], store_user_data=True).to_bytes()
    result = run(news, "spacy", "cats.spacy", data)
    assert imported(news) == [
        ("Clinics in Minsk reopened", [(0, 7, "FACILITY")],
         {"cats": {"health": 1.0, "sport": 0.0}, "span_groups": {"health_aspects": [[0, 7, "FACILITY"]]}}),
        ("Only categories", [], {"cats": {"health": 0.0, "sport": 1.0}}),
    ]  # fmt: skip
    assert (result.created, result.spans, result.warnings) == (2, 1, [])


def label_studio(results, data=None):
    return json.dumps(
        [
            {
                "id": 3,
                "data": data or {"text": "Naryshkin visited Minsk."},
                "annotations": [{"result": results}],
            }
        ]
    ).encode()


HTML = "<div><p>Naryshkin visited <b>Minsk</b> &amp; Vitebsk.</p><p>Then<br>home.</p></div>"


def html_region(region_id, start_xpath, start, end_xpath, end, surface, label, **more):
    return {"id": region_id, "type": "hypertextlabels", "from_name": "ner", "to_name": "html",
            "value": {"start": start_xpath, "end": end_xpath, "startOffset": start, "endOffset": end,
                      "text": surface, "hypertextlabels": [label], **more}}  # fmt: skip


def test_a_label_studio_hypertext_task_is_imported_as_its_text_with_its_regions_placed(news):
    regions = [
        html_region("h1", "/div[1]/p[1]/text()[1]", 0, "/div[1]/p[1]/text()[1]", 9, "Naryshkin", "PERSON"),
        html_region("h2", "/div[1]/p[1]/b[1]/text()[1]", 0, "/div[1]/p[1]/b[1]/text()[1]", 5, "Minsk", "GPE"),
        # Only the global offsets (into the DOM's text content, which has no line breaks) place this one.
        html_region(
            "h3", "/nowhere[1]", 0, "/nowhere[1]", 0, "home", "GPE", globalOffsets={"start": 38, "end": 42}
        ),
        {"type": "relation", "from_id": "h1", "to_id": "h2", "direction": "right", "labels": ["visited"]},
    ]
    result = run(news, "labelstudio", "ls.json", label_studio(regions, {"html": HTML}))
    text = "Naryshkin visited Minsk & Vitebsk.\nThen\nhome.\n"
    assert imported(news) == [
        (text, [(0, 9, "PERSON"), (18, 23, "GPE"), (40, 44, "GPE")], {"label_studio_id": 3})
    ]
    assert (result.spans, result.relations) == (3, 1)
    assert result.warning_counts == [
        {"kind": "Label Studio HyperText task", "action": "converted to text", "count": 1}
    ]


def test_a_hypertext_region_that_cannot_be_placed_exactly_refuses_the_task(news):
    region = html_region(
        "h1", "/div[1]/p[1]/text()[1]", 0, "/div[1]/p[1]/text()[1]", 9, "Lukashenko", "PERSON"
    )
    with pytest.raises(ImportRejected) as rejected:
        run(news, "labelstudio", "ls.json", label_studio([region], {"html": HTML}))
    assert [(p["field"], p["message"]) for p in rejected.value.problems] == [
        ("[0].annotations[0].result[0].value",
         "The region's XPaths and offsets do not lead to its text 'Lukashenko' in the HTML: it cannot be placed, "
         "and the task is not imported."),
    ]  # fmt: skip
    assert imported(news) == []


def conll(text):
    return text.encode()


def test_a_conll_file_with_a_token_index_first_reads_the_words_not_the_numbers(news):
    data = "# sent_id = 1\n1\tNaryshkin\tPROPN\tB-PER\n2\tvisited\tVERB\tO\n3\tMinsk\tPROPN\tB-LOC\n\n"
    data += "1\tThen\tADV\tO\n2\tVitebsk\tPROPN\tS-LOC\n"
    result = run(news, "conll", "ud.conll", conll(data))
    assert imported(news) == [
        ("Naryshkin visited Minsk\nThen Vitebsk", [(0, 9, "PER"), (18, 23, "LOC"), (29, 36, "LOC")], {})
    ]
    assert result.spans == 3


def test_a_tab_separated_conll_token_holding_a_space_is_kept_whole(news):
    data = "New Berlin\tB-LOC\nis\tO\nin\tO\nWisconsin\tB-LOC\n"
    run(news, "conll", "spaces.tsv", conll(data))
    assert imported(news) == [("New Berlin is in Wisconsin", [(0, 10, "LOC"), (17, 26, "LOC")], {})]


def test_germeval_reads_its_outer_and_inner_tag_columns(news):
    data = (
        "#\thttp://de.wikipedia.org/wiki/Minsk [2009-10-17]\n"
        "1\tDie\tO\tO\n2\tUniversität\tB-ORG\tO\n3\tMinsk\tI-ORG\tB-LOC\n4\twächst\tO\tO\n"
    )
    run(news, "conll", "germeval.tsv", conll(data))
    assert imported(news) == [("Die Universität Minsk wächst", [(4, 21, "ORG"), (16, 21, "LOC")], {})]


def test_docbin_categories_and_named_span_groups_round_trip_through_a_docbin_export(news):
    from spacy.tokens import Doc, DocBin
    from spacy.tokens import Span as SpacySpan
    from spacy.vocab import Vocab

    from annotator.interchange.exports import ExportQuery, export_bytes
    from tests.factories import ProjectFactory

    doc = Doc(Vocab(), words=["Clinics", "in", "Minsk", "reopened"], spaces=[True, True, True, False])
    doc.cats = {"health": 1.0, "sport": 0.0}
    doc.spans["health_aspects"] = [SpacySpan(doc, 0, 1, label="FACILITY")]
    doc.spans["places"] = [SpacySpan(doc, 2, 3, label="GPE")]
    run(news, "spacy", "cats.spacy", DocBin(docs=[doc], store_user_data=True).to_bytes(), set_kind="gold")
    before = imported(news)
    data = b"".join(export_bytes(news.project, ExportQuery(format="spacy")))
    (back,) = DocBin().from_bytes(data).get_docs(Vocab())
    assert back.cats == {"health": 1.0, "sport": 0.0}
    assert {
        key: [(s.start_char, s.end_char, s.label_) for s in group] for key, group in back.spans.items()
    } == {
        "health_aspects": [(0, 7, "FACILITY")],
        "places": [(11, 16, "GPE")],
    }
    news.project = ProjectFactory(slug="again")
    run(news, "spacy", "export.spacy", data)
    assert imported(news) == before
