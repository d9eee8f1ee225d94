"""The annotate page asks whether its suggestions are current from its first query's columns
(`freshness.active_columns`): the same answer as the freshness query's, and it acts on it."""

import pytest
from django.urls import reverse

from annotator.suggestions.engine import RELATIONS_FILE, spec_for
from annotator.suggestions.freshness import active_from, active_with_run, forget
from annotator.suggestions.models import SuggesterKind, SuggesterSettings, Suggestion, SuggestionRun
from tests.factories import SuggesterVersionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def suggesting(settings):
    settings.ANNOTATOR_SUGGEST_ON_OPEN = True
    settings.ANNOTATOR_SUGGESTION_FRESHNESS_SECONDS = 600
    forget()


def _joined(news):
    from annotator.review.views import _own_set_opening

    (row,) = _own_set_opening(article_id=news.article.pk, user_id=news.annotator.pk)
    return active_from(row, row.article.project)


def _described(active):
    """What the freshness check reads of the active suggester."""
    if active is None:
        return None
    spec = spec_for(active, active.project.language)
    return (spec, active.pk, active.stored_fingerprint, active.links_pending, active.settings_digest)


def test_a_project_without_an_active_suggester_has_none(news):
    assert active_with_run(news.article) is None
    assert _joined(news) is None


@pytest.mark.parametrize("kind", [SuggesterKind.RULES, SuggesterKind.TRAINED, SuggesterKind.PIPELINE])
def test_the_page_s_columns_read_what_the_freshness_query_reads(news, kind, tmp_path):
    (tmp_path / RELATIONS_FILE).write_text("{}")
    config = {"rules": kind != SuggesterKind.PIPELINE, "source": "pipeline:en_test-1.0", "mode": "replace"}
    active = SuggesterVersionFactory(project=news.project, kind=kind, name=f"{kind}-x", version="3",
                                     path=str(tmp_path), config=config, is_active=True)  # fmt: skip
    SuggesterVersionFactory(project=news.project, name="older", is_active=False)
    assert _described(_joined(news)) == _described(active_with_run(news.article))
    assert _joined(news).stored_fingerprint is None  # never ran on the article

    SuggesterSettings.objects.create(project=news.project, label_map={"GPE": "LOC"})
    run = SuggestionRun.objects.create(article=news.article, suggester_version=active, fingerprint="f-1",
                                       pending_links=[[0, 16, "PERSON"]])  # fmt: skip
    joined = _described(_joined(news))
    assert joined == _described(active_with_run(news.article))
    assert joined[1:] == (active.pk, "f-1", True, SuggesterSettings.objects.get().digest)
    if kind == SuggesterKind.TRAINED:
        assert joined[0].relations_path == str(tmp_path / RELATIONS_FILE)

    run.pending_links = None
    run.save(update_fields=["pending_links"])
    assert _described(_joined(news))[3] is False


def _page(news):
    return reverse("review:annotate", args=[news.article.pk])


def test_a_stale_run_is_run_again_when_the_page_opens_and_a_current_one_is_not(client, news, suggesting):
    client.force_login(news.annotator)
    client.get(_page(news))  # the first open runs the active suggester
    run = SuggestionRun.objects.get(article=news.article)
    current = run.fingerprint
    client.get(_page(news))
    assert SuggestionRun.objects.get().updated_at == run.updated_at  # current: not run again

    SuggestionRun.objects.update(fingerprint="stale")
    Suggestion.objects.filter(article=news.article).delete()
    html = client.get(_page(news)).content.decode()
    again = SuggestionRun.objects.get()
    assert (again.pk, again.fingerprint) == (run.pk, current)
    shown = Suggestion.objects.filter(article=news.article).first()
    assert f'data-item="g{shown.pk}"' in html


def test_another_active_suggester_runs_when_the_page_opens(client, news, suggesting):
    client.force_login(news.annotator)
    client.get(_page(news))
    first = SuggestionRun.objects.get().suggester_version
    first.is_active = False
    first.save(update_fields=["is_active"])
    second = SuggesterVersionFactory(project=news.project, name="kb-ruler", is_active=True)
    client.get(_page(news))
    assert sorted(SuggestionRun.objects.values_list("suggester_version_id", flat=True)) == [
        first.pk,
        second.pk,
    ]
