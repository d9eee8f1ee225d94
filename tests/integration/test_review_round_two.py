"""Issue 16's server-side rules: spans never start or end with white space (refused, or trimmed when the
project says so), imported sets are exported when asked for, and what a relation suggestion made carries
its provenance in the export."""

import pytest

from annotator.annotations import services
from annotator.annotations.models import AnnotationSet, SetKind, Span
from annotator.core.errors import InvalidAnnotation
from annotator.interchange.exports import ExportQuery, SetChoice, export_records
from annotator.suggestions.models import SuggestionKind
from annotator.suggestions.services import accept_suggestion
from tests.conftest import MINSK, NARYSHKIN
from tests.factories import SuggestionFactory

pytestmark = pytest.mark.django_db


def add(news, start, end, **extra):
    own = news.annotation_set
    return services.create_span(
        annotation_set=own, start=start, end=end, entity_type=news.person, by=news.annotator,
        expected_version=own.version, **extra,
    )  # fmt: skip


def test_a_span_with_white_space_at_an_edge_is_refused(news):
    start, end = NARYSHKIN
    with pytest.raises(InvalidAnnotation) as refused:
        add(news, start, end + 1)
    assert refused.value.message == (
        f"A span cannot start or end with white space: the text at [{start}, {end + 1}) is 'Sergey Naryshkin '."
    )
    with pytest.raises(InvalidAnnotation) as blank:
        add(news, end, end + 1)
    assert blank.value.message == f"The text at [{end}, {end + 1}) is only white space."
    span = add(news, start, end)
    with pytest.raises(InvalidAnnotation):
        services.change_span(span=span, start=start, end=end + 1, by=news.annotator, expected_version=2)
    assert news.annotation_set.version == 2  # nothing was written
    assert list(Span.objects.values_list("start", "end")) == [NARYSHKIN]


def test_a_project_that_trims_stores_the_span_without_its_white_space(news):
    news.project.trim_span_whitespace = True
    news.project.save()
    start, end = NARYSHKIN
    span = add(news, start, end + 1, surface="Sergey Naryshkin ")  # the surface the client selected
    assert (span.start, span.end, span.surface) == (start, end, "Sergey Naryshkin")
    with pytest.raises(InvalidAnnotation, match="already exists"):
        add(news, start, end + 1)  # trimmed, it is the span the set has
    with pytest.raises(InvalidAnnotation, match="already has these boundaries"):  # the same span, trimmed
        services.change_span(span=span, start=start, end=end + 1, by=news.annotator, expected_version=2)
    assert news.annotation_set.version == 2


def test_imported_sets_are_exported_when_asked_for(news):
    imported = AnnotationSet.objects.create(article=news.article, kind=SetKind.IMPORTED, name="spacy run")
    Span.objects.create(
        annotation_set=imported, start=MINSK[0], end=MINSK[1], entity_type=news.gpe, surface="Minsk"
    )
    every_annotator = list(export_records(news.project, ExportQuery(sets=SetChoice.ALL)))
    assert [record.provenance["set"] for record in every_annotator] == ["annotator"]  # alice's, not imported
    records = list(export_records(news.project, ExportQuery(sets=SetChoice.IMPORTED)))
    assert [(r.provenance["set"], r.provenance["set_name"], [(s.start, s.end, s.label) for s in r.spans])
            for r in records] == [("imported", "spacy run", [(*MINSK, "GPE")])]  # fmt: skip


def test_what_a_relation_suggestion_made_carries_its_provenance(news):
    suggestion = SuggestionFactory(
        article=news.article, kind=SuggestionKind.RELATION, start=NARYSHKIN[0], end=NARYSHKIN[1],
        entity_type=news.person, tail_start=MINSK[0], tail_end=MINSK[1], tail_entity_type=news.gpe,
        relation_type=news.visited, score=0.75, source="rel-rules",
    )  # fmt: skip
    accept_suggestion(
        suggestion=suggestion, annotation_set=news.annotation_set, by=news.annotator, expected_version=1
    )
    (record,) = export_records(news.project, ExportQuery(sets=SetChoice.ALL))
    origin = {"suggestion": suggestion.pk, "source": "rel-rules", "score": 0.75, "verdict": "accepted"}
    for made in [*record.spans, *record.relations]:
        assert {key: made.provenance["suggestion"][key] for key in origin} == origin


