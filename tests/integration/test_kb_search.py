"""Candidate search over the demo KB: the names in the demo articles find the right entity first."""

import pytest

from annotator.kb.models import KBEntity
from annotator.kb.search import find_candidates
from annotator.projects.demo import load_demo

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo():
    return load_demo().project


@pytest.mark.parametrize(
    ("mention", "entity_type", "expected"),
    [
        ("Naryshkin", "PERSON", "sergey-naryshkin"),
        ("Sergei Naryshkin", "PERSON", "sergey-naryshkin"),
        ("Lukashenko", "PERSON", "alexander-lukashenko"),
        ("SVR", "ORG", "svr"),
        ("KGB", "ORG", "kgb-belarus"),  # the Belarusian KGB (prior 0.7) before the Soviet one (0.3)
        ("Belarus", "GPE", "belarus"),
        ("MINSK", "GPE", "minsk"),
        ("the  Kremlin", None, "kremlin"),
    ],
)
def test_demo_mentions_get_the_right_top_candidate(demo, mention, entity_type, expected):
    candidates = find_candidates(project_id=demo.pk, mention=mention, entity_type=entity_type)
    assert candidates[0].kb_id == expected
    assert candidates[0].name_similarity == 1.0


def test_type_compatibility_reorders_candidates(demo):
    KBEntity.objects.filter(kb_id="kgb-ussr").update(type="EVENT")  # now the Soviet KGB is the wrong type
    ranked = [c.kb_id for c in find_candidates(project_id=demo.pk, mention="KGB", entity_type="ORG")]
    assert ranked == ["kgb-belarus", "kgb-ussr"]
    scores = [c.score for c in find_candidates(project_id=demo.pk, mention="KGB", entity_type="ORG")]
    assert scores == [pytest.approx(0.6 + 0.25 * 0.7 + 0.15), pytest.approx(0.6 + 0.25 * 0.3)]


def test_merged_entities_and_other_projects_kbs_are_never_candidates(demo, outsider):
    from tests.factories import KBEntityFactory, KnowledgeBaseFactory

    soviet = KBEntity.objects.get(kb_id="kgb-ussr")
    soviet.merged_into = KBEntity.objects.get(kb_id="kgb-belarus")
    soviet.save()
    foreign = KBEntityFactory(knowledge_base=KnowledgeBaseFactory(), name="KGB", kb_id="foreign-kgb")
    foreign.aliases.create(text="KGB")
    assert [c.kb_id for c in find_candidates(project_id=demo.pk, mention="KGB")] == ["kgb-belarus"]


def test_blank_mentions_find_nothing(demo):
    assert find_candidates(project_id=demo.pk, mention="  ") == []
