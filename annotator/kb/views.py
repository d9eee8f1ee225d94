"""KB pages: browse and search a KB, one entity with its mentions, edit, create, merge, import (a live job)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from annotator.annotations.models import Span
from annotator.annotations.permissions import can_edit_set
from annotator.core.errors import DomainError
from annotator.core.http import AuthedRequest
from annotator.core.offsets import whole_number
from annotator.jobs.models import Job, JobKind
from annotator.jobs.services import cancel_from_page
from annotator.kb.forms import (
    EntityForm,
    ImportForm,
    LinkMentionsForm,
    MergeForm,
    NewEntityForm,
    entity_initial,
    type_names,
)
from annotator.kb.imports import start_kb_import, upload_path
from annotator.kb.mentions import (
    LinkOutcome,
    link_mentions,
    linked_mentions,
    unlinked_mentions,
    visible_spans,
)
from annotator.kb.models import KBEntity, KnowledgeBase
from annotator.kb.search import find_candidates, search_entities
from annotator.kb.services import (
    InvalidEntity,
    create_entity,
    create_knowledge_base,
    default_knowledge_base,
    merge_entities,
    update_entity,
)
from annotator.projects.models import Project
from annotator.projects.permissions import can_annotate, can_manage
from annotator.projects.views import get_project

ENTITIES_PER_PAGE = 50
MENTIONS_PER_PAGE = 100


def _entity(project: Project, entity_id: int) -> KBEntity:
    """The entity, if it is in one of the project's knowledge bases; a 404 otherwise."""
    return get_object_or_404(
        KBEntity.objects.in_project(project.pk).select_related("knowledge_base", "merged_into"), pk=entity_id
    )


def _form_error(form: Any, error: DomainError) -> None:
    form.add_error(error.field if error.field in form.fields else None, error.message)


# Browse and search


def _chosen_kb(knowledge_bases: list[KnowledgeBase], wanted: str | None) -> KnowledgeBase | None:
    chosen = next((kb for kb in knowledge_bases if str(kb.pk) == wanted), None)
    return chosen or (knowledge_bases[0] if knowledge_bases else None)


def _browse(knowledge_base: KnowledgeBase, after: str | None) -> tuple[list[KBEntity], int | None]:
    """One page of the KB by name, after the entity `after` (keyset paging: deep pages cost the same)."""
    entities: QuerySet[KBEntity] = KBEntity.objects.active().filter(knowledge_base=knowledge_base)
    after_pk = whole_number(after or "")
    last = entities.filter(pk=after_pk).values_list("name", "pk").first() if after_pk is not None else None
    if last is not None:
        entities = entities.filter(name__gte=last[0]).filter(Q(name__gt=last[0]) | Q(pk__gt=last[1]))
    page = list(entities.order_by("name", "pk").prefetch_related("aliases")[: ENTITIES_PER_PAGE + 1])
    return page[:ENTITIES_PER_PAGE], (
        page[ENTITIES_PER_PAGE - 1].pk if len(page) > ENTITIES_PER_PAGE else None
    )


@require_GET
def kb_list(request: AuthedRequest, project_id: int) -> HttpResponse:
    project = get_project(request, project_id)
    knowledge_bases = list(KnowledgeBase.objects.filter(project=project))
    current = _chosen_kb(knowledge_bases, request.GET.get("kb"))
    query = request.GET.get("q", "").strip()
    entities: list[KBEntity] = []
    next_after = None
    if current is not None and query:
        entities = search_entities(knowledge_base_id=current.pk, query=query, limit=ENTITIES_PER_PAGE)
    elif current is not None:
        entities, next_after = _browse(current, request.GET.get("after"))
    context = {
        "project": project, "knowledge_bases": knowledge_bases, "current": current, "query": query,
        "entities": entities, "next_after": next_after, "after": request.GET.get("after", ""),
        "can_manage": can_manage(project.my_role),
    }  # fmt: skip
    template = "kb/kb_list.html#entity-list" if request.htmx else "kb/kb_list.html"
    return render(request, template, context)


# One entity and its mentions


def _link_selected(
    request: AuthedRequest, project: Project, entity: KBEntity, form: LinkMentionsForm
) -> tuple[LinkOutcome, KBEntity | None]:
    """Resolve the form's ids within what this member can see (else 404), then link them all at once."""
    ids = form.cleaned_data["spans"]
    spans = list(
        visible_spans(project_id=project.pk, user=request.user, role=project.my_role)
        .filter(pk__in=ids)
        .select_related("annotation_set__article", "annotation_set__annotator")
        .defer("annotation_set__article__text")
    )
    if len(spans) != len(ids):
        raise Http404("No such mention.")
    target: KBEntity | None = {"link": entity, "nil": None}.get(form.cleaned_data["action"])
    if form.cleaned_data["action"] == "relink":
        target = get_object_or_404(KBEntity.objects.in_project(project.pk), pk=form.cleaned_data["target"])
    outcome = link_mentions(
        spans=spans, kb_entity=target, versions=form.versions(), by=request.user, role=project.my_role
    )
    return outcome, target


