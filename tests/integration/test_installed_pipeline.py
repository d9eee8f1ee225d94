"""A pipeline directory named in ANNOTATOR_SPACY_PIPELINE: loaded, its labels mapped, recorded as a version."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from annotator.suggestions import engine, nlp, sources
from annotator.suggestions.checks import check_suggestion_settings
from annotator.suggestions.generate import ensure_active_suggester, preannotate_articles, suggest_text
from annotator.suggestions.models import SuggesterKind, Suggestion, SuggestionKind
from tests.factories import ArticleFactory
from tests.unit.test_suggestion_nlp import saved_pipeline

pytestmark = pytest.mark.django_db


@pytest.fixture
def pipeline_setting(settings, tmp_path):
    settings.ANNOTATOR_SPACY_PIPELINE = str(saved_pipeline(tmp_path))
    settings.ANNOTATOR_SPACY_LABEL_MAP = "PER=PERSON, FAC=GPE, CARDINAL="
    engine._pipeline_meta.cache_clear()
    yield settings
    engine._pipeline_meta.cache_clear()
    nlp.forget_suggesters()


TEXT = "Zygmunt Quackenbush landed at Vitebsk Arena three times; Sergey Naryshkin did not."


def test_the_configured_pipeline_becomes_the_default_suggester_with_its_labels_mapped(news, pipeline_setting):
    version = ensure_active_suggester(project=news.project)
    assert (version.kind, version.name, version.is_active) == (SuggesterKind.PIPELINE, "en_tiny_news", True)
    assert version.version.startswith("0.2.0+")
    assert version.config == {"rules": True, "mode": "add", "source": "pipeline:en_tiny_news-0.2.0"}
    assert version.path == pipeline_setting.ANNOTATOR_SPACY_PIPELINE
    article = ArticleFactory(project=news.project, text=TEXT)
    preannotate_articles(project=news.project, article_ids=[article.pk])
    found = sorted(
        Suggestion.objects.filter(article=article, kind=SuggestionKind.ENTITY).values_list(
            "start", "end", "entity_type__name", "source"
        )
    )
    assert found == [
        (0, 19, "PERSON", "pipeline:en_tiny_news-0.2.0"),
        # The name rules' guess from its shape (a club named after its city): without gold, the
        # pipeline retypes nothing the rules settled (test_pipeline_layering.py).
        (30, 43, "ORG", "rule:club-shape"),
        (57, 73, "PERSON", "rule:person"),  # "Sergey" is a given name: the rules still speak in add mode
    ]  # CARDINAL ("three") is dropped by the label map


def test_in_replace_mode_the_pipeline_runs_without_the_gazetteer(news, pipeline_setting):
    from annotator.kb.services import EntityRecord, upsert_entity

    upsert_entity(
        knowledge_base=news.kb,
        record=EntityRecord(kb_id="sergey-naryshkin", name="Sergey Naryshkin", type="PERSON"),
    )
    _, _, added = suggest_text(project=news.project, text=TEXT)
    assert [(e.text, e.source) for e in added.entities][-1] == ("Sergey Naryshkin", "kb-ruler")
    pipeline_setting.ANNOTATOR_SPACY_PIPELINE_MODE = "replace"
    spec, version_id, alone = suggest_text(project=news.project, text=TEXT)
    assert (spec.kind, spec.rules, version_id) == (SuggesterKind.PIPELINE, False, None)
    assert [(e.text, e.entity_type) for e in alone.entities] == [
        ("Zygmunt Quackenbush", "PERSON"),
        ("Vitebsk Arena", "GPE"),
    ]


def test_bad_suggestion_settings_are_reported_by_the_system_checks(settings, tmp_path):
    settings.ANNOTATOR_SPACY_LABEL_MAP = "FAC:LOC"
    settings.ANNOTATOR_SPACY_PIPELINE_MODE = "both"
    settings.ANNOTATOR_SPACY_PIPELINE = str(tmp_path / "missing")
    messages = {m.id: m.msg for m in check_suggestion_settings()}
    assert messages == {
        "suggestions.E001": "ANNOTATOR_SPACY_LABEL_MAP: 'FAC:LOC' is not LABEL=TYPE; write pairs such as "
        "FAC=LOC,CARDINAL= (an empty type drops the label).",
        "suggestions.E002": "ANNOTATOR_SPACY_PIPELINE_MODE is 'both'; it must be 'add' (with the gazetteer) or "
        "'replace'.",
        "suggestions.E003": f"ANNOTATOR_SPACY_PIPELINE is {str(tmp_path / 'missing')!r}, which is neither a pipeline "
        "directory nor an installed package. Install the package (e.g. a wheel made by `spacy package`) or give a "
        "directory.",
    }
    settings.ANNOTATOR_SPACY_PIPELINE = "no_such_spacy_package"
    assert "suggestions.E003" in {m.id for m in check_suggestion_settings()}
    settings.ANNOTATOR_SPACY_LABEL_MAP = "=LOC"
    with pytest.raises(ImproperlyConfigured):
        sources.site_label_map()
