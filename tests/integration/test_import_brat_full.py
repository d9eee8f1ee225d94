"""brat as real corpora write it: events, attributes (A and M), notes, equivalences and normalisations to KBs
the project may not have are all imported (exact rows, every surface checked), with warnings where
something is changed, and an export in brat gives them back as brat has them."""

import io
import zipfile

import pytest

from annotator.annotations.models import AnnotationSet, Relation, Span, SpanAttribute
from annotator.interchange.exports import ExportQuery, export_bytes
from annotator.interchange.formats.base import Limits
from annotator.interchange.formats.sources import ZipSource
from annotator.interchange.options import ImportOptions
from annotator.interchange.services import ImportRejected, import_articles
from annotator.projects.models import AttributeKind, EntityTypeAttribute, RelationType
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db

# 0         1         2         3         4         5         6
# 0123456789012345678901234567890123456789012345678901234567890123
TEXT = "Rebels attacked Minsk with drones.\nThe insurgents fled to Vitebsk."
ANN = (
    "T1\tPERSON 0 6\tRebels\n"
    "T2\tAttack 7 15\tattacked\n"
    "T3\tGPE 16 21\tMinsk\n"
    "T4\tWEAPON 27 33\tdrones\n"
    "E1\tAttack:T2 Attacker:T1 Target:T3 Instrument:T4\n"
    "T5\tPERSON 39 49\tinsurgents\n"
    "T6\tFlee 50 54\tfled\n"
    "T7\tGPE 58 65\tVitebsk\n"
    "E2\tFlee:T6 Agent:T5 Destination:T7\n"
    "E3\tAttack:T2 Target:T7 Target2:T3\n"
    "A1\tNegated E2\n"
    "M2\tCertainty T4 Probable\n"
    "#1\tAnnotatorNotes T1\tgroup unnamed in the source\n"
    "*\tEquiv T1 T5\n"
    "R1\tlocated_in Arg1:T4 Arg2:T3\n"
    "#2\tAnnotatorNotes R1\tunsure\n"
    "N1\tReference T3 Wikidata:Q2280\tMinsk\n"
    "N2\tReference T7 News_KB:minsk\tVitebsk\n"
)


def archive(tmp_path, files, name="corpus.zip"):
    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as out:
        for member, content in files.items():
            out.writestr(member, content)
    return ZipSource(path, name, Limits())


def load(project, source, **options):
    return import_articles(
        project=project,
        source=source,
        options=ImportOptions(format="brat", create_types=True, set_kind="gold", **options),
        by=None,
    )


def rows(project):
    """Spans (with attributes), relations and links of the project's imported sets, by surface."""
    result = []
    for annotation_set in AnnotationSet.objects.filter(
        article__project=project, spans__isnull=False
    ).distinct():
        text = annotation_set.article.text
        spans = list(Span.objects.filter(annotation_set=annotation_set).select_related("entity_type"))
        for span in spans:
            assert text[span.start : span.end] == span.surface
        attributes = sorted(
            (value.span.surface, value.attribute.name, value.value)
            for value in SpanAttribute.objects.filter(span__annotation_set=annotation_set).select_related(
                "span", "attribute"
            )
        )
        relations = sorted(
            (r.head.surface, r.relation_type.name, r.tail.surface)
            for r in Relation.objects.filter(annotation_set=annotation_set).select_related(
                "head", "tail", "relation_type"
            )
        )
        links = sorted((span.surface, span.link.kb_entity.kb_id) for span in spans if hasattr(span, "link"))
        result.append(
            (sorted((s.start, s.end, s.entity_type.name) for s in spans), attributes, relations, links)
        )
    return result


EXPECTED_SPANS = [
    (0, 6, "PERSON"), (7, 15, "Attack"), (16, 21, "GPE"), (27, 33, "WEAPON"), (39, 49, "PERSON"),
    (50, 54, "Flee"), (58, 65, "GPE"),
]  # fmt: skip
EXPECTED_ATTRIBUTES = [
    ("Minsk", "Reference", "Wikidata:Q2280"),
    ("Rebels", "Note", "group unnamed in the source"),
    ("drones", "Certainty", "Probable"),
    ("fled", "Negated", True),
]
EXPECTED_RELATIONS = [
    ("Rebels", "Equiv", "insurgents"),
    ("attacked", "arg:Attacker", "Rebels"),
    ("attacked", "arg:Instrument", "drones"),
    ("attacked", "arg:Target", "Minsk"),
    ("attacked", "arg:Target", "Vitebsk"),
    ("drones", "located_in", "Minsk"),
    ("fled", "arg:Agent", "insurgents"),
    ("fled", "arg:Destination", "Vitebsk"),
]


