"""Forms of the project pages. They validate; the services in services.py write."""

from __future__ import annotations

from django import forms

from annotator.projects.models import Project
from annotator.projects.services import SETTINGS


class ProjectSettingsForm(forms.ModelForm[Project]):
    """How articles are handed out and curated. The model's constraints are checked on validation."""

    class Meta:
        model = Project
        fields = list(SETTINGS)
        labels = {
            "annotators_per_article": "Annotators per article",
            "assignment_strategy": "Hand out articles",
            "blind": "Blind annotation",
            "abandon_after_minutes": "Release an untouched article after (minutes)",
            "promote_to_gold": "Promote submitted sets to gold automatically",
        }
