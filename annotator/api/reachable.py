"""The project an API call names, when the caller reaches it, read by a query compiled once per process.

`projects_for(request)` builds, filters and compiles a queryset on every call; the article list, one of
the busiest reads, asks it for one project by id. Same answer here: the user's membership and, for a
token limited to one project, that project only; anything else is a 404.
"""

from __future__ import annotations

from django.db.models import F, Func, OuterRef, QuerySet, Subquery
from django.http import Http404
from rest_framework.request import Request

from annotator.api.access import token_of, user_of
from annotator.articles.models import SearchBacklog
from annotator.core.compiled import CompiledQuery
from annotator.projects.models import Project


@CompiledQuery
def _member_project_with_backlog(project_id: int, user_id: int) -> QuerySet[Project, tuple[int, int]]:
    backlog = SearchBacklog.objects.filter(project_id=OuterRef("pk")).order_by()
    waiting = Subquery(backlog.annotate(n=Func(F("pk"), function="COUNT")).values("n")[:1])
    return (
        Project.objects.filter(pk=project_id, memberships__user_id=user_id)
        .annotate(unindexed=waiting)
        .order_by()
        .values_list("pk", "unindexed")  # what the list reads of it: a row, not a project of 20 columns
    )


def reachable_project_with_backlog(request: Request, project_id: int) -> tuple[int, int]:
    """The project's id and how many of its articles search cannot see yet; 404 when the caller is not
    a member or the token is limited to another project."""
    token = token_of(request)
    if token is not None and token.project_id is not None and token.project_id != project_id:
        raise Http404("No Project matches the given query.")
    found = _member_project_with_backlog(project_id=project_id, user_id=user_of(request).pk)
    if not found:
        raise Http404("No Project matches the given query.")
    return found[0][0], found[0][1] or 0
