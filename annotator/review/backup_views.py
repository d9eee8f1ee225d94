"""Backups on the pages: managers download their project's; staff restore one into a new project."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from annotator.core.http import AuthedRequest
from annotator.interchange.backup import BackupError, backup_response, restore_backup
from annotator.projects.permissions import can_manage
from annotator.projects.views import get_project


@require_GET
def backup_page(request: AuthedRequest, project_id: int) -> HttpResponse:
    project = get_project(request, project_id)
    if not can_manage(project.my_role):
        raise PermissionDenied("Only the project's managers download its backup.")
    return backup_response(project)  # type: ignore[return-value]


class RestoreForm(forms.Form):
    file = forms.FileField(label="Backup file (.jsonl.gz)")
    slug = forms.SlugField(max_length=100, label="Short name of the new project")


@require_http_methods(["GET", "POST"])
def restore_page(request: AuthedRequest) -> HttpResponse:
    """Staff make a new project from a backup (who may create projects is the site's call)."""
    if not request.user.is_staff:
        raise PermissionDenied("Only staff restore backups.")
    form = RestoreForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            project = restore_backup(
                form.cleaned_data["file"], slug=form.cleaned_data["slug"], by=request.user
            )
        except BackupError as error:
            form.add_error("slug" if error.field == "slug" else "file", error.message)
        else:
            messages.success(request, "The backup is restored into this new project.")
            return redirect(project.get_absolute_url())
    return render(request, "review/restore.html", {"form": form}, status=400 if form.errors else 200)
