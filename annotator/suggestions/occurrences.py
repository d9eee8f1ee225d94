"""After a reviewer accepts or adds a span on the annotate page: its other exact occurrences in the
article, suggested in one statement.

`generate.suggest_other_occurrences` does it the long way (the active suggester, the set's spans of the
type, the stored suggestions at those starts, then the INSERT of the missing ones in a transaction: six
round trips on every accept). On PostgreSQL, `suggest_occurrences` sends the occurrences it found in the
text as two arrays and lets one statement do the rest, with the same rules: leave out the occurrences the
set already annotates with the type, reuse the suggestions the active suggester already stores there (by
identity), insert the others (entity suggestions of the span's type and, when the span is linked, link
suggestions to the same KB entity), and answer every one of them. Without an active suggester (the long
way makes the default one), and on SQLite, it takes the long way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import connections, router
from django.utils import timezone

from annotator.suggestions.generate import OCCURRENCE_SCORE, _occurrences, suggest_other_occurrences
from annotator.suggestions.models import Suggestion, SuggestionKind
from annotator.suggestions.storing import OCCURRENCE_SOURCE

if TYPE_CHECKING:
    from annotator.annotations.models import Span

# One row per suggestion of the occurrences (stored before or now), and one row with a NULL id when the
# project has no active suggester (then nothing was written). Table and column names are the models'.
_STATEMENT = """
WITH version AS (
    SELECT id FROM suggestions_suggesterversion WHERE project_id = %(project)s AND is_active LIMIT 1
), candidates AS (
    SELECT c.start, c."end", k.kind, k.kb_entity_id
    FROM unnest(%(starts)s::integer[], %(ends)s::integer[]) AS c(start, "end")
    CROSS JOIN (VALUES (%(entity)s, NULL::bigint), (%(link)s, %(linked)s::bigint)) AS k(kind, kb_entity_id)
    WHERE (k.kind = %(entity)s OR k.kb_entity_id IS NOT NULL)
      AND NOT EXISTS (
          SELECT 1 FROM annotations_span s
          WHERE s.annotation_set_id = %(set)s AND s.entity_type_id = %(type)s
            AND s.start = c.start AND s."end" = c."end")
), stored AS (
    SELECT DISTINCT ON (s.start, s."end", s.kind) s.id, s.start, s."end", s.kind, s.rank
    FROM suggestions_suggestion s JOIN candidates c
      ON s.start = c.start AND s."end" = c."end" AND s.kind = c.kind
     AND s.kb_entity_id IS NOT DISTINCT FROM c.kb_entity_id
    WHERE s.suggester_version_id = (SELECT id FROM version) AND s.article_id = %(article)s
      AND s.entity_type_id = %(type)s AND s.tail_start IS NULL AND s.tail_end IS NULL
      AND s.tail_entity_type_id IS NULL AND s.relation_type_id IS NULL
    ORDER BY s.start, s."end", s.kind, s.id
), added AS (
    INSERT INTO suggestions_suggestion (article_id, suggester_version_id, kind, start, "end", entity_type_id,
        tail_start, tail_end, tail_entity_type_id, relation_type_id, kb_entity_id, rank, score, source,
        created_at)
    SELECT %(article)s, v.id, c.kind, c.start, c."end", %(type)s, NULL, NULL, NULL, NULL, c.kb_entity_id, 0,
        %(score)s, %(source)s, %(now)s
    FROM candidates c CROSS JOIN version v
    WHERE NOT EXISTS (SELECT 1 FROM stored s WHERE s.start = c.start AND s."end" = c."end" AND s.kind = c.kind)
    RETURNING id, start, "end", kind, rank
)
SELECT id, start, "end", kind, rank FROM stored
UNION ALL SELECT id, start, "end", kind, rank FROM added
UNION ALL SELECT NULL, NULL, NULL, NULL, NULL WHERE NOT EXISTS (SELECT 1 FROM version)
"""


def suggest_occurrences(*, span: Span) -> list[tuple[int, int]]:
    """(start, end) of each suggestion of the span's other exact occurrences (as
    `generate.suggest_other_occurrences` gives them), sorted by start, kind and rank."""
    connection = connections[router.db_for_write(Suggestion)]
    if connection.vendor != "postgresql":
        return [(s.start, s.end) for s in suggest_other_occurrences(span=span)]
    annotation_set = span.annotation_set
    article = annotation_set.article
    starts = list(_occurrences(article.text, span.surface))
    if not starts:
        return []
    # `span.link`: a new span says it has none without a query (editing.SetEditor._insert_span).
    linked = span.link.kb_entity_id if hasattr(span, "link") else None
    with connection.cursor() as cursor:
        cursor.execute(_STATEMENT, {
            "project": article.project_id, "set": annotation_set.pk, "article": article.pk,
            "type": span.entity_type_id, "starts": starts, "ends": [s + len(span.surface) for s in starts],
            "entity": SuggestionKind.ENTITY.value, "link": SuggestionKind.LINK.value, "linked": linked,
            "score": OCCURRENCE_SCORE, "source": OCCURRENCE_SOURCE, "now": timezone.now(),
        })  # fmt: skip
        rows = cursor.fetchall()
    if any(row[0] is None for row in rows):  # no active suggester: the long way makes the default one
        return [(s.start, s.end) for s in suggest_other_occurrences(span=span)]
    return [(start, end) for _, start, end, _, _ in sorted(rows, key=lambda row: (row[1], row[3], row[4]))]
