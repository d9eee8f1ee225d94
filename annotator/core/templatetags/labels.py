"""`status_label`: the words for a stored status value ("in_progress" -> "In progress"), never the raw value."""

from __future__ import annotations

from django import template

from annotator.articles.models import ArticleStatus

register = template.Library()


@register.filter
def status_label(value: object) -> str:
    try:
        return str(ArticleStatus(str(value)).label)
    except ValueError:
        return str(value).replace("_", " ").capitalize()