def test_events_attributes_notes_equivalences_and_normalisations_are_all_imported(news, tmp_path):
    result = load(
        news.project, archive(tmp_path, {"doc.txt": TEXT, "doc.ann": ANN, "annotation.conf": "[entities]"})
    )
    assert (result.created, result.spans, result.relations, result.links, result.attributes) == (
        1,
        7,
        8,
        1,
        4,
    )
    # E3 repeats the Attack:T2 -> Target:T3 argument of E1 and adds Vitebsk: one relation each.
    assert rows(news.project) == [
        (EXPECTED_SPANS, EXPECTED_ATTRIBUTES, EXPECTED_RELATIONS, [("Vitebsk", "minsk")])
    ]
    assert result.warning_counts == [
        {"kind": "relation note", "action": "skipped", "count": 1},
        {"kind": "shared-trigger brat event", "action": "merged into one", "count": 1},
        {"kind": "unknown-KB link", "action": "kept as a reference", "count": 1},
    ]
    assert [(w["file"], w["line"], w["message"]) for w in result.warnings] == [
        ("corpus.zip:doc.ann", 10, "The event E3 has the same trigger (T2) as E1: its arguments are kept as "
         "relations from that trigger (an argument both have is kept once), and an export writes them as one "
         "event."),
        ("corpus.zip:doc.ann", 16, "The note on the relation R1 has no place (relations have no attributes or "
         "notes): it is skipped."),
        ("corpus.zip:doc.ann", 17, "The KB id 'Wikidata:Q2280' is in none of this project's knowledge bases: it is "
         "kept on the span as its Reference (link it once the KB is imported)."),
    ]  # fmt: skip
    kinds = dict(
        EntityTypeAttribute.objects.filter(entity_type__project=news.project).values_list("name", "kind")
    )
    assert kinds == {
        "Note": AttributeKind.TEXT, "Reference": AttributeKind.TEXT, "Certainty": AttributeKind.CHOICE,
        "Negated": AttributeKind.BOOLEAN,
    }  # fmt: skip
    assert RelationType.objects.get(project=news.project, name="Equiv").directed is False


def test_a_brat_import_exported_as_brat_and_imported_again_is_the_same(news, tmp_path):
    load(news.project, archive(tmp_path, {"doc.txt": TEXT, "doc.ann": ANN}))
    data = b"".join(export_bytes(news.project, ExportQuery(format="brat")))
    with zipfile.ZipFile(io.BytesIO(data)) as exported:
        ann = exported.read("doc.ann").decode()
    assert "E1\tAttack:T2 Attacker:T1 Target:T3 Instrument:T4 Target2:T7\n" in ann
    assert "*\tEquiv T1 T5\n" in ann
    assert "A1\tCertainty T4 Probable\n" in ann
    assert "A2\tNegated T6\n" in ann
    assert "#1\tAnnotatorNotes T1\tgroup unnamed in the source\n" in ann
    assert "N2\tReference T3 Wikidata:Q2280\tMinsk\n" in ann
    again = ProjectFactory(slug="again")
    (tmp_path / "second").mkdir()
    result = load(again, archive(tmp_path / "second", {"doc.txt": TEXT, "doc.ann": ann}))
    assert rows(news.project) == [
        (EXPECTED_SPANS, EXPECTED_ATTRIBUTES, EXPECTED_RELATIONS, [("Vitebsk", "minsk")])
    ]
    # `again` has no KB: the link to News KB's minsk is kept as a reference there.
    assert rows(again) == [
        (EXPECTED_SPANS, sorted([*EXPECTED_ATTRIBUTES, ("Vitebsk", "Reference", "News_KB:minsk")]),
         EXPECTED_RELATIONS, []),
    ]  # fmt: skip
    assert result.warning_counts == [{"kind": "unknown-KB link", "action": "kept as a reference", "count": 2}]


def test_strict_refuses_what_brat_import_would_change(news, tmp_path):
    with pytest.raises(ImportRejected) as rejected:
        load(news.project, archive(tmp_path, {"doc.txt": TEXT, "doc.ann": ANN}), strict=True)
    assert [problem["line"] for problem in rejected.value.problems] == [10, 16, 17]
