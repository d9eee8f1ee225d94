"""The page where managers archive, unarchive, back up and delete their project."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from annotator.core.http import AuthedRequest
from annotator.projects.models import Project
from annotator.projects.permissions import can_manage
from annotator.projects.views import get_project
from annotator.review.lifecycle import (
    ConfirmationMismatch,
    archive_project,
    delete_project,
    unarchive_project,
)


class DeleteForm(forms.Form):
    confirm = forms.CharField(max_length=100, label="Type the project's short name to confirm")


def _managed(request: AuthedRequest, project_id: int) -> Project:
    project = get_project(request, project_id)
    if not can_manage(project.my_role):
        raise PermissionDenied("Only the project's managers archive or delete it.")
    return project


@require_http_methods(["GET", "POST"])
def lifecycle_page(request: AuthedRequest, project_id: int) -> HttpResponse:
    project = _managed(request, project_id)
    form = DeleteForm()
    action = request.POST.get("action", "")
    if action == "archive":
        archive_project(project=project)
        messages.success(request, "The project is archived: read-only, and out of everyone's queue.")
        return redirect("lifecycle:page", project.pk)
    if action == "unarchive":
        unarchive_project(project=project)
        messages.success(request, "The project is open again.")
        return redirect("lifecycle:page", project.pk)
    if action == "delete":
        form = DeleteForm(request.POST)
        if form.is_valid():
            try:
                job = delete_project(project=project, confirm=form.cleaned_data["confirm"], by=request.user)
            except ConfirmationMismatch as error:
                form.add_error("confirm", error.message)
            else:
                if job is None:
                    messages.success(request, "The project is deleted, with everything in it.")
                else:
                    messages.success(request, "The project is archived and being deleted in the background.")
                return redirect("projects:list")
    status = 400 if form.errors or (request.method == "POST" and not action) else 200
    return render(request, "review/lifecycle.html", {"project": project, "form": form}, status=status)
