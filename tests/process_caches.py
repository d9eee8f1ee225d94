"""Every process-level cache of the suggestion code, and which of them a test must not inherit.

A pytest worker runs hundreds of tests in one process. Rows roll back after each test, but what a module
remembers stays, and ids repeat (SQLite gives a rolled-back id again) or shift (PostgreSQL's sequences do
not roll back): a cache keyed by a project id, a KB's state or a path can hand one test what another made.
`STATE` lists the caches that can: `tests/conftest.py` clears them before every test. `PURE` lists the
caches whose values are functions of their arguments and of files shipped with the code, the same in
every test (clearing them would only cost time). `test_process_caches.py` finds every cache the modules
of `annotator.suggestions` hold and fails on one listed nowhere, so a new cache cannot be forgotten (a
table in capitals counts as a constant once filled: list it while it is empty).
"""

from __future__ import annotations

import collections
import functools
import importlib
import pkgutil
from dataclasses import dataclass
from types import ModuleType
from typing import Any

PACKAGE = "annotator.suggestions"


@dataclass(frozen=True)
class Cache:
    module: str
    name: str
    why: str

    def value(self) -> Any:
        return getattr(importlib.import_module(self.module), self.name)

    def exists(self) -> bool:
        return hasattr(importlib.import_module(self.module), self.name)

    def clear(self) -> None:
        found = self.value()  # looked up now: a module that rebinds the name is still cleared
        if hasattr(found, "cache_clear"):
            found.cache_clear()
        else:
            found.clear()

    def size(self) -> int:
        found = self.value()
        return found.cache_info().currsize if hasattr(found, "cache_info") else len(found)


def _state(module: str, name: str, why: str) -> Cache:
    return Cache(f"{PACKAGE}.{module}", name, why)


STATE = (
    _state(
        "engine", "_merges", "a project's merge (label map, measured evidence) for a minute, by project id"
    ),
    _state("engine", "_linkable_types", "the KB types of a project's KB, by project id and KB state"),
    _state("engine", "_link_caches", "link candidates of a project's KB, by project id and KB state"),
    _state("engine", "_pipeline_meta", "a pipeline directory's meta.json, by path (tests write pipelines)"),
    _state("engine", "_load_classifier", "a trained relation classifier read from disk, by path"),
    _state("sources", "pipeline_labels", "a pipeline's labels read from disk, by path"),
    _state("gazetteer", "_recent", "a project's KB and gold fingerprints for a few seconds, by project id"),
    _state("freshness", "_memo", "a project's current fingerprint for a few seconds, by project id"),
    _state("nlp.pipeline", "_cache", "pipelines with a project's gazetteer, by spec, project id, exclusions"),
)

PURE = (
    _state("gazetteer", "shipped_patterns", "the shipped lists (files of the code)"),
    _state("gazetteer", "_lists_digest", "the digest of the shipped lists"),
    _state("nlp.names", "demonyms_in_capitals", "a shipped list"),
    _state("nlp.names", "demonyms", "a shipped list"),
    _state("nlp.names", "given_names", "a shipped list"),
    _state("nlp.names", "_is_title", "a function of the word"),
    _state("nlp.names", "_run_segments", "the segments of a run of words, by its text"),
    _state("nlp.names", "_cuts", "a function of the text"),
    _state("nlp.names", "_in_a_name", "a function of the word"),
    _state("nlp.names", "_distinctive", "a function of the word"),
    _state("nlp.names", "_shape", "a function of the words"),
    _state("nlp.pipeline", "_GROUPS", "a span group's facts, by the hash of its name (the name says them)"),
    _state("relations", "_applicable", "gap rules per schema object (checked by identity, not by id)"),
)

# Module-level containers that are no cache.
NOT_CACHES = (_state("urls", "urlpatterns", "Django's URL configuration"),)

_CONTAINERS = (dict, set, list, collections.deque, collections.OrderedDict, collections.defaultdict)


def suggestion_modules() -> list[ModuleType]:
    package = importlib.import_module(PACKAGE)
    names = [info.name for info in pkgutil.walk_packages(package.__path__, f"{PACKAGE}.")]
    return [package, *(importlib.import_module(name) for name in sorted(names) if ".migrations" not in name)]


def _is_cache(name: str, value: Any) -> bool:
    if isinstance(value, functools._lru_cache_wrapper):  # @cache and @lru_cache
        return True
    if not isinstance(value, _CONTAINERS) or name.startswith("__"):
        return False
    # A module-level container is a cache unless it is a constant: named in capitals and filled when
    # the module loads (`_GROUPS` is in capitals but starts empty, filled as spans come).
    return not (name.isupper() and len(value) > 0)


def found_caches() -> set[tuple[str, str]]:
    """(module, name) of every cache a module of the suggestion code holds: functions under
    functools' caches, and module-level containers that are not constants."""
    found = set()
    for module in suggestion_modules():
        for name, value in vars(module).items():
            owner = getattr(value, "__module__", module.__name__)
            if isinstance(value, functools._lru_cache_wrapper) and owner != module.__name__:
                continue  # imported from another module: listed there
            if _is_cache(name, value):
                found.add((module.__name__, name))
    return found


def clear_state_caches() -> None:
    for cache in STATE:
        cache.clear()
