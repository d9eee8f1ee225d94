"""The schema editor: managers add, change, merge and delete entity types, relation types and attributes.

Plain forms with Post/Redirect/Get. A change that would drop annotations shows the counts and asks first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms import BaseForm
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from annotator.core.http import AuthedRequest
from annotator.projects.colours import HEX_COLOUR, legibility
from annotator.projects.models import EntityType, EntityTypeAttribute, Project, RelationType
from annotator.projects.permissions import can_manage
from annotator.projects.schema_changes import delete_entity_type, entity_type_usage, merge_entity_type
from annotator.projects.schema_editing import (
    SchemaConflict,
    delete_attribute,
    delete_relation_type,
    merge_relation_type,
    relation_type_usage,
    save_attribute,
    save_entity_type,
    save_relation_type,
)
from annotator.projects.schema_forms import AttributeForm, EntityTypeForm, RelationTypeForm, RemoveTypeForm
from annotator.projects.views import get_project


def managed_project(request: AuthedRequest, project_id: int) -> Project:
    project = get_project(request, project_id)
    if not can_manage(project.my_role):
        raise PermissionDenied("Only the project's managers change its schema.")
    return project


def _refused(form: BaseForm, error: ValidationError | SchemaConflict) -> None:
    if isinstance(error, SchemaConflict):
        form.add_error(None, error.message)
    elif hasattr(error, "error_dict"):
        for field, problems in error.message_dict.items():
            form.add_error(field if field in form.fields else None, problems)
    else:
        form.add_error(None, error)


USAGE_LABELS = {
    "spans": "Spans",
    "gold_spans": "of them in gold sets",
    "relations": "Relations",
    "attribute_values": "Attribute values",
    "values": "Spans with a value",
    "suggestions": "Suggestions",
    "sets": "Annotation sets",
    "relation_types_only_this": "Relation types allowing only it at one end (deleted with it)",
}


def usage_rows(usage: dict[str, Any]) -> list[tuple[str, str]]:
    """Counts as the removal page shows them: label and value (a list of names joined, "none" when empty)."""
    return [
        (USAGE_LABELS[key], ", ".join(value) or "none" if isinstance(value, tuple) else str(value))
        for key, value in usage.items()
    ]


@require_GET
def schema(request: AuthedRequest, project_id: int) -> HttpResponse:
    project = managed_project(request, project_id)
    entity_types = list(EntityType.objects.filter(project=project).prefetch_related("attributes"))
    for entity_type in entity_types:
        # A colour written past the forms (not #rrggbb) has no contrast to measure; the page says so.
        shown = legibility(entity_type.colour) if _is_colour(entity_type.colour) else None
        entity_type.legibility = shown  # type: ignore[attr-defined]
    relation_types = RelationType.objects.filter(project=project).prefetch_related("head_types", "tail_types")
    context = {"project": project, "entity_types": entity_types, "relation_types": relation_types}
    return render(request, "projects/schema.html", context)


@require_http_methods(["GET", "POST"])
def entity_type_edit(request: AuthedRequest, project_id: int, type_id: int | None = None) -> HttpResponse:
    project = managed_project(request, project_id)
    entity_type = get_object_or_404(EntityType, project=project, pk=type_id) if type_id else None
    data = request.POST.copy() if request.method == "POST" else None
    if data is not None and (proposed := request.POST.get("use_colour")):
        data["colour"] = proposed  # "use the proposed colour" keeps the rest of the form
    # A new type goes last unless the manager says otherwise.
    position = EntityType.objects.filter(project=project).count()
    form = EntityTypeForm(data, instance=entity_type or EntityType(project=project, position=position))
    if data is not None and form.is_valid():
        try:
            saved = save_entity_type(project=project, entity_type=entity_type, values=form.cleaned_data)
        except ValidationError as error:
            _refused(form, error)
        else:
            messages.success(request, f"Saved the entity type {saved.name}.")
            return redirect("projects:schema", project.pk)
    colour = form["colour"].value() or "#ffffff"
    context = {
        "project": project,
        "form": form,
        "entity_type": entity_type,
        "legibility": legibility(colour) if _is_colour(colour) else None,
        "attributes": entity_type.attributes.all() if entity_type else [],
    }
    return render(request, "projects/schema_type.html", context, status=400 if form.errors else 200)


def _is_colour(value: Any) -> bool:
    return isinstance(value, str) and bool(HEX_COLOUR.match(value))


@require_http_methods(["GET", "POST"])
def relation_type_edit(request: AuthedRequest, project_id: int, type_id: int | None = None) -> HttpResponse:
    project = managed_project(request, project_id)
    relation_type = get_object_or_404(RelationType, project=project, pk=type_id) if type_id else None
    form = RelationTypeForm(
        request.POST if request.method == "POST" else None,
        instance=relation_type
        or RelationType(project=project, position=RelationType.objects.filter(project=project).count()),
        project=project,
    )
    conflict = None
    if request.method == "POST" and form.is_valid():
        values = {k: v for k, v in form.cleaned_data.items() if k not in ("head_types", "tail_types")}
        values.pop("remove_unfitting")
        try:
            saved = save_relation_type(
                project=project,
                relation_type=relation_type,
                values=values,
                head_types=list(form.cleaned_data["head_types"]),
                tail_types=list(form.cleaned_data["tail_types"]),
                remove_unfitting=form.cleaned_data["remove_unfitting"],
                by=request.user,
            )
        except (ValidationError, SchemaConflict) as error:
            conflict = error.count if isinstance(error, SchemaConflict) else None
            _refused(form, error)
        else:
            messages.success(request, f"Saved the relation type {saved.name}.")
            return redirect("projects:schema", project.pk)
    context = {"project": project, "form": form, "relation_type": relation_type, "conflict": conflict}
    return render(request, "projects/schema_relation.html", context, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
def attribute_edit(
    request: AuthedRequest, project_id: int, type_id: int, attribute_id: int | None = None
) -> HttpResponse:
    project = managed_project(request, project_id)
    entity_type = get_object_or_404(EntityType, project=project, pk=type_id)
    attribute = (
        get_object_or_404(EntityTypeAttribute, entity_type=entity_type, pk=attribute_id)
        if attribute_id
        else None
    )
    form = AttributeForm(
        request.POST if request.method == "POST" else None,
        instance=attribute
        or EntityTypeAttribute(entity_type=entity_type, position=entity_type.attributes.count()),
    )
    conflict = None
    if request.method == "POST" and form.is_valid():
        values = {k: form.cleaned_data[k] for k in ("name", "kind", "description", "position", "choices")}
        try:
            save_attribute(
                entity_type=entity_type,
                attribute=attribute,
                values=values,
                remove_values=form.cleaned_data["remove_values"],
                by=request.user,
            )
        except (ValidationError, SchemaConflict) as error:
            conflict = error.count if isinstance(error, SchemaConflict) else None
            _refused(form, error)
        else:
            messages.success(request, f"Saved the attribute {values['name']} of {entity_type.name}.")
            return redirect("projects:entity_type", project.pk, entity_type.pk)
    context = {
        "project": project,
        "form": form,
        "entity_type": entity_type,
        "attribute": attribute,
        "conflict": conflict,
    }
    return render(request, "projects/schema_attribute.html", context, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
def entity_type_remove(request: AuthedRequest, project_id: int, type_id: int) -> HttpResponse:
    """Show what uses the type; then merge it into another or delete it with its annotations."""
    project = managed_project(request, project_id)
    entity_type = get_object_or_404(EntityType, project=project, pk=type_id)

    def merge(into: EntityType) -> str:
        report = merge_entity_type(source=entity_type, into=into, by=request.user)
        return (
            f"Merged {entity_type.name} into {into.name}: {report.spans_moved} spans moved, "
            f"{report.duplicates_removed} duplicates folded into {into.name}'s spans."
        )

    def delete() -> str:
        usage = delete_entity_type(entity_type=entity_type, by=request.user)
        return f"Deleted {entity_type.name} and its {usage.spans} spans."

    def usage() -> dict[str, Any]:  # counted only when the page shows
        return entity_type_usage(entity_type).__dict__

    return _remove_type(request, project, entity_type, "entity type", usage, merge, delete)


@require_http_methods(["GET", "POST"])
def relation_type_remove(request: AuthedRequest, project_id: int, type_id: int) -> HttpResponse:
    """Show what uses the relation type; then merge it into another or delete it with its relations."""
    project = managed_project(request, project_id)
    relation_type = get_object_or_404(RelationType, project=project, pk=type_id)

    def merge(into: RelationType) -> str:
        moved = merge_relation_type(source=relation_type, into=into, by=request.user)
        return f"Merged {relation_type.name} into {into.name}: {moved} relations moved."

    def delete() -> str:
        usage = delete_relation_type(relation_type=relation_type, by=request.user)
        return f"Deleted {relation_type.name} and its {usage['relations']} relations."

    def usage() -> dict[str, Any]:
        return relation_type_usage(relation_type)

    return _remove_type(request, project, relation_type, "relation type", usage, merge, delete)


def _remove_type(
    request: AuthedRequest,
    project: Project,
    removed: EntityType | RelationType,
    kind: str,
    usage: Callable[[], dict[str, Any]],
    merge: Callable[[Any], str],
    delete: Callable[[], str],
) -> HttpResponse:
    """The remove page of an entity or relation type: what uses it, then a merge into another type of its
    kind or a delete; each action says what it did."""
    others = type(removed).objects.filter(project=project).exclude(pk=removed.pk)
    form = RemoveTypeForm(request.POST or None, others=others)
    if request.method == "POST" and form.is_valid():
        merging = form.cleaned_data["action"] == "merge"
        messages.success(request, merge(form.cleaned_data["into"]) if merging else delete())
        return redirect("projects:schema", project.pk)
    context = {"project": project, "form": form, "what": removed, "kind": kind, "usage": usage_rows(usage())}
    return render(request, "projects/schema_remove.html", context, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
def attribute_remove(
    request: AuthedRequest, project_id: int, type_id: int, attribute_id: int
) -> HttpResponse:
    project = managed_project(request, project_id)
    attribute = get_object_or_404(
        EntityTypeAttribute, entity_type__project=project, entity_type_id=type_id, pk=attribute_id
    )
    if request.method == "POST" and request.POST.get("confirm") == "delete":
        removed = delete_attribute(attribute=attribute, by=request.user)
        messages.success(
            request, f"Deleted the attribute {attribute.name} and {removed} spans' values of it."
        )
        return redirect("projects:entity_type", project.pk, type_id)
    context = {
        "project": project,
        "form": None,
        "what": attribute,
        "kind": "attribute",
        "usage": usage_rows({"values": attribute.values.count()}),
    }
    # A POST without the form's confirmation deletes nothing.
    return render(
        request, "projects/schema_remove.html", context, status=400 if request.method == "POST" else 200
    )
