"""The page that starts a project: name, language, and a preset, a copy or a schema file to start from."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from annotator.core.http import AuthedRequest
from annotator.projects.creation import create_project
from annotator.projects.forms import NewProjectForm
from annotator.projects.permissions import can_create_projects


@require_http_methods(["GET", "POST"])
def project_create(request: AuthedRequest) -> HttpResponse:
    if not can_create_projects(request.user):
        raise PermissionDenied("Only staff create projects on this site; ask an admin.")
    form = NewProjectForm(request.POST or None, request.FILES or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            project = create_project(
                name=data["name"],
                description=data["description"],
                language=data["language"],
                schema=data.get("schema"),
                copy_from=data["copy_from"] if data["start"] == "copy" else None,
                by=request.user,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "Project created: you are its manager.")
            return redirect(project)
    status = 400 if form.errors else 200
    return render(request, "projects/project_create.html", {"form": form}, status=status)
