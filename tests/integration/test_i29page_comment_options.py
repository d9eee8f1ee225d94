"""The comment form's span options of the annotate page, written with its rows from the spans' values, are
what the `span_options` filter writes for the set's spans read as models: in text order, escaped, cut at
COMMENT_SPANS; a set without spans has no picker."""

import pytest
from django.urls import reverse

from annotator.annotations.models import Span
from annotator.annotations.services import create_span, link_span
from annotator.review import state
from annotator.review.templatetags.span_options import span_options
from tests import hostile
from tests.factories import EntityTypeFactory

pytestmark = pytest.mark.django_db

_OPENING = '<option value="">The whole article</option>'


def _picker(html):
    return html[html.index(_OPENING) + len(_OPENING) : html.index("</select></label>", html.index(_OPENING))]


def _hostile_spans(news):
    odd = EntityTypeFactory(project=news.project, name=hostile.PERSON, key="x")
    article = news.article
    article.text = f"Sergey Naryshkin met {hostile.SCRIPT} in Minsk {hostile.ZWJ_FAMILY} and {hostile.RLO}x."
    article.save()
    places = [(0, 16, news.person), (21, 21 + len(hostile.SCRIPT), odd), (article.text.index("Minsk"),
              article.text.index("Minsk") + 5, news.gpe), (article.text.index(hostile.ZWJ_FAMILY),
              article.text.index(hostile.ZWJ_FAMILY) + len(hostile.ZWJ_FAMILY), odd)]  # fmt: skip
    made = []
    for version, (start, end, kind) in enumerate(places, start=1):
        made.append(create_span(annotation_set=news.annotation_set, start=start, end=end, entity_type=kind,
                                by=news.annotator, expected_version=version))  # fmt: skip
    link_span(span=made[2], kb_entity=news.minsk, by=news.annotator, expected_version=len(places) + 1)
    return made


def _expected(news, limit):
    spans = Span.objects.filter(annotation_set=news.annotation_set).select_related("entity_type")
    return span_options(list(spans.order_by("start", "end", "id")[:limit]))


def test_the_page_s_options_are_the_filter_s_on_hostile_text(client, news, settings):
    settings.ANNOTATOR_SUGGEST_ON_OPEN = False
    _hostile_spans(news)
    client.force_login(news.annotator)
    html = client.get(reverse("review:annotate", args=[news.article.pk])).content.decode()
    picker = _picker(html)
    assert picker.strip() == _expected(news, 500)
    assert picker.count("<option") == 4
    assert "<script>" not in picker
    assert "&lt;script&gt;" in picker


def test_the_page_offers_at_most_comment_spans_spans(client, news, settings, monkeypatch):
    settings.ANNOTATOR_SUGGEST_ON_OPEN = False
    _hostile_spans(news)
    monkeypatch.setattr(state, "COMMENT_SPANS", 2)
    client.force_login(news.annotator)
    html = client.get(reverse("review:annotate", args=[news.article.pk])).content.decode()
    assert _picker(html).strip() == _expected(news, 2)
    assert _picker(html).count("<option") == 2


def test_a_set_without_spans_has_no_picker(client, news, settings):
    settings.ANNOTATOR_SUGGEST_ON_OPEN = False
    client.force_login(news.annotator)
    html = client.get(reverse("review:annotate", args=[news.article.pk])).content.decode()
    assert _OPENING not in html
    assert 'id="comment-about"' not in html
