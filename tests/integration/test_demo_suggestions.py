"""The default suggester on the demo articles with the demo KB, measured against the hand-made gold."""

import pytest

from annotator.articles.models import Article
from annotator.kb.models import KBEntity
from annotator.projects.demo import load_demo
from annotator.projects.models import EntityType, RelationType
from annotator.suggestions.engine import SuggestionRunner, rules_spec
from annotator.suggestions.generate import preannotate_articles
from annotator.suggestions.models import Suggestion, SuggestionKind
from annotator.suggestions.quality import quality_report
from annotator.suggestions.scoring import MICRO, Score, score
from tests.demo_gold import load_demo_gold, read_demo_gold

pytestmark = pytest.mark.django_db

SYMMETRIC = {"met_with", "cooperates_with"}


@pytest.fixture
def demo():
    return load_demo().project


def test_the_demo_gold_matches_the_texts_the_schema_and_the_kb(demo):
    gold = read_demo_gold()
    assert [item["external_id"] for item in gold] == ["000_125af6e3d0378b0b", "003_766ee5fd7c71a526"]
    types = set(EntityType.objects.filter(project=demo).values_list("name", flat=True))
    relation_types = {
        r.name: r
        for r in RelationType.objects.filter(project=demo).prefetch_related("head_types", "tail_types")
    }
    type_ids = dict(EntityType.objects.filter(project=demo).values_list("name", "pk"))
    kb_ids = set(KBEntity.objects.filter(knowledge_base__project=demo).values_list("kb_id", flat=True))
    for item in gold:
        text = Article.objects.get(project=demo, external_id=item["external_id"]).text
        offsets = [(e["start"], e["end"]) for e in item["entities"]]
        assert offsets == sorted(set(offsets)), "entities are in text order, each once"
        for entity in item["entities"]:
            assert text[entity["start"] : entity["end"]] == entity["text"], entity
            assert entity["type"] in types
            assert entity["kb_id"] is None or entity["kb_id"] in kb_ids
            assert entity["kb_id"] is None or entity["type"] not in ("DATE", "NORP")
        for relation in item["relations"]:
            head, tail = item["entities"][relation["head"]], item["entities"][relation["tail"]]
            allowed = relation_types[relation["type"]].allows(type_ids[head["type"]], type_ids[tail["type"]])
            assert allowed, relation
    assert [len(item["entities"]) for item in gold] == [53, 79]
    assert [len(item["relations"]) for item in gold] == [13, 13]


def run_default_suggester(project):
    runner = SuggestionRunner(project_id=project.pk, spec=rules_spec())
    output = {}
    for item in read_demo_gold():
        article = Article.objects.get(project=project, external_id=item["external_id"])
        output[item["external_id"]] = next(runner.run([article.text]))
    return output


def entity_items(external_id, entities):
    return [((external_id, e.start, e.end), e.entity_type) for e in entities]


def relation_key(external_id, head, tail, relation):
    if relation in SYMMETRIC and (tail[0], tail[1]) < (head[0], head[1]):
        head, tail = tail, head
    return ((external_id, head[0], head[1], tail[0], tail[1]), relation)


