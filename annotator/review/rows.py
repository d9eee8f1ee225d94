"""The side lists of the annotate page (suggestions, entities, relations), one group per block of text.

Built as escaped strings, like the text itself: a large article has thousands of rows and a template
loop costs seconds there. Each group can be rendered out of band (to replace itself after an action)
or as an empty placeholder that the page fetches when it scrolls into view.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from html import escape
from typing import TYPE_CHECKING

from django.utils.safestring import SafeString, mark_safe

from annotator.core.text import shorten

if TYPE_CHECKING:
    from annotator.annotations.models import Relation, Span
    from annotator.review.rendering import Block
    from annotator.review.state import BlockRows, KBName, SpanRow, SuggestionRow
    from annotator.suggestions.models import Suggestion

LISTS = ("suggestions", "spans", "relations")


def _cut(text: str, limit: int) -> str:
    return escape(shorten(text, limit))


def filter_text(*parts: str) -> str:
    """What the page's filter box matches a row against (lower case; the page and the server agree)."""
    return " ".join(part.lower() for part in parts)[:300]


def suggestion_filter_text(suggestion: Suggestion | SuggestionRow) -> str:
    surface: str = suggestion.surface  # type: ignore[union-attr]
    if suggestion.kind == "relation":
        tail: str = suggestion.tail_surface  # type: ignore[union-attr,assignment]
        return filter_text("relation", suggestion.relation_type.name, surface, tail)  # type: ignore[union-attr]
    if suggestion.kind == "link":
        return filter_text("link", surface, suggestion.kb_entity.name)  # type: ignore[union-attr]
    return filter_text("entity", suggestion.entity_type.name, surface)  # type: ignore[union-attr]


def span_filter_text(span: Span | SpanRow) -> str:
    link = getattr(span, "link", None)
    linked_name = link.kb_entity.name.lower() if link is not None and link.kb_entity is not None else ""
    # filter_text(type name, surface, linked name), written out: every span row of a page asks for it.
    return f"{span.entity_type.name.lower()} {span.surface.lower()} {linked_name}"[:300]


def relation_filter_text(relation: Relation) -> str:
    return filter_text(relation.relation_type.name, relation.head.surface, relation.tail.surface)


FILTER_TEXTS: dict[str, Callable] = {
    "suggestions": suggestion_filter_text,
    "spans": span_filter_text,
    "relations": relation_filter_text,
}


# Rows write the glyphs of their buttons and arrows as character references: a row of ASCII characters
# only is copied whole where a page is put together and encoded (see `review.pieces`).


# A page repeats a few type names and sources on every row: each is escaped once per process.
@lru_cache(maxsize=4096)
def _chip(type_id: int | None, name: str) -> str:
    return f'<span class="entity-chip et-{type_id}">{escape(name)}</span>'


@lru_cache(maxsize=4096)
def _escaped(text: str) -> str:
    return escape(text)


def _main(block_id: str, content: str) -> str:
    # One tab stop per list (the page's script gives the current row tabindex 0); arrows move inside.
    # The link and the buttons act on their row's item (`data-item` of the row): the script looks it up.
    return f'<a class="row-main" href="#{block_id}" tabindex="-1">{content}</a>'


def _button(action: str, label: str, text: str, css: str = "") -> str:
    css_attribute = f' class="{css}"' if css else ""
    return (
        f'<button type="button"{css_attribute} data-action="{action}" aria-label="{label}" tabindex="-1">'
        f"{text}</button>"
    )


