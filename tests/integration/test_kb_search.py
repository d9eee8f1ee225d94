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


@pytest.mark.parametrize(
    ("mention", "entity_type", "expected", "alias", "similarity"),
    [
        ("Naryshkn", "PERSON", "sergey-naryshkin", "Naryshkin", 0.9412),  # a letter missing
        ("Lukashenka", "PERSON", "alexander-lukashenko", "Lukashenko", 0.9),  # the Belarusian spelling
        ("Lukashenka", None, "alexander-lukashenko", "Lukashenko", 0.9),
        ("Protasevic", "PERSON", "roman-protasevich", "Protasevich", 0.9524),
        ("Byelorusia", "GPE", "belarus", "Byelorussia", 0.9524),
        ("Foreign Inteligence Service", "ORG", "svr", "Foreign Intelligence Service", 0.9818),
    ],
)
def test_a_mention_with_a_typo_finds_its_entity(demo, mention, entity_type, expected, alias, similarity):
    top = find_candidates(project_id=demo.pk, mention=mention, entity_type=entity_type)[0]
    assert (top.kb_id, top.matched_alias, top.name_similarity) == (expected, alias, similarity)
    fit = 0.5 if entity_type is None else 1.0
    assert top.score == round(0.6 * similarity + 0.25 * top.prior + 0.15 * fit, 4)


def test_fuzzy_matches_are_not_looked_for_when_an_exact_match_fits(demo):
    # "Minsk" is an exact alias of a GPE: no near names join it.
    assert [c.kb_id for c in find_candidates(project_id=demo.pk, mention="Minsk", entity_type="GPE")] == [
        "minsk"
    ]


def test_an_exact_match_of_the_wrong_type_lets_fuzzy_matches_in(demo):
    from tests.factories import KBEntityFactory

    kb = KBEntity.objects.get(kb_id="minsk").knowledge_base
    KBEntityFactory(
        knowledge_base=kb, kb_id="minski", name="Jan Minski", type="PERSON", prior=0.2
    ).aliases.create(text="Minski")
    ranked = find_candidates(project_id=demo.pk, mention="Minsk", entity_type="PERSON")
    assert [(c.kb_id, c.name_similarity, c.type_fit) for c in ranked] == [
        ("minsk", 1.0, 0.0),
        ("minski", 0.9091, 1.0),
    ]


def test_context_overlap_with_the_description_reorders_candidates(demo):
    context = "Moscow recalled how the Soviet Union's agency was dissolved in 1991."
    kgb = find_candidates(project_id=demo.pk, mention="KGB", entity_type="ORG", context=context)
    # ussr: soviet, union, agency, dissol(ved), 1991 of 6 words; belarus: agency of 8.
    assert [(c.kb_id, c.context_overlap) for c in kgb] == [("kgb-ussr", 0.8333), ("kgb-belarus", 0.125)]
    assert [c.score for c in kgb] == [
        round(0.85 * (0.6 + 0.25 * 0.3 + 0.15) + 0.15 * 0.8333, 4),
        round(0.85 * (0.6 + 0.25 * 0.7 + 0.15) + 0.15 * 0.125, 4),
    ]
    # Without context, the Belarusian KGB's higher prior wins.
    assert find_candidates(project_id=demo.pk, mention="KGB", entity_type="ORG")[0].kb_id == "kgb-belarus"


def test_fuzzy_search_stays_in_the_projects_knowledge_bases(demo, outsider):
    from tests.factories import KBEntityFactory, KnowledgeBaseFactory

    foreign = KBEntityFactory(knowledge_base=KnowledgeBaseFactory(), kb_id="foreign", name="Naryshkina")
    foreign.aliases.create(text="Naryshkina")
    assert [c.kb_id for c in find_candidates(project_id=demo.pk, mention="Naryshkinaa")] == [
        "sergey-naryshkin"
    ]


def test_the_fuzzy_index_follows_alias_inserts_updates_and_deletes(demo):
    """On SQLite the trigram table is kept in step by triggers; on PostgreSQL the GIN index by the database."""
    entity = KBEntity.objects.get(kb_id="vitebsk")
    alias = entity.aliases.create(text="Witebsk")
    assert find_candidates(project_id=demo.pk, mention="Witebskk")[0].matched_alias == "Witebsk"
    alias.text = "Wiciebsk"
    alias.save()
    assert find_candidates(project_id=demo.pk, mention="Wiciebskk")[0].matched_alias == "Wiciebsk"
    assert [c.matched_alias for c in find_candidates(project_id=demo.pk, mention="Witebskk")] == ["Vitebsk"]
    alias.delete()
    assert [c.matched_alias for c in find_candidates(project_id=demo.pk, mention="Wiciebskk")] == ["Viciebsk"]


