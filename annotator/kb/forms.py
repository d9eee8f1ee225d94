"""Forms of the KB pages. They validate input; the services in services.py, imports.py and mentions.py write."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.conf import settings

from annotator.core.offsets import whole_number
from annotator.kb.formats import FORMATS
from annotator.kb.models import KBEntity, KnowledgeBase


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


class EntityForm(forms.Form):
    """An entity's editable fields; aliases one per line."""

    name = forms.CharField(max_length=500)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    type = forms.ChoiceField(required=False)
    prior = forms.FloatField(min_value=0, max_value=1, initial=0.0, help_text="Popularity, from 0 to 1.")
    aliases = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 5}), help_text="One name per line."
    )

    def __init__(self, *args: Any, type_names: list[str], current_type: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        names = list(dict.fromkeys([*type_names, *([current_type] if current_type else [])]))
        cast(forms.ChoiceField, self.fields["type"]).choices = [
            ("", "(none)"),
            *((name, name) for name in names),
        ]

    def clean_aliases(self) -> list[str]:
        return _lines(self.cleaned_data["aliases"])


class NewEntityForm(EntityForm):
    """A new entity: also which knowledge base, and an optional id (made from the name when blank)."""

    knowledge_base = forms.ModelChoiceField(
        queryset=KnowledgeBase.objects.none(),
        empty_label=None,
        help_text="A project without one gets a knowledge base for the entities its people add.",
    )
    kb_id = forms.CharField(
        label="Id", max_length=255, required=False, help_text="Leave blank to make one from the name."
    )
    field_order = ["knowledge_base", "name", "kb_id", "type", "description", "prior", "aliases"]

    def __init__(self, *args: Any, project_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        knowledge_bases = KnowledgeBase.objects.filter(project_id=project_id)
        cast(forms.ModelChoiceField, self.fields["knowledge_base"]).queryset = knowledge_bases
        if not knowledge_bases.exists():
            self.fields["knowledge_base"].required = False
            self.fields["knowledge_base"].widget = forms.HiddenInput()


class IdListField(forms.Field):
    """Several ids under one name (checkboxes). Which of them the user may touch is the view's business."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[int]:
        values = value or []
        ids = [whole_number(str(item)) for item in values]
        if None in ids:
            raise forms.ValidationError("These are not ids.")
        return list(dict.fromkeys(ids))  # type: ignore[arg-type]  # no None left


class LinkMentionsForm(forms.Form):
    """The entity page's bulk action: which spans, and link them here, to another entity, or NIL."""

    ACTIONS = [("link", "Link to this entity"), ("relink", "Link to another entity"), ("nil", "Mark NIL")]
    spans = IdListField(error_messages={"required": "Select mentions first."})
    action = forms.ChoiceField(choices=ACTIONS)
    target = forms.IntegerField(required=False)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("action") == "relink" and not cleaned.get("target"):
            self.add_error("target", "Choose the entity to link to.")
        return cleaned

    def versions(self) -> dict[int, int]:
        """{set id: version} from the `version-<set id>` fields the page carries for each set it shows."""
        found = {}
        for key in self.data:
            set_id = key.removeprefix("version-")
            value = self.data.get(key, "")
            pk, version = whole_number(set_id), whole_number(value)
            if key.startswith("version-") and pk is not None and version is not None:
                found[pk] = version
        return found


class MergeForm(forms.Form):
    duplicate = forms.IntegerField(
        error_messages={"required": "Choose the duplicate to merge into this entity."}
    )


class ImportForm(forms.Form):
    """Upload a KB file into an existing knowledge base or a new one."""

    file = forms.FileField(help_text="JSONL, CSV or a Wikidata JSON dump; .gz and .bz2 are read as they are.")
    knowledge_base = forms.ModelChoiceField(
        queryset=KnowledgeBase.objects.none(), required=False, empty_label="A new knowledge base, named below"
    )
    new_name = forms.CharField(label="New knowledge base", max_length=200, required=False)
    format = forms.ChoiceField(
        choices=[("auto", "Tell from the file"), *((name, reader.label) for name, reader in FORMATS.items())]
    )
    languages = forms.CharField(
        initial="en", max_length=200, help_text="Wikidata: labels kept in these languages, in this order."
    )

    def __init__(self, *args: Any, project_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["knowledge_base"]).queryset = KnowledgeBase.objects.filter(
            project_id=project_id
        )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        limit = settings.ANNOTATOR_KB_UPLOAD_MAX_MB * 1024 * 1024
        if upload.size > limit:
            raise forms.ValidationError(
                f"The file is larger than {settings.ANNOTATOR_KB_UPLOAD_MAX_MB} MB; import it with "
                "`manage.py import_kb` instead."
            )
        return upload

    def clean_languages(self) -> list[str]:
        codes = [
            code.strip()
            for code in self.cleaned_data["languages"].replace(" ", ",").split(",")
            if code.strip()
        ]
        if not codes or any(len(code) > 16 for code in codes):
            raise forms.ValidationError("Give language codes separated by commas, e.g. en, ru.")
        return codes

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not cleaned.get("knowledge_base") and not (cleaned.get("new_name") or "").strip():
            self.add_error("new_name", "Name the new knowledge base, or choose an existing one.")
        return cleaned


def type_names(project_id: int) -> list[str]:
    from annotator.projects.models import EntityType

    return list(EntityType.objects.filter(project_id=project_id).values_list("name", flat=True))


def entity_initial(entity: KBEntity) -> dict[str, Any]:
    return {
        "name": entity.name,
        "description": entity.description,
        "type": entity.type,
        "prior": entity.prior,
        "aliases": "\n".join(sorted({alias.text for alias in entity.aliases.all()} - {entity.name})),
    }
