"""Forms of the project pages. They validate; the services in services.py write."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib.auth import get_user_model

from annotator.projects.languages import LANGUAGES
from annotator.projects.models import Project, Role
from annotator.projects.presets import PRESETS, preset_schema
from annotator.projects.schema_spec import SchemaError, load_schema_text
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
                f"There is no active user named {username!r}; make them an account or invite them under Add people."
            )
        return user


SCHEMA_FILE_MAX_BYTES = 1_000_000  # a schema is a few kilobytes; anything bigger is a mistake


class NewProjectForm(forms.Form):
    """A new project: its name, language, and what its schema starts from (a preset, a project, a file)."""

    name = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    language = forms.ChoiceField(choices=LANGUAGES, initial="en")
    start = forms.ChoiceField(
        label="Start from",
        widget=forms.RadioSelect,
        initial="conll",
        choices=[
            *PRESETS.items(),
            ("copy", "A copy of another project (schema, KBs, settings, guidelines)"),
            ("file", "A schema file (YAML or JSON)"),
        ],
    )
    copy_from = forms.ModelChoiceField(
        queryset=Project.objects.none(), required=False, label="Project to copy (one you manage)"
    )
    schema_file = forms.FileField(required=False, label="Schema file")

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["copy_from"].queryset = Project.objects.filter(  # type: ignore[attr-defined]
            memberships__user=user, memberships__role=Role.MANAGER
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start = data.get("start")
        if start == "copy" and not data.get("copy_from"):
            self.add_error("copy_from", "Choose the project to copy.")
        if start == "file":
            upload = data.get("schema_file")
            if upload is None:
                self.add_error("schema_file", "Choose a schema file.")
            elif upload.size > SCHEMA_FILE_MAX_BYTES:
                self.add_error("schema_file", "A schema file is at most 1 MB.")
            else:
                try:
                    text = upload.read().decode("utf-8")
                    data["schema"] = load_schema_text(text, filename=upload.name or "")
                except UnicodeDecodeError:
                    self.add_error("schema_file", "The schema file is not UTF-8 text.")
                except SchemaError as error:
                    self.add_error("schema_file", str(error))
        elif start in PRESETS:
            data["schema"] = preset_schema(start)
        return data
