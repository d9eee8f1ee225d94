"""Forms of the project pages. They validate; the services in services.py write."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django import forms
from django.contrib.auth import get_user_model

from annotator.projects.models import Project, Role
from annotator.projects.services import SETTINGS

if TYPE_CHECKING:
    from django.contrib.auth.models import User


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
            "trim_span_whitespace": "Trim white space at the edges of spans (instead of refusing them)",
        }


class MemberForm(forms.Form):
    """A person to add to the project (by the username an admin gave them), or a new role for a member."""

    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=Role.choices)

    def clean_username(self) -> User:
        username = self.cleaned_data["username"].strip()
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise forms.ValidationError(
                f"There is no active user named {username!r}; an admin creates accounts."
            )
        return user
