"""The upload form, and the upload handler that refuses files past the size limit while they arrive."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.files.uploadhandler import SkipFile, TemporaryFileUploadHandler
from django.http import HttpRequest

from annotator.annotations.models import SetKind
from annotator.core.errors import DomainError
from annotator.interchange.formats import FORMATS
from annotator.interchange.options import ImportOptions, OnDuplicate


def upload_too_large(request: HttpRequest) -> bool:
    """Whether the request announces a body larger than an upload may be (checked before reading it)."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    return length > settings.ANNOTATOR_IMPORT_MAX_UPLOAD_BYTES + 2**20  # room for the other form fields


class LimitedUploadHandler(TemporaryFileUploadHandler):
    """Streams uploads to a temporary file and drops any file that grows past the limit as it arrives."""

    def __init__(self, request: HttpRequest | None = None) -> None:
        super().__init__(request)
        self.refused: list[str] = []

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        if start + len(raw_data) > settings.ANNOTATOR_IMPORT_MAX_UPLOAD_BYTES:
            self.refused.append(self.file_name or "")
            self.file.close()
            raise SkipFile
        return super().receive_data_chunk(raw_data, start)


def limit_uploads(request: HttpRequest) -> LimitedUploadHandler:
    """Put the size-limited handler in charge of this request's uploads (before anything reads the body)."""
    handler = LimitedUploadHandler(request)
    request.upload_handlers = [handler]
    return handler


def too_large_message() -> str:
    return f"The file is larger than {settings.ANNOTATOR_IMPORT_MAX_UPLOAD_BYTES:,} bytes, the upload limit."


class ImportForm(forms.Form):
    file = forms.FileField(help_text="A file (plain or gzipped), or a zip archive of files.")
    format = forms.ChoiceField(choices=FORMATS.choices)
    set_kind = forms.ChoiceField(
        label="Annotations in the file go into",
        choices=[(SetKind.IMPORTED, "an imported set named below"), (SetKind.GOLD, "the gold standard")],
        initial=SetKind.IMPORTED,
        widget=forms.RadioSelect,
    )
    set_name = forms.CharField(label="Imported set name", max_length=100, initial="imported", required=False)
    on_duplicate = forms.ChoiceField(
        label="Articles already in the project (same external id, or same text)",
        choices=[
            (OnDuplicate.SKIP, "skip them"),
            (OnDuplicate.UPDATE, "update them (an edited text becomes a new revision)"),
            (OnDuplicate.ERROR, "report them as errors"),
        ],
        initial=OnDuplicate.SKIP,
    )
    curated = forms.BooleanField(
        label="Gold sets the import creates are curated (ready to train on)",
        required=False,
        help_text="With the gold standard: the project's model may learn from them at once.",
    )
    create_types = forms.BooleanField(label="Add labels the schema lacks as new types", required=False)
    dry_run = forms.BooleanField(label="Dry run: check everything, keep nothing", required=False)
    strict = forms.BooleanField(
        label="Strict: refuse the import if anything would be skipped or changed", required=False
    )
    csv_text = forms.CharField(label="Text column", required=False, max_length=200)
    csv_external_id = forms.CharField(label="External id column", required=False, max_length=200)
    csv_title = forms.CharField(label="Title column", required=False, max_length=200)
    csv_metadata = forms.CharField(
        label="Metadata columns",
        required=False,
        max_length=2000,
        help_text="Comma-separated; empty: all others.",
    )
    csv_delimiter = forms.CharField(label="Delimiter", required=False, max_length=1, strip=False)
    text_key = forms.CharField(label="Label Studio text key", required=False, max_length=200)
    doccano_text = forms.CharField(label="doccano text key", required=False, max_length=200)
    doccano_label = forms.CharField(label="doccano label key", required=False, max_length=200)
    conll_token = forms.CharField(label="CoNLL token column (from 1)", required=False, max_length=10)
    conll_tags = forms.CharField(
        label="CoNLL tag columns", required=False, max_length=50, help_text="e.g. 3,4; empty: guessed."
    )

    def format_options(self, data: dict[str, Any]) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if data["format"] == "csv":
            for role in ("text", "external_id", "title", "delimiter"):
                if value := data.get(f"csv_{role}"):
                    options[role] = value
            if columns := [c.strip() for c in data.get("csv_metadata", "").split(",") if c.strip()]:
                options["metadata"] = columns
        elif data["format"] == "labelstudio" and data.get("text_key"):
            options["text_key"] = data["text_key"]
        elif data["format"] in ("doccano", "conll"):
            prefix = data["format"]
            for key in ("text", "label") if prefix == "doccano" else ("token", "tags"):
                if value := (data.get(f"{prefix}_{key}") or "").strip():
                    options[key] = value
        return options

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        try:
            data["options"] = ImportOptions(
                format=data["format"],
                format_options=self.format_options(data),
                set_kind=data["set_kind"],
                set_name=data.get("set_name") or "",
                on_duplicate=data["on_duplicate"],
                create_types=data["create_types"],
                dry_run=data["dry_run"],
                curated=data["curated"],
                strict=data["strict"],
            )
        except DomainError as error:
            self.add_error(error.field if error.field in self.fields else None, error.message)
        return data