def test_the_default_suggester_against_the_demo_gold(demo):
    """Precision, recall and F1 of the offline default (demo KB, shipped lists, rules; no gold in the
    gazetteer) on the 132 gold entities and 26 gold relations of the two demo articles."""
    output = run_default_suggester(demo)
    predicted, expected, predicted_relations, expected_relations = [], [], [], []
    for item in read_demo_gold():
        suggested = output[item["external_id"]]
        predicted += entity_items(item["external_id"], suggested.entities)
        expected += [((item["external_id"], e["start"], e["end"]), e["type"]) for e in item["entities"]]
        ents = suggested.entities
        predicted_relations += [
            relation_key(
                item["external_id"],
                (ents[r.head].start, ents[r.head].end),
                (ents[r.tail].start, ents[r.tail].end),
                r.relation_type,
            )
            for r in suggested.relations
        ]
        gold = item["entities"]
        expected_relations += [
            relation_key(
                item["external_id"],
                (gold[r["head"]]["start"], gold[r["head"]]["end"]),
                (gold[r["tail"]]["start"], gold[r["tail"]]["end"]),
                r["type"],
            )
            for r in item["relations"]
        ]
    entities = score(predicted, expected)
    assert entities == {
        "DATE": Score(tp=11, fp=0, fn=0),
        "EVENT": Score(tp=2, fp=0, fn=0),
        "GPE": Score(tp=42, fp=2, fn=1),  # "Moscow", "Belarus" in page debris; "Belarus" inside "Belarus KGB"
        "LOC": Score(tp=1, fp=0, fn=1),  # "West"
        "NORP": Score(tp=19, fp=1, fn=0),  # "English" of "Realist English"
        "ORG": Score(tp=30, fp=2, fn=3),  # the KB aliases "Belarus KGB" and "ONT channel"; "Realist English"
        "PERSON": Score(tp=22, fp=0, fn=0),
        MICRO: Score(tp=127, fp=5, fn=5),
    }
    assert (entities[MICRO].precision, entities[MICRO].recall) == (127 / 132, 127 / 132)
    relations = score(predicted_relations, expected_relations)
    assert relations[MICRO] == Score(tp=20, fp=1, fn=6)
    assert relations["alias_of"] == Score(tp=4, fp=0, fn=0)
    assert relations["member_of"] == Score(tp=0, fp=0, fn=2)


def test_the_default_suggester_proposes_the_kb_people_organisations_and_places_with_offsets_and_links(demo):
    preannotate_articles(project=demo)
    article = Article.objects.get(project=demo, external_id="000_125af6e3d0378b0b")
    rows = Suggestion.objects.filter(article=article).select_related("entity_type", "kb_entity")
    entities = {
        (s.start, s.end): (s.entity_type.name, s.source, s.score)
        for s in rows
        if s.kind == SuggestionKind.ENTITY
    }
    links = {}
    for s in rows.filter(kind=SuggestionKind.LINK).order_by("start", "rank"):
        links.setdefault((s.start, s.end), []).append((s.kb_entity.kb_id, s.rank, s.score))
    assert entities[(38, 54)] == ("PERSON", "kb-ruler", 0.9)
    assert article.text[38:54] == "Sergey Naryshkin"
    assert links[(38, 54)] == [("sergey-naryshkin", 0, 0.975)]  # 0.6 name + 0.25 x prior 0.9 + 0.15 type fit
    kgb = article.text.index("(KGB)") + 1
    assert entities[(kgb, kgb + 3)] == ("ORG", "kb-ruler", 0.9)
    assert [(kb_id, rank) for kb_id, rank, _ in links[(kgb, kgb + 3)]] == [
        ("kgb-belarus", 0),
        ("kgb-ussr", 1),
    ]
    # Every gold PERSON, ORG, GPE and LOC mention of the KB in this article is suggested with its type,
    # and its KB entity is the top link candidate.
    gold = read_demo_gold()[0]["entities"]
    linked = [e for e in gold if e["kb_id"] and e["type"] in ("PERSON", "ORG", "GPE", "LOC")]
    assert len(linked) == 45
    for entity in linked:
        key = (entity["start"], entity["end"])
        assert entities[key][0] == entity["type"], entity
        assert links[key][0][:2] == (entity["kb_id"], 0), entity


@pytest.mark.parametrize("defer_links", [False, True])
def test_the_quality_report_measures_stored_suggestions_against_curated_gold(demo, defer_links):
    load_demo_gold(demo)
    preannotate_articles(project=demo, defer_links=defer_links)
    # Deferred, the report looks the gold articles' link candidates up first: the same figures.
    (quality,) = quality_report(project=demo)
    assert (str(quality.version), quality.gold_articles) == ("rules 4", 2)
    rows = {(row.kind, row.label): row for row in quality.labels}
    # The gold mentions are in the gazetteer now, which is why the report calls these figures optimistic.
    assert rows[("entity", MICRO)].gold == Score(tp=129, fp=4, fn=3)
    assert rows[("entity", MICRO)].tally.suggested == 133
    assert rows[("relation", MICRO)].gold == Score(tp=20, fp=1, fn=6)
    assert rows[("link", MICRO)].gold == Score(tp=97, fp=4, fn=3)
    assert rows[("link", "PERSON")].gold == Score(tp=22, fp=0, fn=0)
