"""The registry of the suggestion code's process-level caches covers every cache, and each test starts
with the ones that hold a project's state empty."""

from annotator.suggestions import engine, gazetteer, nlp, sources
from tests import process_caches
from tests.process_caches import NOT_CACHES, PURE, STATE, found_caches


def listed(caches):
    return {(cache.module, cache.name) for cache in caches}


def test_every_cache_of_the_suggestion_code_is_listed_once():
    everything = listed(STATE) | listed(PURE) | listed(NOT_CACHES)
    assert found_caches() - everything == set()  # none forgotten
    assert [cache for cache in (*STATE, *PURE, *NOT_CACHES) if not cache.exists()] == []  # none gone
    assert len(STATE) + len(PURE) + len(NOT_CACHES) == len(everything)  # none listed twice
    assert {
        ("annotator.suggestions.engine", "_merges"),
        ("annotator.suggestions.engine", "_linkable_types"),
        ("annotator.suggestions.engine", "_link_caches"),
        ("annotator.suggestions.nlp.pipeline", "_cache"),
        ("annotator.suggestions.gazetteer", "_recent"),
        ("annotator.suggestions.freshness", "_memo"),
    } <= listed(STATE)
    assert {
        ("annotator.suggestions.nlp.names", "_run_segments"),
        ("annotator.suggestions.nlp.names", "_cuts"),
        ("annotator.suggestions.nlp.names", "_shape"),
        ("annotator.suggestions.relations", "_applicable"),
    } <= listed(PURE)


def test_a_table_in_capitals_is_found_while_it_is_empty_and_stays_listed_once_filled(monkeypatch):
    groups = ("annotator.suggestions.nlp.pipeline", "_GROUPS")
    monkeypatch.setattr(nlp.pipeline, "_GROUPS", {})
    assert groups in found_caches()
    monkeypatch.setattr(nlp.pipeline, "_GROUPS", {1: ("list:cities", None, 0)})
    assert groups not in found_caches()  # filled: it looks like a constant, but it is listed
    assert groups in listed(PURE)


def test_a_new_cache_is_found(monkeypatch):
    monkeypatch.setattr(engine, "_spans_by_project", {}, raising=False)
    monkeypatch.setattr(gazetteer, "_remembered", {"a": 1}, raising=False)
    monkeypatch.setattr(gazetteer, "LOOKUP", {}, raising=False)  # capitals, but empty: filled later
    monkeypatch.setattr(gazetteer, "TABLE", {"a": 1}, raising=False)  # a constant
    new = found_caches() - listed(STATE) - listed(PURE) - listed(NOT_CACHES)
    assert new == {
        ("annotator.suggestions.engine", "_spans_by_project"),
        ("annotator.suggestions.gazetteer", "_remembered"),
        ("annotator.suggestions.gazetteer", "LOOKUP"),
    }


def fill_state_caches():
    for cache in STATE:
        value = cache.value()
        if hasattr(value, "cache_clear"):
            continue  # filled by calling it below
        value[("filled", cache.name)] = object()
    sources.pipeline_labels("/nonexistent/pipeline")
    nlp.pipeline._cache["filled"] = nlp.build_suggester(rules=False)


def test_clearing_empties_every_state_cache():
    fill_state_caches()
    assert all(
        cache.size() > 0 for cache in STATE if cache.name not in ("_pipeline_meta", "_load_classifier")
    )
    process_caches.clear_state_caches()
    assert {cache.name: cache.size() for cache in STATE} == {cache.name: 0 for cache in STATE}


def test_each_test_starts_with_empty_state_caches_1():
    assert {cache.name: cache.size() for cache in STATE} == {cache.name: 0 for cache in STATE}
    fill_state_caches()  # what this test leaves, the next must not see


def test_each_test_starts_with_empty_state_caches_2():
    assert {cache.name: cache.size() for cache in STATE} == {cache.name: 0 for cache in STATE}
