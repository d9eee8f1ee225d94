"""The API's routes come before the pages' (a path is resolved by trying patterns in order): moving them
first changed no route, and the calls reviewers make all day are tried first."""

import re

from django.urls import get_resolver, resolve
from django.urls.resolvers import URLResolver


def routes(patterns=None, prefix=""):
    """(route, namespace, name) of every pattern, includes flattened."""
    found = []
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            namespace = pattern.namespace
            for route, inner, name in routes(pattern.url_patterns, prefix + str(pattern.pattern)):
                found.append((route, inner or namespace, name))
        else:
            found.append((prefix + str(pattern.pattern), None, pattern.name))
    return found


def sample(route):
    """A path the route takes: numbers for ints, a word for the other converters."""
    return "/" + re.sub(r"<(?:str|slug|path):[^>]+>", "x", re.sub(r"<int:[^>]+>", "7", route))


def test_every_api_route_resolves_to_itself_and_no_page_route_lives_under_the_api():
    api = [(route, name) for route, namespace, name in routes() if route.startswith("api/v1/")]
    assert len(api) > 60
    for route, name in api:
        match = resolve(sample(route))
        assert (match.namespace, match.url_name) == ("api", name), route
    pages = [route for route, namespace, _ in routes() if namespace != "api" and not route.startswith("^")]
    assert len(pages) > 50
    assert [route for route in pages if route.startswith("api/")] == []


def test_the_hot_calls_are_the_first_patterns_tried():
    first = [name for _, namespace, name in routes() if namespace == "api"][:3]
    assert first == ["set-spans", "set-decisions", "article-list"]
    assert [str(p.pattern) for p in get_resolver().url_patterns[:3]] == ["", "healthz", "api/v1/"]
