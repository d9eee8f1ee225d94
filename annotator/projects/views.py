"""Project pages: the list of my projects, a project's dashboard, its guidelines."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from annotator.annotations.status import with_status
from annotator.articles.models import Article, ArticleStatus
from annotator.core.http import AuthedRequest
from annotator.core.offsets import whole_number
from annotator.projects.colours import HEX_COLOUR, edge_colour_for, text_colour_for
from annotator.projects.forms import MemberForm, ProjectSettingsForm
from annotator.projects.models import EntityType, GuidelineVersion, Membership, Project, RelationType, Role
from annotator.projects.permissions import can_create_projects, can_curate, can_manage
from annotator.projects.services import (
    LastManager,
    add_member,
    change_settings,
    remove_member,
    update_guidelines,
)
from annotator.review.queue import queue_size
from annotator.review.reports import acceptance_by_label

ARTICLES_PER_PAGE = 50


def get_project(request: AuthedRequest, project_id: int) -> Project:
    """The project with the user's role as `my_role`; a 404 for anyone who is not a member."""
    return get_object_or_404(
        Project.objects.visible_to(request.user).with_role_of(request.user), pk=project_id
    )


@require_GET
def project_list(request: AuthedRequest) -> HttpResponse:
    projects = (
        Project.objects.visible_to(request.user)
        .with_role_of(request.user)
        .annotate(article_count=Count("articles", distinct=True))
    )
    return render(
        request,
        "projects/project_list.html",
        {"projects": projects, "can_create": can_create_projects(request.user)},
    )


@require_GET
def project_detail(request: AuthedRequest, project_id: int) -> HttpResponse:
    project = get_project(request, project_id)
    articles = with_status(Article.objects.filter(project=project))
    # `status` is an annotation of with_status(), which the type checker cannot see.
    counts = dict(articles.order_by().values_list("status").annotate(n=Count("pk")))  # type: ignore[misc]
    status_filter = request.GET.get("status", "")
    if status_filter in ArticleStatus.values:
        articles = articles.filter(status=status_filter)  # type: ignore[misc]
    if query := request.GET.get("q", "").strip():
        articles = articles.filter(Q(title__icontains=query) | Q(external_id__icontains=query))
    page = Paginator(articles.only("pk", "title", "external_id", "project_id"), ARTICLES_PER_PAGE).get_page(
        request.GET.get("page")
    )
    context = {
        "project": project,
        "page": page,
        "status_counts": [(status, counts.get(status.value, 0)) for status in ArticleStatus],
        "total": sum(counts.values()),
        "status_filter": status_filter,
        "query": query,
        "entity_types": project.entity_types.all(),
        "relation_types": RelationType.objects.filter(project=project).prefetch_related(
            "head_types", "tail_types"
        ),
        "guidelines": GuidelineVersion.objects.filter(project=project).order_by("-number").first(),
        "members": Membership.objects.filter(project=project).select_related("user")
        if can_manage(project.my_role)
        else None,
        "queue_size": queue_size(project=project, user=request.user),
        "can_curate": can_curate(project.my_role),
        "acceptance": acceptance_by_label(project_id=project.pk),
    }
    return render(request, "projects/project_detail.html", context)


@require_GET
def schema_css(request: AuthedRequest, project_id: int) -> HttpResponse:
    """Colours of the project's entity types as CSS classes (`.et-<id>`), so pages need no inline styles."""
    project = get_project(request, project_id)
    rules = []
    for pk, colour in EntityType.objects.filter(project=project).values_list("pk", "colour"):
        if HEX_COLOUR.match(colour):  # never trust a colour into CSS unchecked
            rules.append(
                f".et-{pk} {{ --entity-colour: {colour}; --entity-text: {text_colour_for(colour)}; "
                f"--entity-edge: {edge_colour_for(colour)}; }}"
            )
    response = HttpResponse("\n".join(rules) + "\n", content_type="text/css; charset=utf-8")
    response["Cache-Control"] = "private, no-cache"
    return response


