"""A pretrained pipeline in replace mode is the project's only source: every entity it finds that the
schema holds is suggested. Add mode's prior (laid over the gazetteer and rules, the pipeline keeps only what
reads as a name) must not leave any out there: it did since stop 25, and replace mode measured 0.632 on
CoNLL-2003's eng.testa instead of 0.667."""

import pytest

from annotator.suggestions import nlp
from annotator.suggestions.generate import suggest_text
from annotator.suggestions.models import SuggesterSettings
from tests.unit.test_suggestion_nlp import saved_pipeline

pytestmark = pytest.mark.django_db

# "capital" (lower case; the pipeline leaves out "the") and "Route 66" (a digit) do not read as names;
# "Vitebsk Airport" does.
TEXT = "Vitebsk Airport closed. Buses left the capital on Route 66."


@pytest.fixture
def pipeline(settings, tmp_path):
    """A pipeline directory whose "NER" (an entity ruler) finds the airport, the capital and the road."""
    patterns = [
        {"label": "FAC", "pattern": "Vitebsk Airport"},
        {"label": "GPE", "pattern": "the capital"},
        {"label": "FAC", "pattern": "Route 66"},
    ]
    settings.ANNOTATOR_PIPELINES_DIR = tmp_path  # the pipelines a manager may pick: this one
    yield str(saved_pipeline(tmp_path, name="tiny", version="1.0.0", patterns=patterns))
    nlp.forget_suggesters()


def suggested(project):
    return [(e.text, e.entity_type, e.source) for e in suggest_text(project=project, text=TEXT)[2].entities]


def test_replace_mode_suggests_every_entity_of_the_pipeline_the_schema_holds(news, pipeline):
    chosen = SuggesterSettings.objects.create(
        project=news.project, use_site_pipeline=False, pipeline=pipeline, pipeline_mode="replace",
        label_map={"FAC": "GPE"}, learn=False,
    )  # fmt: skip
    source = "pipeline:en_tiny-1.0.0"
    assert suggested(news.project) == [
        ("Vitebsk Airport", "GPE", source), ("capital", "GPE", source), ("Route 66", "GPE", source),
    ]  # fmt: skip
    # In add mode the same entities are laid over the gazetteer and rules: the capital and the road (not
    # reading as names where no other source speaks) are left out; the airport, wider than the list's
    # city inside it, reads as a name.
    chosen.pipeline_mode = "add"
    chosen.save()
    assert suggested(news.project) == [("Vitebsk Airport", "GPE", source)]


def test_the_merge_lays_a_pipeline_over_the_others_only_in_add_mode():
    text = "Buses left the capital."
    entity = nlp.Candidate(11, 22, "GPE", "pipeline:en_tiny-1.0.0")
    replace = nlp.Merge(lay_pipeline=False)
    assert nlp.merge_candidates([entity], replace, text) == [
        nlp.FoundEntity(11, 22, "GPE", 0.5, "pipeline:en_tiny-1.0.0")
    ]
    assert nlp.merge_candidates([entity], nlp.Merge(), text) == []
