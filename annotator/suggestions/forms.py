"""The Suggesters page's forms: they validate; `configuring.change_suggester_settings` saves."""

from __future__ import annotations

from typing import Any

from django import forms

from annotator.suggestions import labels
from annotator.suggestions.configuring import NONE, SITE, SettingsChange
from annotator.suggestions.models import PipelineMode, SuggesterSettings
from annotator.suggestions.nlp import InstalledPipeline

DROP = "-"  # the label-map choice that drops a label (an empty value would read as "not sent")


class PipelineForm(forms.Form):
    pipeline = forms.ChoiceField(label="Pretrained pipeline")
    mode = forms.ChoiceField(
        label="Mode",
        choices=[("", "The site's default"), *PipelineMode.choices],
        required=False,
        help_text="Add: the pipeline's entities join the gazetteer's and the rules'; the merge decides. "
        "Replace: the pipeline alone.",
    )

    def __init__(self, *args: Any, pipelines: list[InstalledPipeline], site: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        site_label = f"The site's default ({site})" if site else "The site's default (none)"
        field: Any = self.fields["pipeline"]
        field.choices = [
            (SITE, site_label),
            (NONE, "None: the gazetteer and rules (and the project's own model)"),
            *((p.ref, f"{p.title} ({p.kind}, {p.lang}, {len(p.labels)} labels)") for p in pipelines),
        ]

    @staticmethod
    def initial_for(chosen: SuggesterSettings) -> dict[str, str]:
        return {
            "pipeline": SITE if chosen.use_site_pipeline else chosen.pipeline,
            "mode": chosen.pipeline_mode,
        }

    def change(self) -> SettingsChange:
        return SettingsChange(pipeline=self.cleaned_data["pipeline"], mode=self.cleaned_data["mode"])


class LabelMapForm(forms.Form):
    """One choice per label a source speaks: a project type, or dropped."""

    def __init__(
        self,
        *args: Any,
        spoken: dict[str, list[str]],
        types: list[str],
        current: dict[str, str],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.rows: list[dict[str, Any]] = []
        for index, (label, speakers) in enumerate(spoken.items()):
            default = labels.default_target(label, types)
            choices = [(DROP, "(dropped)"), *((t, t) for t in types)]
            name = f"label_{index}"
            self.fields[name] = forms.ChoiceField(
                label=label,
                choices=choices,
                initial=current.get(label) or DROP,
                required=True,
                widget=forms.Select(attrs={"aria-label": f"{label} becomes"}),
            )
            self.rows.append(
                {"label": label, "speakers": speakers, "default": default or "(dropped)", "field": name}
            )

    def change(self) -> SettingsChange:
        chosen = {}
        for row in self.rows:
            value = self.cleaned_data[row["field"]]
            chosen[row["label"]] = "" if value == DROP else value
        return SettingsChange(label_map=chosen)

    def bound_rows(self) -> list[dict[str, Any]]:
        return [{**row, "bound": self[row["field"]]} for row in self.rows]


class LearningForm(forms.ModelForm[SuggesterSettings]):
    class Meta:
        model = SuggesterSettings
        fields = ["learn", "learn_after", "retrain_every", "folds"]
        labels = {
            "learn": "Learn by itself",
            "learn_after": "First training after (annotated articles)",
            "retrain_every": "Then again after every (newly annotated articles)",
            "folds": "Cross-validation folds",
        }
        widgets = {
            "learn_after": forms.NumberInput(attrs={"min": 2}),
            "retrain_every": forms.NumberInput(attrs={"min": 1}),
            "folds": forms.NumberInput(attrs={"min": 2, "max": 10}),
        }

    def change(self) -> SettingsChange:
        data = self.cleaned_data
        return SettingsChange(
            learn=data["learn"],
            learn_after=data["learn_after"],
            retrain_every=data["retrain_every"],
            folds=data["folds"],
        )
