"""What every page about one article needs first: the article, if the user may see it."""

from __future__ import annotations

from django.shortcuts import get_object_or_404

from annotator.articles.models import Article
from annotator.core.http import AuthedRequest


def get_article(request: AuthedRequest, article_id: int) -> Article:
    """The article, its project carrying the user's role as `my_role`; a 404 for non-members."""
    article = get_object_or_404(
        Article.objects.visible_to(request.user).with_role_of(request.user).select_related("project"),
        pk=article_id,
    )
    article.project.my_role = article.my_role  # type: ignore[attr-defined]  # annotated by with_role_of()
    return article
