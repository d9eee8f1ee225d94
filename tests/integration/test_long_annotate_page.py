"""The annotate page on a long article: the first blocks with their annotations, the rest as text that the
page loads block by block (the block endpoint), at a cost that does not grow with the article."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from annotator.annotations import services
from annotator.annotations.models import Span
from annotator.articles.models import Article
from annotator.review.rendering import split_blocks
from annotator.review.state import EAGER_BLOCKS
from annotator.suggestions.models import Suggestion, SuggestionKind
from tests.factories import SuggestionFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
LINE = "Sergey Naryshkin visited Minsk on April 15.\n"  # 44 code points; "Minsk" at 25-30
HOSTILE = "<script>alert(1)</script> {{ 7|add:1 }} 👩‍👩‍👧 \u05e9\u05dc\u05d5\u05dd \u202etxt.exe\n"


@pytest.fixture
def long_news(news, client):
    """The news article made 1,400 lines long (about 30 blocks), the hostile line in its last block."""
    text = LINE * 1399 + HOSTILE
    Article.objects.filter(pk=news.article.pk).update(text=text)
    news.article.refresh_from_db()
    news.text = text
    news.blocks = split_blocks(text)
    client.force_login(news.annotator)
    news.client = client
    return news


def line_start(number):
    return len(LINE) * number


def add_span(news, start, end, entity_type=None):
    return services.create_span(
        annotation_set=news.annotation_set,
        start=start,
        end=end,
        entity_type=entity_type or news.person,
        by=news.annotator,
        expected_version=news.annotation_set.version,
    )


def add_spans_and_suggestions(news, lines):
    """A PERSON span on "Sergey Naryshkin" and a GPE suggestion on "Minsk" in each of the lines."""
    Span.objects.bulk_create(
        Span(
            annotation_set=news.annotation_set,
            start=line_start(n),
            end=line_start(n) + 16,
            entity_type=news.person,
            surface="Sergey Naryshkin",
        )
        for n in lines
    )
    made_by = SuggestionFactory(
        article=news.article, start=0, end=6, entity_type=news.person
    ).suggester_version
    Suggestion.objects.bulk_create(
        Suggestion(
            article=news.article,
            kind=SuggestionKind.ENTITY,
            start=line_start(n) + 25,
            end=line_start(n) + 30,
            entity_type=news.gpe,
            score=0.9,
            source="test",
            suggester_version=made_by,
        )
        for n in lines
    )


def page(news):
    return news.client.get(reverse("review:annotate", args=[news.article.pk])).content.decode()


def blocks(news, first, last, **extra):
    url = reverse("review:blocks", args=[news.article.pk])
    return news.client.get(url, {"first": first, "last": last, **extra}, **HTMX)


def block_of(news, offset):
    return next(block for block in news.blocks if block.start <= offset < block.end)


def test_the_page_shows_its_first_blocks_annotated_and_the_rest_as_text_to_load(long_news):
    news = long_news
    first = add_span(news, 0, 16)
    late = add_span(news, line_start(1300), line_start(1300) + 16)
    html = page(news)
    assert len(news.blocks) == 31
    assert f'data-item="s{first.pk}" data-label="PERSON">Sergey Naryshkin</mark>' in html
    assert f'data-item="s{late.pk}"' not in html  # neither its mark nor its row: its block loads later
    assert html.count('<div class="blk" id="blk-') == 31
    assert html.count('data-lazy="1">Sergey Naryshkin') == 31 - EAGER_BLOCKS
    eighth = news.blocks[EAGER_BLOCKS]
    assert f'<div class="blk" id="blk-8" data-s="{eighth.start}" data-e="{eighth.end}" data-lazy="1">' in html
    # Every side list: groups for the first blocks, an empty one to fill for each later block.
    for kind in ("suggestions", "spans", "relations"):
        assert html.count(f'class="group" id="{kind}-blk-') == 31
        assert html.count(f'id="{kind}-blk-30" data-block="30" data-lazy="1"></div>') == 1
        assert f'id="{kind}-blk-7" data-block="7" data-lazy' not in html
    # The whole text is on the page, hostile text escaped: the browser's find-in-page reaches the end.
    assert (
        "&lt;script&gt;alert(1)&lt;/script&gt; {{ 7|add:1 }} 👩‍👩‍👧 \u05e9\u05dc\u05d5\u05dd \u202etxt.exe"
        in html
    )
    assert "<script>alert(1)" not in html


def test_a_short_article_shows_everything_at_once(news, client):
    client.force_login(news.annotator)
    html = client.get(reverse("review:annotate", args=[news.article.pk])).content.decode()
    assert "data-lazy" not in html


def test_the_block_endpoint_answers_the_blocks_with_their_marks_and_rows_out_of_band(long_news):
    news = long_news
    late = add_span(news, line_start(1300), line_start(1300) + 16)
    block = block_of(news, late.start)
    minsk = SuggestionFactory(
        article=news.article, start=late.start + 25, end=late.start + 30, entity_type=news.gpe, score=0.75
    )
    response = blocks(news, block.index, block.index)
    html = response.content.decode()
    assert response.status_code == 200
    assert html.startswith(
        f'<div class="blk" id="blk-{block.index}" data-s="{block.start}" data-e="{block.end}" hx-swap-oob="true">'
    )
    assert f'data-item="s{late.pk}" data-label="PERSON">Sergey Naryshkin</mark>' in html
    assert f'data-item="g{minsk.pk}" data-label="GPE 0.75">Minsk</mark>' in html
    assert "data-lazy" not in html
    assert (
        f'<div class="group" id="spans-blk-{block.index}" data-block="{block.index}" hx-swap-oob="true">'
        in html
    )
    assert f'data-item="s{late.pk}" data-type="{news.person.pk}" data-start="{late.start}"' in html
    assert f'<div class="row suggestion kind-entity" tabindex="-1" data-item="g{minsk.pk}"' in html
    assert html.count('class="blk') == 1


def test_the_block_endpoint_escapes_hostile_text(long_news):
    html = blocks(long_news, 30, 30).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; {{ 7|add:1 }} 👩‍👩‍👧" in html
    assert "<script>" not in html


@pytest.mark.parametrize(("first", "last"), [(31, 31), (0, 32), (5, 4), (31, 60)])
def test_the_block_endpoint_refuses_ranges_outside_the_text_or_too_long(long_news, first, last):
    assert blocks(long_news, first, last).status_code == 404


def test_the_block_endpoint_is_for_members_only(long_news, outsider, client):
    client.force_login(outsider)
    response = client.get(reverse("review:blocks", args=[long_news.article.pk]), {"first": 0, "last": 0})
    assert response.status_code == 404


def count_queries(action):
    with CaptureQueriesContext(connection) as captured:
        response = action()
        assert response.status_code == 200
    return len(captured)


def test_the_page_and_a_block_cost_the_same_queries_however_many_spans_the_article_has(long_news, settings):
    news = long_news
    settings.ANNOTATOR_SUGGEST_ON_OPEN = False
    url = reverse("review:annotate", args=[news.article.pk])
    add_spans_and_suggestions(news, range(0, 1400, 100))
    news.client.get(url)  # the first open makes the set's state (sessions, the set) once
    page_queries = count_queries(lambda: news.client.get(url))
    block_queries = count_queries(lambda: blocks(news, 20, 27))
    cached_queries = count_queries(lambda: blocks(news, 20, 27))
    add_spans_and_suggestions(news, [n for n in range(1400) if n % 100])
    news.annotation_set.refresh_from_db()
    assert count_queries(lambda: news.client.get(url)) == page_queries
    assert count_queries(lambda: blocks(news, 12, 19)) == block_queries
    assert count_queries(lambda: blocks(news, 12, 19)) == cached_queries
    # Pinned: the page as for a short article (the set with its article, project and role in one query,
    # the types with the set's counts in another); a block reads the set with its article, what its
    # marks depend on, then marks and rows (or rows only, from the cache).
    assert (page_queries, block_queries, cached_queries) == (7, 8, 8)


def test_a_block_read_again_after_a_change_shows_the_change(long_news):
    news = long_news
    block = news.blocks[20]
    before = blocks(news, 20, 20).content.decode()
    assert "<mark" not in before
    created = add_span(news, block.start, block.start + 16)  # the set's version moves on
    assert f'data-item="s{created.pk}"' in blocks(news, 20, 20).content.decode()
    # Suggestions a job adds change no version; the block shows them all the same.
    suggestion = SuggestionFactory(
        article=news.article, start=block.start + 25, end=block.start + 30, entity_type=news.gpe
    )
    assert f'<mark class="m et-{news.gpe.pk} d0 sugg" data-item="g{suggestion.pk}"' in (
        blocks(news, 20, 20).content.decode()
    )
    news.gpe.name = "PLACE"
    news.gpe.save()
    assert f'data-item="g{suggestion.pk}" data-label="PLACE ' in blocks(news, 20, 20).content.decode()


def act(news, action, **data):
    data.setdefault("version", news.annotation_set.version)
    response = news.client.post(reverse("review:act", args=[news.article.pk, action]), data, **HTMX)
    news.annotation_set.refresh_from_db()
    return response


def test_a_span_created_in_a_late_block_answers_with_that_block_annotated(long_news):
    news = long_news
    start = line_start(1300) + 25
    block = block_of(news, start)
    assert block.index >= EAGER_BLOCKS
    response = act(news, "create-span", start=start, end=start + 5, surface="Minsk", entity_type=news.gpe.pk)
    assert response.status_code == 200
    created = Span.objects.get()
    assert (created.start, created.end, created.surface) == (start, start + 5, "Minsk")
    html = response.content.decode()
    assert (
        f'<div class="blk" id="blk-{block.index}" data-s="{block.start}" data-e="{block.end}" hx-swap-oob="true">'
        in html
    )
    assert f'data-item="s{created.pk}" data-label="GPE">Minsk</mark>' in html
    assert (
        f'<div class="group" id="spans-blk-{block.index}" data-block="{block.index}" hx-swap-oob="true">'
        in html
    )


def test_a_span_across_a_block_boundary_keeps_its_offsets_and_marks_both_blocks(long_news):
    news = long_news
    left, right = news.blocks[15], news.blocks[16]
    start, end = left.end - 13, right.start + 16  # "April 15.\n" + "Sergey Naryshkin"
    surface = news.text[start:end]
    assert surface == "on April 15.\nSergey Naryshkin"
    response = act(news, "create-span", start=start, end=end, surface=surface, entity_type=news.person.pk)
    assert response.status_code == 200
    created = Span.objects.get()
    assert (created.start, created.end, created.surface) == (start, end, surface)
    html = response.content.decode()
    for block in (left, right):
        assert (
            f'id="blk-{block.index}" data-s="{block.start}" data-e="{block.end}" hx-swap-oob="true">' in html
        )
    marks = re.findall(
        rf'<div class="blk" id="blk-(\d+)"|<mark [^>]*data-item="s{created.pk}"[^>]*>([^<]*)', html
    )
    assert [(block, text) for block, text in marks if text or block] == [
        (str(left.index), ""),
        ("", "on April 15.\n"),
        (str(right.index), ""),
        ("", "Sergey Naryshkin"),
    ]
    # Its row sits in the group of the block where it starts; the next block's group is empty.
    groups = dict(
        re.findall(
            r'<div class="group" id="spans-blk-(\d+)"[^>]*>(.*?)</div>(?=<div class="group"|\n)', html, re.S
        )
    )
    assert list(groups) == [str(left.index), str(right.index)]
    assert (
        f'data-item="s{created.pk}" data-type="{news.person.pk}" data-start="{start}"'
        in groups[str(left.index)]
    )
    assert groups[str(right.index)] == ""


def test_a_bulk_decision_over_the_whole_article_answers_with_blocks_to_load_again(long_news):
    news = long_news
    add_spans_and_suggestions(news, range(0, 1400, 10))
    response = act(news, "bulk", verdict="reject", source="test")
    assert response.status_code == 200
    html = response.content.decode()
    assert Suggestion.objects.filter(source="test", decisions__isnull=True).count() == 0
    assert html.count('data-lazy="1" hx-swap-oob="true">Sergey Naryshkin') == 31  # each block, as text
    assert html.count('hx-swap-oob="true" data-lazy="1"></div>') == 31 * 3  # and its groups, to fill again
    assert "<mark" not in html


def test_a_relation_row_says_where_its_ends_are_so_the_page_can_load_the_block_of_an_arc(long_news):
    news = long_news
    head = add_span(news, 0, 16)
    tail = add_span(news, line_start(1300) + 25, line_start(1300) + 30, news.gpe)
    relation = services.create_relation(
        annotation_set=news.annotation_set,
        head=head,
        tail=tail,
        relation_type=news.visited,
        by=news.annotator,
        expected_version=news.annotation_set.version,
    )
    html = page(news)
    assert (
        f'data-item="r{relation.pk}" data-head="s{head.pk}" data-tail="s{tail.pk}" '
        f'data-head-start="0" data-tail-start="{tail.start}" data-directed="1"'
    ) in html
    assert f'<mark class="m et-{news.gpe.pk}' not in html  # the tail's block has not loaded


def filtered(news, query, **extra):
    url = reverse("review:filtered_blocks", args=[news.article.pk])
    return news.client.get(url, {"q": query, **extra})


def test_the_filter_endpoint_names_the_blocks_whose_rows_match(long_news):
    """What the page's filter box matches (type, surface, KB name, relation), for every block, so that a
    long article's page can load the blocks it has not loaded yet before filtering."""
    news = long_news
    add_spans_and_suggestions(news, [0, 700, 1300])
    late = Span.objects.get(start=line_start(1300))
    services.create_relation(
        annotation_set=news.annotation_set, head=Span.objects.get(start=line_start(700)), tail=late,
        relation_type=news.met_with, by=news.annotator, expected_version=news.annotation_set.version,
    )  # fmt: skip
    spans_at = [block_of(news, line_start(n)).index for n in (0, 700, 1300)]
    assert filtered(news, "naryshkin").json() == {"blocks": spans_at}
    assert filtered(news, "  GPE ").json() == {"blocks": spans_at}  # suggestions: "entity gpe minsk"
    assert filtered(news, "met_with").json() == {"blocks": [spans_at[1]]}  # the block of the head
    assert filtered(news, "protasevich").json() == {"blocks": []}
    assert filtered(news, "").json() == {"blocks": []}
    # Reads every row of the set at once, whatever their number: the same queries with ten times the rows.
    queries = count_queries(lambda: filtered(news, "minsk"))
    add_spans_and_suggestions(news, [n for n in range(1, 1400, 50)])
    assert count_queries(lambda: filtered(news, "minsk")) == queries == 6


def test_the_filter_endpoint_is_for_members_only(long_news, outsider, client):
    client.force_login(outsider)
    url = reverse("review:filtered_blocks", args=[long_news.article.pk])
    assert client.get(url, {"q": "minsk"}).status_code == 404
