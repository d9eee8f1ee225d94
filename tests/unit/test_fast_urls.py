"""`{% url %}` from kept patterns (core/reversing.py) gives exactly what Django's reverse gives."""

import pytest
from django.template import Context, Template, TemplateSyntaxError
from django.test import override_settings
from django.urls import NoReverseMatch, reverse, set_script_prefix

from annotator.core import reversing
from annotator.core.reversing import fast_reverse


@pytest.fixture(autouse=True)
def fresh_memo():
    reversing._memo.clear()
    reversing._fixed.clear()
    yield
    reversing._memo.clear()
    reversing._fixed.clear()
    set_script_prefix("/")


CASES = [
    ("review:annotate", [7]),
    ("review:annotate", [123456789012]),
    ("review:act", [7, "create-span"]),
    ("review:act", [8, "accept"]),
    ("projects:schema_css", [3]),
    ("api:set-spans", [41]),
    ("healthz", []),
    ("projects:list", []),
]


@pytest.mark.parametrize(("name", "args"), CASES)
def test_each_route_gives_what_reverse_gives_first_and_from_the_kept_pattern(name, args):
    assert fast_reverse(name, args) == reverse(name, args=args)
    assert fast_reverse(name, args) == reverse(name, args=args)  # now from the memo
    other = [arg + 1 if isinstance(arg, int) else arg for arg in args]
    assert fast_reverse(name, other) == reverse(name, args=other)


def test_a_pattern_is_kept_per_string_argument_and_filled_per_number():
    assert fast_reverse("review:act", [5, "accept"]) == "/articles/5/annotate/do/accept/"
    assert fast_reverse("review:act", [6, "reject"]) == "/articles/6/annotate/do/reject/"
    assert fast_reverse("review:act", [50, "accept"]) == "/articles/50/annotate/do/accept/"
    assert sorted(pattern for pattern, _ in reversing._memo.values()) == [
        "/articles/{}/annotate/do/accept/",
        "/articles/{}/annotate/do/reject/",
    ]


def test_numbers_equal_to_each_other_or_to_the_placeholders_fill_the_right_places():
    assert fast_reverse("review:annotate", [reversing._PLACEHOLDER_BASE]) == (
        f"/articles/{reversing._PLACEHOLDER_BASE}/annotate/"
    )
    assert fast_reverse("review:annotate", [reversing._PLACEHOLDER_BASE + 1]) == (
        f"/articles/{reversing._PLACEHOLDER_BASE + 1}/annotate/"
    )


def test_what_reverse_refuses_is_refused_and_remembered_as_nothing():
    with pytest.raises(NoReverseMatch):
        fast_reverse("review:annotate", [-1])  # not a number the route takes: Django's reverse says so
    with pytest.raises(NoReverseMatch):
        fast_reverse("review:annotate", [1, 2])
    with pytest.raises(NoReverseMatch):
        fast_reverse("no-such-route", [1])
    assert fast_reverse("review:annotate", [1]) == "/articles/1/annotate/"


def test_the_script_prefix_is_part_of_the_kept_pattern():
    assert fast_reverse("review:annotate", [4]) == "/articles/4/annotate/"
    set_script_prefix("/annotator/")
    assert fast_reverse("review:annotate", [4]) == "/annotator/articles/4/annotate/"


def test_the_template_tag_is_every_templates_url_tag_and_keeps_its_forms():
    html = Template(
        "{% url 'review:act' pk 'accept' %}|{% url 'review:annotate' pk as link %}[{{ link }}]|"
        "{% url 'review:act' article_id=pk action='undo' %}|{% url 'nope' pk as missing %}[{{ missing }}]"
    ).render(Context({"pk": 12}))
    assert (
        html == "/articles/12/annotate/do/accept/|[/articles/12/annotate/]|/articles/12/annotate/do/undo/|[]"
    )
    with pytest.raises(NoReverseMatch):
        Template("{% url 'nope' 1 %}").render(Context())
    with pytest.raises(TemplateSyntaxError):
        Template("{% url %}")


@override_settings(
    STORAGES={"staticfiles": {"BACKEND": "annotator.core.reversing.StaticFilesStorage"}},
    STATIC_ROOT="/nonexistent",
)
def test_static_urls_are_looked_up_once_per_name(monkeypatch):
    from django.contrib.staticfiles.storage import staticfiles_storage
    from whitenoise.storage import CompressedManifestStaticFilesStorage

    asked = []

    def url(self, name, force=False):
        asked.append(name)
        return f"/static/{name}.hashed"

    monkeypatch.setattr(CompressedManifestStaticFilesStorage, "url", url)
    assert [staticfiles_storage.url("a.css"), staticfiles_storage.url("a.css")] == [
        "/static/a.css.hashed"
    ] * 2
    assert staticfiles_storage.url("b.js") == "/static/b.js.hashed"
    assert asked == ["a.css", "b.js"]


def test_a_url_without_numbers_is_kept_whole_and_an_object_argument_is_not(monkeypatch):
    assert fast_reverse("projects:list", []) == reverse("projects:list")
    assert fast_reverse("review:act", ["7", "accept"]) == "/articles/7/annotate/do/accept/"
    calls = []
    monkeypatch.setattr(reversing, "reverse", lambda *args, **kwargs: calls.append(args) or "/reversed/")
    assert fast_reverse("projects:list", []) == reverse("projects:list")  # kept: Django not asked
    assert fast_reverse("review:act", ["7", "accept"]) == "/articles/7/annotate/do/accept/"
    assert calls == []

    class Named:  # what str() gives may change from one call to the next: never kept
        def __str__(self) -> str:
            return "y"

    assert fast_reverse("review:act", [Named(), "accept"]) == "/reversed/"
    assert fast_reverse("review:act", [Named(), "accept"]) == "/reversed/"
    assert len(calls) == 2
