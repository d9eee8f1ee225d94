"""The usual Accept headers are answered without DRF's parsing, with exactly what DRF answers."""

import pytest
from django.http import Http404
from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from annotator.api.negotiation import UsualContentNegotiation

RENDERER_LISTS = [
    [JSONRenderer()],
    [JSONRenderer(), BrowsableAPIRenderer()],
    [BrowsableAPIRenderer(), JSONRenderer()],
]


def request(accept, query=""):
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    return Request(APIRequestFactory().post(f"/api/v1/sets/1/spans/{query}", **headers))


def choice(negotiation, accept, renderers, query="", suffix=None):
    try:
        renderer, media_type = negotiation.select_renderer(request(accept, query), renderers, suffix)
    except NotAcceptable:
        return "406"
    except Http404:
        return "404"  # ?format= names no renderer here
    return type(renderer).__name__, media_type


@pytest.mark.parametrize("renderers", RENDERER_LISTS)
@pytest.mark.parametrize(
    ("accept", "query", "suffix"),
    [
        (None, "", None),
        ("*/*", "", None),
        ("application/json", "", None),
        ("application/json; indent=4", "", None),
        ("text/html", "", None),
        ("text/html, */*;q=0.1", "", None),
        ("image/png", "", None),
        ("", "", None),
        (None, "?format=api", None),
        (None, "?format=json", None),
        ("*/*", "", "api"),
    ],
)
def test_the_usual_answer_is_drfs_answer(renderers, accept, query, suffix):
    assert choice(UsualContentNegotiation(), accept, renderers, query, suffix) == choice(
        DefaultContentNegotiation(), accept, renderers, query, suffix
    )


def test_the_usual_headers_skip_the_parsing(monkeypatch):
    def parsed(*args):
        raise AssertionError("parsed the Accept header")

    monkeypatch.setattr(DefaultContentNegotiation, "_get_parsed_accept_list", parsed)
    for accept in (None, "*/*", "application/json"):
        assert choice(UsualContentNegotiation(), accept, [JSONRenderer()]) == (
            "JSONRenderer",
            "application/json",
        )
    with pytest.raises(AssertionError, match="parsed"):
        UsualContentNegotiation().select_renderer(request("text/html"), [JSONRenderer()])