def _linked_message(outcome: LinkOutcome, action: str, target_name: str) -> str:
    what = "marked NIL" if action == "nil" else f"linked to {target_name}"
    noun = "mention" if outcome.changed == 1 else "mentions"
    message = f"{outcome.changed} {noun} {what}, in {outcome.sets} annotation set{'s' if outcome.sets != 1 else ''}."
    if outcome.unchanged:
        message += f" {outcome.unchanged} already were."
    return message


def _mentions_context(request: AuthedRequest, project: Project, entity: KBEntity) -> dict[str, Any]:
    spans = visible_spans(project_id=project.pk, user=request.user, role=project.my_role)
    linked = Paginator(linked_mentions(entity, spans), MENTIONS_PER_PAGE).get_page(request.GET.get("page"))
    unlinked = unlinked_mentions(entity, spans)
    shown: list[Span] = [*linked.object_list, *unlinked]
    sets = {span.annotation_set_id: span.annotation_set for span in shown}
    editable = {
        pk for pk, s in sets.items() if s.is_editable and can_edit_set(request.user, project.my_role, s)
    }
    aliases = entity.aliases.exclude(text=entity.name).order_by("text", "language")
    return {
        "project": project, "entity": entity, "aliases": aliases,
        "merged_from": entity.merged_from.order_by("name"), "linked": linked, "unlinked": unlinked,
        "versions": sorted((pk, s.version) for pk, s in sets.items()), "editable": editable,
        "can_manage": can_manage(project.my_role),
    }  # fmt: skip


@require_http_methods(["GET", "POST"])
def entity_detail(request: AuthedRequest, project_id: int, entity_id: int) -> HttpResponse:
    project = get_project(request, project_id)
    entity = _entity(project, entity_id)
    form = LinkMentionsForm(request.POST or None)
    status = 400 if form.is_bound and not form.is_valid() else 200
    if request.method == "POST" and form.is_valid():
        try:
            outcome, target = _link_selected(request, project, entity, form)
        except DomainError as refusal:
            form.add_error(None, refusal.message)
            status = 409
        else:
            name = target.name if target is not None else ""
            messages.success(request, _linked_message(outcome, form.cleaned_data["action"], name))
            return redirect(request.get_full_path())
    context = {**_mentions_context(request, project, entity), "form": form}
    return render(request, "kb/entity_detail.html", context, status=status)


# Edit, create, merge


