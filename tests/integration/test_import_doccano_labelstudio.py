"""doccano and Label Studio files as those tools write them, across versions: exact rows, every surface
checked, warnings for what is merged or skipped, and round trips through each format's own export."""

import json

import pytest

from annotator.annotations.models import AnnotationSet, Relation, Span, SpanAttribute
from annotator.articles.models import Article
from annotator.interchange.exports import ExportQuery, export_bytes
from annotator.interchange.formats.sources import BytesSource
from annotator.interchange.options import ImportOptions
from annotator.interchange.services import ImportRejected, import_articles
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db

TEXT = "Лукашенко met Naryshkin in Minsk."  # Лукашенко [0, 9), Naryshkin [14, 23), Minsk [27, 32)


def load(project, fmt, data, **options):
    options.setdefault("set_kind", "gold")
    return import_articles(
        project=project,
        source=BytesSource(f"in.{fmt}", data),
        options=ImportOptions(format=fmt, create_types=True, **options),
        by=None,
    )


def jsonl(*lines):
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode()


def rows(project):
    """Per annotated article: its text, spans, attribute values, relations, metadata; surfaces checked."""
    result = []
    for annotation_set in (
        AnnotationSet.objects.filter(article__project=project, spans__isnull=False).distinct().order_by("pk")
    ):
        article = annotation_set.article
        spans = Span.objects.filter(annotation_set=annotation_set).select_related("entity_type")
        for span in spans:
            assert article.text[span.start : span.end] == span.surface
        result.append(
            (
                article.text,
                sorted((s.start, s.end, s.entity_type.name) for s in spans),
                sorted(
                    (v.span.surface, v.attribute.name, v.value)
                    for v in SpanAttribute.objects.filter(span__annotation_set=annotation_set).select_related(
                        "span", "attribute"
                    )
                ),
                sorted(
                    (r.head.surface, r.relation_type.name, r.tail.surface)
                    for r in Relation.objects.filter(annotation_set=annotation_set).select_related(
                        "head", "tail", "relation_type"
                    )
                ),
                article.metadata,
            )
        )
    return result


def test_doccano_entities_as_lists_and_named_columns(news):
    result = load(
        news.project, "doccano",
        jsonl({"content": TEXT, "ner": [[0, 9, "PERSON"], [27, 32, "GPE"]]},
              {"content": "Minsk and Vitebsk.", "entities": [[0, 5, "GPE"], [10, 17, "GPE"]]}),
        format_options={"text": "content", "label": "ner"},
    )  # fmt: skip
    assert rows(news.project) == [
        (TEXT, [(0, 9, "PERSON"), (27, 32, "GPE")], [], [], {}),
        ("Minsk and Vitebsk.", [(0, 5, "GPE"), (10, 17, "GPE")], [], [], {}),
    ]
    assert (result.created, result.spans, result.warnings) == (2, 4, [])


def test_doccano_relations_onto_a_duplicate_span_go_to_the_span_kept(news):
    line = {
        "id": 5, "text": TEXT,
        "entities": [
            {"id": 1, "label": "PERSON", "start_offset": 0, "end_offset": 9},
            {"id": 2, "label": "PERSON", "start_offset": 14, "end_offset": 23},
            {"id": 3, "label": "PERSON", "start_offset": 14, "end_offset": 23},
        ],
        "relations": [{"id": 1, "from_id": 1, "to_id": 2, "type": "met_with"},
                      {"id": 2, "from_id": 1, "to_id": 3, "type": "met_with"}],
    }  # fmt: skip
    result = load(news.project, "doccano", jsonl(line))
    assert rows(news.project) == [
        (TEXT, [(0, 9, "PERSON"), (14, 23, "PERSON")], [], [("Лукашенко", "met_with", "Naryshkin")],
         {"doccano_id": 5}),
    ]  # fmt: skip
    assert result.warning_counts == [
        {"kind": "duplicate relation", "action": "merged", "count": 1},
        {"kind": "duplicate span", "action": "merged", "count": 1},
    ]


def test_repeated_texts_without_an_id_follow_on_duplicate(news):
    data = jsonl(*({"text": "Minsk.", "label": [[0, 5, "GPE"]]} for _ in range(3)))
    result = load(news.project, "doccano", data, on_duplicate="skip")
    assert (result.created, result.skipped, result.spans) == (1, 2, 1)
    assert [(w["line"], w["message"]) for w in result.warnings] == [
        (line, "The same text is already in line 1 (without an external id, a text is its identity). The first "
               "one is imported, this one skipped.")
        for line in (2, 3)
    ]  # fmt: skip
    with pytest.raises(ImportRejected) as rejected:
        load(ProjectFactory(slug="strict-duplicates"), "doccano", data, on_duplicate="error")
    assert [problem["line"] for problem in rejected.value.problems] == [2, 3]


