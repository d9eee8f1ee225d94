"""The annotate page of a whole article, written straight from the values read, is the page the general
path (`load_view`, then its blocks and row groups) writes: the same bytes for every kind of row and mark."""

import pytest

from annotator.annotations import services
from annotator.projects.models import EntityTypeAttribute
from annotator.review import state, views
from annotator.review.set_row_types import carried_types
from annotator.suggestions.models import SuggestionKind
from tests import hostile
from tests.factories import EntityTypeFactory, KBEntityFactory, SuggestionFactory

pytestmark = pytest.mark.django_db

LINE = f"Sergey Naryshkin visited Minsk & {hostile.SCRIPT} {hostile.RLO}txt {hostile.ZWJ_FAMILY} İstanbul.\n"


def _version(news):
    news.annotation_set.refresh_from_db()
    return news.annotation_set.version


def _span(news, start, end, entity_type):
    return services.create_span(
        annotation_set=news.annotation_set,
        start=start,
        end=end,
        entity_type=entity_type,
        by=news.annotator,
        expected_version=_version(news),
    )


@pytest.fixture
def rich(news):
    """Three blocks of hostile text with every kind of row and mark: spans linked to the KB and to NIL,
    a relation, attribute values, crossing and nested suggestions, a suggestion the set already has, a
    long surface, relation and link suggestions, and a type whose name is markup."""
    text = LINE * 60  # about 6,000 code points: three blocks
    news.article.text = text
    news.article.save(update_fields=["text"])
    hostile_type = EntityTypeFactory(project=news.project, name=hostile.SVG, key="h")
    negated = EntityTypeAttribute.objects.create(entity_type=news.person, name=hostile.IMG, kind="text")
    starts = [index * len(LINE) for index in (0, 1, 25, 59)]
    for offset in starts:
        person = _span(news, offset, offset + 16, news.person)
        minsk = _span(news, offset + 25, offset + 30, news.gpe)
        services.link_span(
            span=person, kb_entity=news.naryshkin, by=news.annotator, expected_version=_version(news)
        )
        services.link_span(span=minsk, kb_entity=None, by=news.annotator, expected_version=_version(news))
        services.set_span_attribute(
            span=person,
            attribute=negated,
            value=hostile.SCRIPT,
            by=news.annotator,
            expected_version=_version(news),
        )
        services.create_relation(
            annotation_set=news.annotation_set,
            head=person,
            tail=minsk,
            relation_type=news.visited,
            by=news.annotator,
            expected_version=_version(news),
        )
    hostile_entity = KBEntityFactory(knowledge_base=news.kb, kb_id=hostile.HTMX[:60], name=hostile.IMG)
    for line in range(0, 60, 3):
        offset = line * len(LINE)
        SuggestionFactory(
            article=news.article, start=offset, end=offset + 6, entity_type=news.person, score=0.5
        )
        SuggestionFactory(
            article=news.article,
            start=offset + 7,
            end=offset + 30,
            entity_type=hostile_type,
            score=0.875,
            source=hostile.SCRIPT,
        )
        SuggestionFactory(article=news.article, start=offset + 25, end=offset + 30, entity_type=news.gpe)
        SuggestionFactory(
            article=news.article,
            start=offset + 33,
            end=len(LINE) + offset - 1,
            entity_type=news.org,
            score=0.25,
        )
        SuggestionFactory(
            article=news.article,
            kind=SuggestionKind.LINK,
            start=offset,
            end=offset + 16,
            entity_type=news.person,
            kb_entity=hostile_entity if line % 2 else news.naryshkin,
        )
        SuggestionFactory(
            article=news.article,
            kind=SuggestionKind.RELATION,
            start=offset,
            end=offset + 16,
            entity_type=news.person,
            relation_type=news.visited,
            tail_entity_type=news.gpe,
            tail_start=offset + 25,
            tail_end=offset + 30,
            score=0.7,
        )
    return news