def test_the_fuzzy_index_is_installed_on_this_database():
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'kb_alias' ORDER BY name"
            )
            assert [row[0] for row in cursor.fetchall()] == [
                "kb_alias_trigram_delete", "kb_alias_trigram_insert", "kb_alias_trigram_update",
            ]  # fmt: skip
        else:
            cursor.execute(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'kb_alias' AND indexname LIKE 'alias_%%'"
            )
            assert {row[0] for row in cursor.fetchall()} >= {
                "alias_trigram_idx",
                "alias_prefix_idx",
                "alias_lookup_idx",
            }


def test_candidate_search_costs_a_few_queries_however_large_the_kb(demo):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from annotator.kb.models import Alias

    def queries(mention):
        with CaptureQueriesContext(connection) as captured:
            find_candidates(project_id=demo.pk, mention=mention, entity_type="PERSON")
        return len(captured)

    exact, fuzzy = queries("Naryshkin"), queries("Naryshkn")
    kb = KBEntity.objects.get(kb_id="minsk").knowledge_base
    entities = KBEntity.objects.bulk_create(
        KBEntity(knowledge_base=kb, kb_id=f"bulk-{i}", name=f"Person {i}", type="PERSON") for i in range(300)
    )
    Alias.objects.bulk_create(
        Alias(entity=e, knowledge_base=kb, text=f"Naryshkin {i}", normalized=f"naryshkin {i}")
        for i, e in enumerate(entities)
    )
    assert (queries("Naryshkin"), queries("Naryshkn")) == (exact, fuzzy)
    assert exact == 3  # the KBs, the exact aliases, their entities


@pytest.mark.parametrize(("limit", "count"), [(0, 0), (1, 1), (500, 2)])
def test_limit_is_bounded(demo, limit, count):
    assert len(find_candidates(project_id=demo.pk, mention="KGB", limit=limit)) == count


def test_the_trigram_threshold_rises_with_the_length_of_the_mention():
    from annotator.kb.retrieval import LOWEST_THRESHOLD, trigram_threshold

    # "minsk": 6 trigrams, of which an alias two edits away may share none: the lowest threshold.
    assert trigram_threshold("minsk") == LOWEST_THRESHOLD == 0.3
    # 2 + 9 + 10 = 21 distinct trigrams ("  a", " a ", "  s", " se", ...): (21 - 6) / (21 + 6) = 0.556.
    assert trigram_threshold("a sergeyev-naryshkin") == round(15 / 27 - 0.005, 3) == 0.551
    # 8 + 13 + 8 trigrams, "ce " twice (intelligence, service): 28 distinct.
    assert trigram_threshold("foreign intelligence service") == round(22 / 34 - 0.005, 3) == 0.642


def test_every_alias_two_edits_from_a_mention_passes_its_trigram_threshold():
    """What `trigram_threshold` promises, checked with pg_trgm's own similarity on names of every length."""
    import random

    from django.db import connection

    from annotator.kb.retrieval import LOWEST_THRESHOLD, trigram_threshold

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: the pg_trgm extension")
    rng = random.Random(18)
    letters = "abcdefghijklmnopqrstuvwxyz"
    pairs = []
    for _ in range(400):
        words = ["".join(rng.choices(letters, k=rng.randint(2, 12))) for _ in range(rng.randint(1, 4))]
        key = edited = " ".join(words)
        for _ in range(2):
            at = rng.randrange(len(edited))
            edit = rng.choice(["delete", "replace", "insert"])
            tail = edited[at + 1 :] if edit != "insert" else edited[at:]
            edited = edited[:at] + ("" if edit == "delete" else rng.choice(letters)) + tail
        pairs.append((key, edited))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT similarity(a, b) FROM unnest(%s::text[], %s::text[]) AS pair(a, b)",
            [[key for key, _ in pairs], [edited for _, edited in pairs]],
        )
        similarities = [row[0] for row in cursor.fetchall()]
    below = [(key, edited) for (key, edited), sim in zip(pairs, similarities, strict=True)
             if LOWEST_THRESHOLD < trigram_threshold(key) > sim]  # fmt: skip
    assert below == []


def test_a_long_name_with_two_typos_still_finds_its_entity(demo):
    top = find_candidates(project_id=demo.pk, mention="Foreign Inteligence Servise", entity_type="ORG")[0]
    assert (top.kb_id, top.matched_alias) == ("svr", "Foreign Intelligence Service")
