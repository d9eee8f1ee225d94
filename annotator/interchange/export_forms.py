"""The export form: a format and the filters, checked into an ExportQuery."""

from __future__ import annotations

from typing import Any

from django import forms

from annotator.annotations.models import SetStatus
from annotator.articles.models import ArticleStatus
from annotator.core.errors import DomainError
from annotator.interchange.exports import ExportQuery, SetChoice, missing_articles
from annotator.interchange.formats import FORMATS
from annotator.projects.models import Project


class ExportForm(forms.Form):
    format = forms.ChoiceField(choices=FORMATS.export_choices, initial="jsonl")
    sets = forms.ChoiceField(
        label="Sets",
        choices=[
            (SetChoice.GOLD, "gold standard"),
            (SetChoice.ANNOTATOR, "one annotator's sets"),
            (SetChoice.ALL, "every annotator's sets"),
            (SetChoice.IMPORTED, "imported sets"),
        ],
        initial=SetChoice.GOLD,
        widget=forms.RadioSelect,
    )
    annotator = forms.ChoiceField(label="Annotator", required=False)
    set_status = forms.MultipleChoiceField(
        label="Set status", choices=SetStatus.choices, required=False, widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: any. Curated alone: only gold a curator has finished.",
    )  # fmt: skip
    article_status = forms.MultipleChoiceField(
        label="Article status", choices=ArticleStatus.choices, required=False,
        widget=forms.CheckboxSelectMultiple,
    )  # fmt: skip
    updated_since = forms.DateTimeField(
        label="Changed since", required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    guideline_version = forms.IntegerField(label="Guideline version", required=False, min_value=1)
    ids = forms.CharField(
        label="Article ids", required=False, max_length=100_000, help_text="Comma-separated; empty: all."
    )
    background = forms.BooleanField(
        label="Prepare a file in the background (a job with progress) instead of downloading now",
        required=False,
    )

    def __init__(self, *args: Any, project: Project, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.project = project
        names = project.memberships.order_by("user__username").values_list("user__username", flat=True)
        annotator = self.fields["annotator"]
        assert isinstance(annotator, forms.ChoiceField)
        annotator.choices = [("", "—"), *((name, name) for name in names)]

    def clean_ids(self) -> tuple[int, ...]:
        text = self.cleaned_data["ids"]
        try:
            ids = tuple(int(part) for part in text.replace(" ", "").split(",") if part)
        except ValueError:
            raise forms.ValidationError("Give article ids as numbers separated by commas.") from None
        if missing := missing_articles(self.project, ids):
            raise forms.ValidationError(
                f"No article with id {', '.join(map(str, missing[:20]))} in this project."
            )
        return ids

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        try:
            data["query"] = ExportQuery(
                format=data["format"], sets=data["sets"], annotator=data.get("annotator") or None,
                set_status=tuple(data["set_status"]), article_status=tuple(data["article_status"]),
                updated_since=data.get("updated_since"), guideline_version=data.get("guideline_version"),
                article_ids=data["ids"],
            )  # fmt: skip
        except DomainError as error:
            field = {"set": "sets"}.get(error.field or "", error.field)
            self.add_error(field if field in self.fields else None, error.message)
        return data