def test_the_whole_page_from_the_values_read_is_what_the_general_path_writes(rich):
    # The set as the page reads it: with the project's types and the set's counts on its row.
    (annotation_set,) = views._own_set_for_page(article_id=rich.article.pk, user_id=rich.annotator.pk)
    text = annotation_set.article.text
    carried = carried_types(annotation_set)
    assert carried.types == state._types_with_set_counts(set_id=annotation_set.pk, project_id=rich.project.pk)
    counts, page = state._whole_page(annotation_set, text, carried)

    view = state.load_view(annotation_set, text)
    assert len(view.blocks) == 3
    assert page.blocks == view.rendered_blocks()
    assert page.lists == view.row_groups()
    assert [span.pk for span in page.spans] == [span.pk for span in view.spans]
    assert page.sources == sorted({suggestion.source for suggestion in view.suggestions})
    assert page.sources == [hostile.SCRIPT, "kb-ruler"]
    # Line 0's "Sergey" and "Minsk" suggestions lie inside spans of their type that the set has.
    assert counts == {"spans": 8, "relations": 4, "suggestions": 20 * 6 - 2}
    every_row = "".join("".join(groups) for groups in page.lists.values())
    assert every_row.count('class="row suggestion kind-entity"') == 20 * 4 - 2
    assert every_row.count('class="row suggestion kind-link"') == 20
    assert every_row.count('class="row suggestion kind-relation"') == 20
    assert every_row.count('class="row span"') == 8
    assert every_row.count('class="row relation"') == 4
    assert "<script>" not in every_row + "".join(page.blocks)
    assert "<img" not in every_row + "".join(page.blocks)


def test_the_breadcrumb_shows_the_title_as_written_cut_at_60_and_the_script_s_urls_are_on_the_page(
    client, news
):
    news.article.title = "Cafe\u0301 " + "x" * 70  # a decomposed é: NFC would write another string
    news.article.save(update_fields=["title"])
    client.force_login(news.annotator)
    html = client.get(f"/articles/{news.article.pk}/annotate/").content.decode()
    assert f"<bdi>Cafe\u0301 {'x' * 53}…</bdi>" in html
    pk = news.article.pk
    assert (
        f'data-act-url="/articles/{pk}/annotate/do/ACTION/" data-undo-url="/articles/{pk}/annotate/undo/" '
        f'data-submit-url="/articles/{pk}/annotate/submit/" data-workspace-url="/articles/{pk}/annotate/workspace/" '
        f'data-blocks-url="/articles/{pk}/annotate/blocks/" data-filter-url="/articles/{pk}/annotate/filter/" '
        f'data-candidates-url="/articles/{pk}/annotate/candidates/" '
        f'data-relation-types-url="/articles/{pk}/annotate/relation-types/" '
        f'data-new-entity-url="/articles/{pk}/annotate/new-kb-entity/" '
        f'data-attributes-url="/articles/{pk}/annotate/attributes/"'
    ) in html


def test_the_page_and_its_workspace_put_the_text_and_lists_in_their_places(client, news):
    suggestion = SuggestionFactory(article=news.article, start=25, end=30, entity_type=news.gpe, score=0.5)
    client.force_login(news.annotator)
    for url in (f"/articles/{news.article.pk}/annotate/", f"/articles/{news.article.pk}/annotate/workspace/"):
        response = client.get(url, HTTP_HX_REQUEST="true")
        html = response.content.decode()
        assert response.status_code == 200
        assert response["Content-Type"] == "text/html; charset=utf-8"
        assert "\x00" not in html
        text = html.index('<div id="text"')
        mark = html.index(f'<mark class="m et-{news.gpe.pk} d0 sugg" data-item="g{suggestion.pk}"')
        row = html.index(
            f'<div class="row suggestion kind-entity" tabindex="-1" data-item="g{suggestion.pk}"'
        )
        assert text < mark < html.index('id="suggestion-list"') < row < html.index('id="span-list"')