@require_GET
def guidelines(request: AuthedRequest, project_id: int) -> HttpResponse:
    project = get_project(request, project_id)
    versions = (
        GuidelineVersion.objects.filter(project=project).select_related("created_by").order_by("-number")
    )
    number = whole_number(request.GET.get("version", ""))
    shown = versions.filter(number=number).first() if number is not None else versions.first()
    return render(
        request,
        "projects/guidelines.html",
        {
            "project": project,
            "shown": shown,
            "versions": versions.defer("text"),
            "can_edit": can_manage(project.my_role),
        },
    )


@require_http_methods(["GET", "POST"])
def project_settings(request: AuthedRequest, project_id: int) -> HttpResponse:
    """How articles are handed out and curated: every member reads them, managers change them."""
    project = get_project(request, project_id)
    manager = can_manage(project.my_role)
    if request.method == "POST":
        if not manager:
            raise PermissionDenied("Only the project's managers change its settings.")
        form = ProjectSettingsForm(request.POST, instance=Project.objects.get(pk=project.pk))
        if form.is_valid():
            change_settings(project=project, values=form.cleaned_data)
            messages.success(request, "Settings saved.")
            return redirect("projects:settings", project.pk)
    else:
        form = ProjectSettingsForm(instance=project)
    if not manager:
        for field in form.fields.values():
            field.disabled = True
    return render(
        request, "projects/settings.html", {"project": project, "form": form, "can_manage": manager}
    )


@require_http_methods(["GET", "POST"])
def members(request: AuthedRequest, project_id: int) -> HttpResponse:
    """Who is in the project with which role: managers add people, change roles and remove members."""
    project = get_project(request, project_id)
    if not can_manage(project.my_role):
        raise PermissionDenied("Only the project's managers manage its members.")
    form = MemberForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user, role = form.cleaned_data["username"], form.cleaned_data["role"]
        try:
            if request.POST.get("remove") == "1":
                remove_member(project=project, user=user)
                messages.success(request, f"{user.get_username()} is no longer a member.")
            else:
                add_member(project=project, user=user, role=role)
                messages.success(request, f"{user.get_username()} is now {role}.")
        except LastManager as error:
            messages.error(request, str(error))
        return redirect("projects:members", project.pk)
    people = Membership.objects.filter(project=project).select_related("user").order_by("user__username")
    context = {"project": project, "form": form, "people": people, "roles": Role.choices}
    return render(request, "projects/members.html", context, status=400 if form.errors else 200)


GUIDELINES_MAX_CHARS = 200_000  # a long handbook fits; a pasted corpus does not


@require_http_methods(["GET", "POST"])
def guidelines_edit(request: AuthedRequest, project_id: int) -> HttpResponse:
    """Managers write the guidelines in Markdown, preview them, and save each change as a new version."""
    project = get_project(request, project_id)
    if not can_manage(project.my_role):
        raise PermissionDenied("Only the project's managers edit its guidelines.")
    latest = GuidelineVersion.objects.filter(project=project).order_by("-number").first()
    text = request.POST.get("text", latest.text if latest else "")
    problem = ""
    if len(text) > GUIDELINES_MAX_CHARS:
        problem = f"The guidelines are at most {GUIDELINES_MAX_CHARS:,} characters."
    elif request.method == "POST" and request.POST.get("action") == "save":
        saved = update_guidelines(project=project, text=text, by=request.user)
        if latest is not None and saved.pk == latest.pk:
            messages.info(request, f"Nothing changed: the guidelines stay at version {saved.number}.")
        else:
            messages.success(request, f"Saved as version {saved.number}.")
        return redirect("projects:guidelines", project.pk)
    context = {"project": project, "text": text, "latest": latest, "problem": problem}
    return render(request, "projects/guidelines_edit.html", context, status=400 if problem else 200)