# The small things


def test_the_project_page_shows_an_articles_status_in_words(client, news):
    add(news, *NARYSHKIN)
    client.force_login(news.manager)
    html = client.get(f"/projects/{news.project.pk}/").content.decode()
    assert '<span class="status status-in_progress">In progress</span>' in html
    assert "inprogress" not in html


def test_a_gold_export_with_no_gold_says_so_instead_of_an_empty_file(client, news):
    client.force_login(news.manager)
    response = client.post(f"/projects/{news.project.pk}/exports/", {"format": "jsonl", "sets": "gold"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert (
        "Nothing to export: no article has a gold set matching these filters yet."
        in response.content.decode()
    )


def test_train_is_disabled_with_the_reason_when_it_cannot_run(client, news):
    client.force_login(news.manager)
    html = client.get(f"/projects/{news.project.pk}/suggesters/").content.decode()
    assert "Training needs at least 5 annotated articles; this project has 0." in html  # learn_after: 5
    assert 'disabled aria-describedby="train-blocked">Train a new version</button>' in html


def test_history_names_suggestions_by_their_words_not_their_ids(client, news):
    suggestion = SuggestionFactory(
        article=news.article, start=MINSK[0], end=MINSK[1], entity_type=news.gpe, source="ner"
    )
    accept_suggestion(
        suggestion=suggestion, annotation_set=news.annotation_set, by=news.annotator, expected_version=1
    )
    client.force_login(news.annotator)
    html = client.get(f"/articles/{news.article.pk}/history/").content.decode()
    assert "accepted the suggestion GPE “Minsk”" in html
    assert f"#{suggestion.pk}" not in html


def test_the_read_pages_breadcrumb_shows_the_title(client, news):
    client.force_login(news.annotator)
    html = client.get(f"/articles/{news.article.pk}/").content.decode()
    assert '<li aria-current="page">Naryshkin in Minsk</li>' in html


def test_a_new_tokens_secret_has_a_copy_button(client, news):
    client.force_login(news.annotator)
    response = client.post("/account/tokens/", {"name": "laptop", "scope": "read"}, follow=True)
    html = response.content.decode()
    assert '<code class="token-secret" id="token-secret">' in html
    assert 'data-copy="#token-secret" aria-describedby="copy-status">Copy</button>' in html


def test_either_form_of_an_api_path_reaches_its_view_without_a_redirect(client, news):
    from annotator.api.tokens import create_token

    services.submit_set(annotation_set=news.annotation_set, by=news.annotator, expected_version=1)
    token = create_token(user=news.annotator, name="cli", scope="write")[1]
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}", "HTTP_IF_MATCH": '"2"'}
    response = client.post(f"/api/v1/sets/{news.annotation_set.pk}/reopen", **auth)  # no trailing slash
    assert response.status_code == 200
    assert response.json()["status"] == "in_progress"
    listed = client.get(
        f"/api/v1/articles/{news.article.pk}/suggestions/", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert listed.status_code == 200  # the route is written without its slash
    assert client.get("/api/v1/no-such-thing/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 404


def test_the_annotate_and_curate_pages_breadcrumbs_lead_to_the_articles_and_name_the_title(client, news):
    """Project, then Articles, then the article's title (not its external id, which the import gave it)."""
    from annotator.articles.models import Article

    Article.objects.filter(pk=news.article.pk).update(title="<b>Naryshkin</b> " + "in Minsk " * 10)
    articles = f'<li><a href="/projects/{news.project.pk}/articles/">Articles</a></li>'
    client.force_login(news.annotator)
    html = client.get(f"/articles/{news.article.pk}/annotate/").content.decode()
    assert articles in html
    title = "&lt;b&gt;Naryshkin&lt;/b&gt; in Minsk in Minsk in Minsk in Minsk in Min…"  # 60 characters
    assert f'<li aria-current="page"><bdi>{title}</bdi></li>' in html
    client.force_login(news.manager)
    html = client.get(f"/articles/{news.article.pk}/curate/").content.decode()
    assert articles in html
    assert '<li aria-current="page">Curate <bdi>&lt;b&gt;Naryshkin&lt;/b&gt; in Minsk' in html
