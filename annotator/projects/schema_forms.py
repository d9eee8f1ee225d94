"""Forms of the schema editor. They validate; schema_editing.py and schema_changes.py write."""

from __future__ import annotations

from typing import Any

from django import forms

from annotator.projects.models import AttributeKind, EntityType, EntityTypeAttribute, Project, RelationType


class EntityTypeForm(forms.ModelForm[EntityType]):
    class Meta:
        model = EntityType
        fields = ["name", "key", "colour", "description", "position"]
        widgets = {
            "colour": forms.TextInput(attrs={"type": "color"}),
            "description": forms.Textarea(attrs={"rows": 3}),
        }
        help_texts = {"position": "Types are listed (and offered) in this order."}

    def validate_unique(self) -> None:
        """The service checks names and keys (keys without case) and says which one clashes."""


class RelationTypeForm(forms.ModelForm[RelationType]):
    remove_unfitting = forms.BooleanField(
        required=False, label="Delete the relations that the new head and tail types leave out"
    )

    class Meta:
        model = RelationType
        fields = ["name", "directed", "head_types", "tail_types", "key", "description", "position"]
        widgets = {
            "head_types": forms.CheckboxSelectMultiple,
            "tail_types": forms.CheckboxSelectMultiple,
            "description": forms.Textarea(attrs={"rows": 3}),
        }
        labels = {"directed": "Directed (from head to tail); off: symmetric"}

    def __init__(self, *args: Any, project: Project, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("head_types", "tail_types"):
            self.fields[name].queryset = EntityType.objects.filter(project=project)  # type: ignore[attr-defined]

    def validate_unique(self) -> None:
        """As for entity types: the service checks names and keys."""


class AttributeForm(forms.ModelForm[EntityTypeAttribute]):
    choices = forms.CharField(
        required=False,
        label="Values (one per line)",
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Only for one-of-a-list attributes.",
    )
    remove_values = forms.BooleanField(
        required=False, label="Delete the spans' values that the attribute would no longer take"
    )

    class Meta:
        model = EntityTypeAttribute
        fields = ["name", "kind", "choices", "description", "position"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial["choices"] = "\n".join(self.instance.choices or [])

    def clean_choices(self) -> list[str]:
        """One value a line; a kind other than one-of-a-list has none."""
        if self.cleaned_data.get("kind") != AttributeKind.CHOICE:
            return []
        return [line.strip() for line in self.cleaned_data["choices"].splitlines() if line.strip()]

    def validate_unique(self) -> None:
        """Unique per entity type: checked by the database constraint through the service's full_clean."""


class RemoveTypeForm(forms.Form):
    """Delete a type that annotations use, or merge it into another type of the project first."""

    action = forms.ChoiceField(
        choices=[("merge", "Merge into another type"), ("delete", "Delete it and its annotations")],
        widget=forms.RadioSelect,
    )
    into = forms.ModelChoiceField(queryset=EntityType.objects.none(), required=False, label="Merge into")

    def __init__(self, *args: Any, others: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["into"].queryset = others  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("action") == "merge" and not data.get("into"):
            self.add_error("into", "Choose the type to merge into.")
        return data