def test_doccano_1x_round_trips_through_doccano_s_own_export(news):
    line = {"id": 41, "text": TEXT, "meta": {"source": "tass"},
            "annotations": [{"label": "PERSON", "start_offset": 0, "end_offset": 9, "user": 1},
                            {"label": "GPE", "start_offset": 27, "end_offset": 32, "user": 1}]}  # fmt: skip
    load(news.project, "doccano", jsonl(line))
    before = rows(news.project)
    assert before == [
        (TEXT, [(0, 9, "PERSON"), (27, 32, "GPE")], [], [], {"source": "tass", "doccano_id": 41})
    ]
    again = ProjectFactory(slug="again")
    load(again, "doccano", b"".join(export_bytes(news.project, ExportQuery(format="doccano"))))
    assert rows(again) == before
    assert Article.objects.get(project=again).external_id == "41"


LS_TASK = {
    "id": 9,
    "data": {"text": TEXT},
    "annotations": [
        {"result": [
            {"id": "a", "type": "labels", "value": {"start": 0, "end": 9, "labels": ["PERSON"]}},
            {"id": "b", "type": "labels", "value": {"start": 14, "end": 23, "labels": ["PERSON"]}},
            {"id": "c", "type": "labels", "value": {"start": 14, "end": 23, "labels": ["PERSON"]}},
            {"id": "d", "type": "labels", "value": {"start": 27, "end": 32, "labels": ["GPE"]}},
            {"id": "a", "type": "choices", "from_name": "Role", "value": {"choices": ["host"]}},
            {"id": "d", "type": "textarea", "from_name": "comment", "value": {"text": ["capital"]}},
            {"id": "t", "type": "choices", "from_name": "topic", "value": {"choices": ["politics", "travel"]}},
            {"id": "r", "type": "rating", "from_name": "quality", "value": {"rating": 4}},
            {"type": "relation", "from_id": "a", "to_id": "c", "direction": "right", "labels": ["met_with"]},
            {"type": "relation", "from_id": "b", "to_id": "d", "direction": "right", "labels": ["visited"]},
        ]},
        {"result": []},
    ],
    "predictions": [{"result": []}],
}  # fmt: skip
LS_ROWS = [
    (TEXT, [(0, 9, "PERSON"), (14, 23, "PERSON"), (27, 32, "GPE")],
     [("Minsk", "Note", "capital"), ("Лукашенко", "Role", "host")],
     [("Naryshkin", "visited", "Minsk"), ("Лукашенко", "met_with", "Naryshkin")],
     {"label_studio_id": 9, "topic": ["politics", "travel"]}),
]  # fmt: skip


def test_label_studio_region_values_task_choices_and_what_is_skipped(news):
    result = load(news.project, "labelstudio", json.dumps([LS_TASK]).encode())
    assert rows(news.project) == LS_ROWS
    assert result.warning_counts == [
        {"kind": "Label Studio prediction", "action": "skipped", "count": 1},
        {"kind": "Label Studio rating result", "action": "skipped", "count": 1},
        {"kind": "duplicate span", "action": "merged", "count": 1},
        {"kind": "further Label Studio annotation", "action": "skipped", "count": 1},
    ]


def test_label_studio_round_trips_relations_and_choices(news):
    load(news.project, "labelstudio", json.dumps([LS_TASK]).encode())
    again = ProjectFactory(slug="again")
    result = load(
        again, "labelstudio", b"".join(export_bytes(news.project, ExportQuery(format="labelstudio")))
    )
    assert rows(again) == LS_ROWS
    assert result.warnings == []


def test_the_import_page_names_doccano_keys_and_conll_columns(
    client, news, django_capture_on_commit_callbacks, settings, tmp_path
):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    settings.DATA_DIR = tmp_path
    client.force_login(news.manager)
    url = reverse("interchange:imports", args=[news.project.pk])
    fields = {"set_kind": "imported", "set_name": "imported", "on_duplicate": "skip", "create_types": "on"}
    data = jsonl({"column_data": TEXT, "column_label": [[27, 32, "GPE"]]})
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {**fields, "file": SimpleUploadedFile("d.jsonl", data), "format": "doccano",
                          "doccano_text": "column_data", "doccano_label": "column_label"})  # fmt: skip
    conll = b"x\tMinsk\tB-LOC\tNNP\n"
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {**fields, "file": SimpleUploadedFile("c.tsv", conll), "format": "conll",
                          "conll_token": "2", "conll_tags": "3"})  # fmt: skip
    assert [row[:2] for row in rows(news.project)] == [(TEXT, [(27, 32, "GPE")]), ("Minsk", [(0, 5, "LOC")])]
    response = client.post(url, {**fields, "file": SimpleUploadedFile("c.tsv", conll), "format": "conll",
                                 "conll_tags": "third"})  # fmt: skip
    assert response.status_code == 400
    assert (
        "The CoNLL tags option names columns by number, from 1 (e.g. tags=3,4)." in response.content.decode()
    )
