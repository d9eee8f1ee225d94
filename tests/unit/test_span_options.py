"""The span picker's options, built in Python, read exactly as the template loop they replace did."""

from django.template import Context, Template

from annotator.annotations.models import Span
from annotator.projects.models import EntityType
from annotator.review.templatetags.span_options import span_options

TEMPLATE_LOOP = Template(
    '{% for span in spans %}<option value="{{ span.pk }}">{{ span.entity_type.name }} '
    "“{{ span.surface|truncatechars:50 }}” [{{ span.start }}, {{ span.end }})</option>{% endfor %}"
)
SURFACES = [
    "Minsk",
    "<script>alert(1)</script>",
    "{{ 7|add:1 }} \"quoted\" & 'single'",
    "👩‍👩‍👧 \u202etxt.exe عربي",
    "x" * 50,
    "y" * 51,
    "e\u0301" * 40,  # combining accents do not count towards the 50 characters
    "Belarusian State Security Committee of the Republic of Belarus (KGB)",
]


def test_span_options_match_the_template_loop_on_hostile_text():
    hostile_type = EntityType(pk=3, name='"><img src=x onerror=alert(2)>')
    spans = [
        Span(pk=10 + i, start=i, end=i + len(surface), surface=surface, entity_type=hostile_type)
        for i, surface in enumerate(SURFACES)
    ]
    built = span_options(spans)
    assert built == TEMPLATE_LOOP.render(Context({"spans": spans}))
    assert "<script>" not in built
    assert "<img" not in built
    assert f"“{'y' * 49}…” [5, 56)" in built