def suggestion_row(suggestion: Suggestion | SuggestionRow, block_id: str) -> str:
    item = f"g{suggestion.pk}"
    surface: str = suggestion.surface  # type: ignore[union-attr]
    kind = suggestion.kind
    if kind == "entity":
        return entity_suggestion_row(
            item, suggestion.start, suggestion.end, suggestion.entity_type_id,  # type: ignore[arg-type]
            suggestion.entity_type.name, surface, f"{suggestion.score:.2f}", suggestion.source, block_id,  # type: ignore[union-attr]
        )  # fmt: skip
    if kind == "relation":
        tail: str = suggestion.tail_surface  # type: ignore[union-attr,assignment]
        relation_name = suggestion.relation_type.name  # type: ignore[union-attr]
        content = (
            f'<span class="surface">{_cut(surface, 40)}</span> <strong>{escape(relation_name)}</strong> '
            f'<span class="surface">{_cut(tail, 40)}</span>'
        )
        key = filter_text("relation", relation_name, surface, tail)
    else:
        entity: KBName = suggestion.kb_entity  # type: ignore[union-attr,assignment]
        content = (
            f'<span class="surface">{_cut(surface, 40)}</span> &#8594; '
            f'<span class="kb-name">{escape(entity.name)}</span> <code>{escape(entity.kb_id)}</code>'
        )
        key = filter_text("link", surface, entity.name)
    return (
        f'<div class="row suggestion kind-{kind}" tabindex="-1" data-item="{item}" data-kind="{kind}" '
        f'data-filter="{escape(key)}"><a class="row-main" href="#{block_id}" tabindex="-1">'
        f'{content} <span class="score" title="{_escaped(suggestion.source)}">{suggestion.score:.2f}</span></a>'
        f"{_DECIDE_BUTTONS}</div>"
    )


_DECIDE_BUTTONS = (
    '<span class="row-actions"><button type="button" class="ok" data-action="accept" aria-label="Accept" '
    'tabindex="-1">&#10003;</button><button type="button" class="no" data-action="reject" aria-label="Reject" '
    'tabindex="-1">&#10005;</button></span>'
)


def entity_suggestion_row(
    item: str, start: int, end: int, type_id: int, name: str, surface: str, score: str, source: str,
    block_id: str,
) -> str:  # fmt: skip
    """The row of an entity suggestion (`item` g<id>, its score as shown), from its values: most rows are
    these, hundreds a page, so what its type, score, source and block decide (the chip, the start of the
    filter text, the link, the score and the buttons) is put together once per process, and a short
    surface escaped once: the row is then a few pieces joined (11 K instructions a row before, in 21)."""
    filter_words, middle, after, short = _entity_suggestion_pieces(type_id, name, score, source, block_id)
    if len(surface) <= short:  # shown whole, and its filter text is not cut
        shown, lowered = _surface_pieces(surface)
        return (
            f'{_SUGGESTION_OPENING}{item}" data-kind="entity" data-start="{start}" data-end="{end}" '
            f'data-filter="{filter_words}{lowered}{middle}{shown}{after}'
        )
    key = escape(f"entity {name.lower()} {surface.lower()}"[:300])  # filter_text("entity", name, surface)
    return (
        f'{_SUGGESTION_OPENING}{item}" data-kind="entity" data-start="{start}" data-end="{end}" '
        f'data-filter="{key}{middle}{_cut(surface, 60)}{after}'
    )


_SUGGESTION_OPENING = '<div class="row suggestion kind-entity" tabindex="-1" data-item="'


@lru_cache(maxsize=2048)  # about 600 bytes each
def _entity_suggestion_pieces(
    type_id: int, name: str, score: str, source: str, block_id: str
) -> tuple[str, str, str, int]:
    """An entity suggestion row's pieces that do not depend on its own values: the start of its filter
    text, what comes between the filter text and the surface, and after the surface; and the length up to
    which a surface is shown whole (see `_entity_type_pieces`)."""
    chip, filter_words, short = _entity_type_pieces(type_id, name)
    middle = f'"><a class="row-main" href="#{block_id}" tabindex="-1">{chip} <span class="surface">'
    after = f'</span> <span class="score" title="{escape(source)}">{score}</span></a>{_DECIDE_BUTTONS}</div>'
    return filter_words, middle, after, short