@require_http_methods(["GET", "POST"])
def entity_edit(request: AuthedRequest, project_id: int, entity_id: int) -> HttpResponse:
    project = get_project(request, project_id)
    entity = _entity(project, entity_id)
    if request.method == "POST" and not can_manage(project.my_role):
        raise PermissionDenied("Only the project's managers edit its knowledge bases.")
    form = EntityForm(
        request.POST or None,
        initial=entity_initial(entity),
        type_names=type_names(project.pk),
        current_type=entity.type,
    )
    if request.method == "POST" and form.is_valid():
        try:
            update_entity(entity=entity, **form.cleaned_data)
        except InvalidEntity as error:
            _form_error(form, error)
        else:
            messages.success(request, f"Saved {entity.name}.")
            return redirect("kb:entity", project.pk, entity.pk)
    context = {"project": project, "entity": entity, "form": form, "can_manage": can_manage(project.my_role)}
    return render(request, "kb/entity_edit.html", context, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
def entity_create(request: AuthedRequest, project_id: int) -> HttpResponse:
    project = get_project(request, project_id)
    if request.method == "POST" and not can_annotate(project.my_role):
        raise PermissionDenied
    form = NewEntityForm(
        request.POST or None, initial={"name": request.GET.get("name", "")}, type_names=type_names(project.pk),
        project_id=project.pk,
    )  # fmt: skip
    if request.method == "POST" and form.is_valid():
        try:
            fields = {
                **form.cleaned_data,
                "knowledge_base": form.cleaned_data["knowledge_base"] or default_knowledge_base(project),
            }
            entity = create_entity(by=request.user, **fields)
        except InvalidEntity as error:
            _form_error(form, error)
        else:
            messages.success(request, f"Created {entity.name} ({entity.kb_id}).")
            return redirect("kb:entity", project.pk, entity.pk)
    return render(
        request,
        "kb/entity_create.html",
        {"project": project, "form": form},
        status=400 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
def entity_merge(request: AuthedRequest, project_id: int, entity_id: int) -> HttpResponse:
    project = get_project(request, project_id)
    entity = _entity(project, entity_id)
    if request.method == "POST" and not can_manage(project.my_role):
        raise PermissionDenied("Only the project's managers merge entities.")
    form = MergeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        duplicate = get_object_or_404(
            KBEntity.objects.in_project(project.pk), pk=form.cleaned_data["duplicate"]
        )
        try:
            report = merge_entities(duplicate=duplicate, into=entity, by=request.user)
        except InvalidEntity as error:
            form.add_error(None, error.message)
        else:
            messages.success(
                request,
                f"Merged {duplicate.name} ({duplicate.kb_id}) into {entity.name}: {report.links_moved} links and "
                f"{report.aliases_moved} aliases moved, {report.sets_changed} annotation sets changed.",
            )
            return redirect("kb:entity", project.pk, entity.pk)
    look_alikes = [
        c
        for c in find_candidates(project_id=project.pk, mention=entity.name, limit=11)
        if c.entity_id != entity.pk
    ]
    context = {"project": project, "entity": entity, "form": form, "look_alikes": look_alikes[:10],
               "can_manage": can_manage(project.my_role)}  # fmt: skip
    return render(request, "kb/entity_merge.html", context, status=400 if form.errors else 200)


@require_GET
def entity_picker(request: AuthedRequest, project_id: int) -> HttpResponse:
    """Candidates for a typed name, as radio buttons named `field`: the relink and merge forms' picker."""
    project = get_project(request, project_id)
    query = request.GET.get("q", "")
    field = "duplicate" if request.GET.get("field") == "duplicate" else "target"
    exclude = request.GET.get("exclude", "")
    candidates = [
        c for c in find_candidates(project_id=project.pk, mention=query) if str(c.entity_id) != exclude
    ]
    return render(
        request, "kb/entity_picker.html", {"candidates": candidates, "field": field, "query": query}
    )


# Import


def _start_upload(request: AuthedRequest, project: Project, form: ImportForm) -> Job:
    data = form.cleaned_data
    knowledge_base = data["knowledge_base"] or create_knowledge_base(
        project=project, name=data["new_name"], languages=data["languages"]
    )
    new = data["knowledge_base"] is None
    upload = data["file"]
    path = upload_path(upload.name)
    with path.open("wb") as destination:
        for chunk in upload.chunks():
            destination.write(chunk)
    return start_kb_import(
        knowledge_base=knowledge_base, path=path, file_label=path.name, by=request.user, format=data["format"],
        languages=data["languages"], uploaded=True, new_knowledge_base=new,
    )  # fmt: skip


@require_http_methods(["GET", "POST"])
def kb_import(request: AuthedRequest, project_id: int) -> HttpResponse:
    project = get_project(request, project_id)
    if request.method == "POST" and not can_manage(project.my_role):
        raise PermissionDenied("Only the project's managers import knowledge bases.")
    form = ImportForm(request.POST or None, request.FILES or None, project_id=project.pk)
    if request.method == "POST" and form.is_valid():
        try:
            job = _start_upload(request, project, form)
        except InvalidEntity as error:
            _form_error(form, error)
        else:
            return redirect("kb:job", project.pk, job.pk)
    jobs = Job.objects.filter(project=project, kind=JobKind.IMPORT_KB).select_related("created_by")[:20]
    context = {"project": project, "form": form, "jobs": jobs, "can_manage": can_manage(project.my_role)}
    return render(request, "kb/kb_import.html", context, status=400 if form.errors else 200)


@require_GET
def import_job(request: AuthedRequest, project_id: int, kb_job_id: int) -> HttpResponse:
    """An import job's progress bar and error report; htmx polls the `job-progress` part until it ends."""
    project = get_project(request, project_id)
    job = get_object_or_404(Job.objects.filter(project=project, kind=JobKind.IMPORT_KB), pk=kb_job_id)
    knowledge_base = KnowledgeBase.objects.filter(
        project=project, pk=job.params.get("knowledge_base_id")
    ).first()
    context = {
        "project": project,
        "job": job,
        "knowledge_base": knowledge_base,
        "poll_url": reverse("kb:job", args=[project.pk, job.pk]),
        "can_cancel": not job.is_finished and _may_cancel(request, project, job),
    }
    return render(
        request, "kb/import_job.html#job-progress" if request.htmx else "kb/import_job.html", context
    )


def _may_cancel(request: AuthedRequest, project: Project, job: Job) -> bool:
    """Whoever started an import may stop it, and the project's managers."""
    return job.created_by_id == request.user.pk or can_manage(project.my_role)  # type: ignore[attr-defined]


@require_http_methods(["POST"])
def import_job_cancel(request: AuthedRequest, project_id: int, kb_job_id: int) -> HttpResponse:
    """Stop a KB import: its parts stop, and nothing of it is written."""
    project = get_project(request, project_id)
    job = get_object_or_404(Job.objects.filter(project=project, kind=JobKind.IMPORT_KB), pk=kb_job_id)
    if not _may_cancel(request, project, job):
        raise PermissionDenied("Only whoever started the import and the project's managers can cancel it.")
    cancel_from_page(request, job, what="import", cancelled="Import cancelled. Nothing of it was written.")
    return redirect("kb:job", project.pk, job.pk)