@lru_cache(maxsize=1024)
def _entity_type_pieces(type_id: int, name: str) -> tuple[str, str, int]:
    """An entity type's chip, the start of its rows' filter text escaped, and the length up to which a
    surface is shown whole (rows cut at 60) with a filter text ("entity <type> <surface>" in lower case,
    at most 300 code points) that is not cut, even if lower case doubled every letter ("İ" is two)."""
    short = min(60, (300 - len("entity  ") - 2 * len(name)) // 2)
    return _chip(type_id, name), escape(f"entity {name.lower()} "), short


@lru_cache(maxsize=8192)
def _surface_pieces(surface: str) -> tuple[str, str]:
    """A short surface escaped, and escaped in lower case (escaping writes lower-case entities only, so
    this is the lower-case surface escaped)."""
    shown = escape(surface)
    return shown, shown.lower()


def span_row(span: Span | SpanRow, block_id: str) -> str:
    link = getattr(span, "link", None)
    if link is None and not getattr(span, "attribute_rows", None):
        return plain_span_row(
            span.pk, span.start, span.end, span.entity_type_id, span.entity_type.name, span.surface,
            getattr(span, "has_attributes", False), block_id,
        )  # fmt: skip
    return general_span_row(span, block_id)


def plain_span_row(
    pk: int, start: int, end: int, type_id: int, name: str, surface: str, has_attributes: bool, block_id: str
) -> str:
    """The row of a span without a link or attribute values (most of a page's spans), from its values:
    what `general_span_row` writes, with the pieces that repeat (the type's chip and filter word, a short
    surface shown and in lower case) escaped once per process and the row put together in one go."""
    chip, lowered_name, name_length = _span_type_pieces(type_id, name)
    if len(surface) <= _SHORT_SURFACE:
        shown, lowered, surface_length = _span_surface_pieces(surface)
    else:
        shown, lowered, surface_length = _cut(surface, 60), escape(surface.lower()), len(surface.lower())
    if name_length + surface_length + 2 <= 300:  # the filter text "<type> <surface> " is not cut
        key = f"{lowered_name} {lowered} "
    else:
        key = escape(f"{name.lower()} {surface.lower()} "[:300])
    buttons = _SPAN_BUTTONS_WITH_ATTRIBUTES if has_attributes else _SPAN_BUTTONS
    return (
        f'<div class="row span" tabindex="-1" data-item="s{pk}" data-type="{type_id}" data-start="{start}" '
        f'data-end="{end}" data-filter="{key}"><a class="row-main" href="#{block_id}" tabindex="-1">{chip} '
        f'<span class="surface">{shown}</span></a>{buttons}</div>'
    )


_SHORT_SURFACE = 60  # shown whole (rows cut at 60), and kept once per process


@lru_cache(maxsize=1024)
def _span_type_pieces(type_id: int, name: str) -> tuple[str, str, int]:
    """An entity type's chip, its name in lower case escaped, and that lower-case name's length."""
    lowered = name.lower()
    return _chip(type_id, name), escape(lowered), len(lowered)


@lru_cache(maxsize=8192)
def _span_surface_pieces(surface: str) -> tuple[str, str, int]:
    """A short surface escaped, in lower case escaped (escaping writes lower-case entities only), and the
    length of its lower case (longer than the surface for "İ")."""
    shown = escape(surface)
    return shown, shown.lower(), len(surface.lower())


def general_span_row(span: Span | SpanRow, block_id: str) -> str:
    """The row of any span: with its link (to a KB entity, or NIL) and its attribute values."""
    name = span.entity_type.name
    link = getattr(span, "link", None)
    content = f'{_chip(span.entity_type_id, name)} <span class="surface">{_cut(span.surface, 60)}</span>'
    if link is not None and link.kb_entity is not None:
        kb_id = escape(link.kb_entity.kb_id)
        content += (
            f' <span class="link-state">&#8594; {escape(link.kb_entity.name)} <code>{kb_id}</code></span>'
        )
    elif link is not None:
        content += ' <span class="link-state nil">NIL</span>'
    if getattr(span, "attribute_rows", None):
        content += _attribute_values(span)
    buttons = _SPAN_BUTTONS_WITH_ATTRIBUTES if getattr(span, "has_attributes", False) else _SPAN_BUTTONS
    return (
        f'<div class="row span" tabindex="-1" data-item="s{span.pk}" data-type="{span.entity_type_id}" '
        f'data-start="{span.start}" data-end="{span.end}" data-filter="{escape(span_filter_text(span))}">'
        f'<a class="row-main" href="#{block_id}" tabindex="-1">{content}</a>{buttons}</div>'
    )


_SPAN_BUTTONS = (
    f'<span class="row-actions">{_button("link", "Link to the KB", "&#128279;")}'
    f"{_button('delete', 'Delete', '&#10005;', 'no')}</span>"
)
_SPAN_BUTTONS_WITH_ATTRIBUTES = _SPAN_BUTTONS.replace(
    '<span class="row-actions">',
    f'<span class="row-actions">{_button("attributes", "Attributes", "&#8801;")}',
    1,
)


def attribute_text(value: object) -> str:
    """An attribute value as the pages show it: yes / no for booleans, the text otherwise."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _attribute_values(span: Span | SpanRow) -> str:
    """The span's attribute values (`attribute_rows`, see state.attach_attribute_values), if any."""
    values = getattr(span, "attribute_rows", [])
    if not values:
        return ""
    shown = " &#183; ".join(
        f"{escape(row.attribute.name)}: {_cut(attribute_text(row.value), 40)}" for row in values
    )
    return f' <span class="attribute-values">{shown}</span>'


def relation_row(relation: Relation, block_id: str) -> str:
    item = f"r{relation.pk}"
    kind = relation.relation_type
    arrow = f"&#8212;{escape(kind.name)}&#8594;" if kind.directed else f"&#8596; {escape(kind.name)} &#8596;"
    content = (
        f'<span class="surface">{_cut(relation.head.surface, 40)}</span> <strong>{arrow}</strong> '
        f'<span class="surface">{_cut(relation.tail.surface, 40)}</span>'
    )
    key = escape(relation_filter_text(relation))
    return (
        f'<div class="row relation" tabindex="-1" data-item="{item}" data-head="s{relation.head_id}" '
        f'data-tail="s{relation.tail_id}" data-head-start="{relation.head.start}" '
        f'data-tail-start="{relation.tail.start}" '
        f'data-directed="{int(kind.directed)}" data-filter="{key}">'
        f'{_main(block_id, content)}<span class="row-actions">'
        f"{_button('delete-relation', 'Delete the relation', '&#10005;', 'no')}</span></div>"
    )


RENDERERS: dict[str, Callable] = {"suggestions": suggestion_row, "spans": span_row, "relations": relation_row}


def group(kind: str, rows: BlockRows, *, oob: bool = False, lazy: bool = False) -> SafeString:
    """One block's rows of one list. A lazy group is an empty placeholder the page fills on demand."""
    if lazy:
        return mark_safe(f'{group_opening(kind, rows.block, oob=oob)[:-1]} data-lazy="1"></div>')  # noqa: S308 - no user text
    render = RENDERERS[kind]
    block_id = rows.block.dom_id
    body = "".join(render(item, block_id) for item in getattr(rows, kind))
    return mark_safe(f"{group_opening(kind, rows.block, oob=oob)}{body}</div>")  # noqa: S308 - every user string above is escaped


def group_opening(kind: str, block: Block, *, oob: bool = False) -> str:
    """The opening tag of one block's group of one list: its rows follow, then `</div>`."""
    out_of_band = ' hx-swap-oob="true"' if oob else ""
    return f'<div class="group" id="{kind}-{block.dom_id}" data-block="{block.index}"{out_of_band}>'
