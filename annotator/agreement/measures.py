"""Inter-annotator agreement measures over plain values. No Django here: the formulas are tested against
textbook cases, and the service (`services.py`) feeds them rows loaded in bulk.

Conventions:
- A span is `(start, end, label)`: half-open code-point offsets and a label id (any hashable would do).
- A figure that has nothing to measure (no spans on either side, a single category everywhere) is None,
  shown as "n/a": never 1.0, never a division by zero.
- Tokens come from `tokenize`, a deterministic regular expression (a run of word characters, or any other
  single non-space character). spaCy's tokenizer would split a few cases differently (e.g. "Russia's"), but
  it runs at ~100k tokens/s where the expression runs at millions, and agreement on a project reads every
  token of every doubly annotated article. What matters is that all annotators are cut the same way.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import TypeVar

Value = TypeVar("Value", bound=Hashable)
Span = tuple[int, int, int]

OUTSIDE = 0  # the token label of text no span covers (label ids are primary keys, so never 0)
TOKEN = re.compile(r"\w+|[^\w\s]")


# Not frozen: a frozen dataclass is twice as slow to make, and a project's figures add up hundreds of
# thousands of these. They are values all the same: nothing changes one in place (`+` makes a new one).
@dataclass(slots=True)
class Overlap:
    """How many items two annotators share: `matched` pairs out of `left` and `right` items."""

    matched: int = 0
    left: int = 0
    right: int = 0

    def __add__(self, other: Overlap) -> Overlap:
        return Overlap(self.matched + other.matched, self.left + other.left, self.right + other.right)

    def __sub__(self, other: Overlap) -> Overlap:
        return Overlap(self.matched - other.matched, self.left - other.left, self.right - other.right)

    @property
    def f1(self) -> float | None:
        """Pairwise F1 (the Dice coefficient): symmetric, so which annotator is the reference is moot."""
        total = self.left + self.right
        return 2 * self.matched / total if total else None

    @property
    def disagreements(self) -> int:
        return self.left + self.right - 2 * self.matched


@dataclass(slots=True)
class LinkTally:
    """KB links of matched spans: `compared` pairs where both sides linked (NIL is a value), `agreed` of
    them on the same entity, `one_sided` pairs where only one side linked."""

    agreed: int = 0
    compared: int = 0
    one_sided: int = 0

    def __add__(self, other: LinkTally) -> LinkTally:
        return LinkTally(
            self.agreed + other.agreed, self.compared + other.compared, self.one_sided + other.one_sided
        )

    def __sub__(self, other: LinkTally) -> LinkTally:
        return LinkTally(
            self.agreed - other.agreed, self.compared - other.compared, self.one_sided - other.one_sided
        )

    @property
    def agreement(self) -> float | None:
        return self.agreed / self.compared if self.compared else None


def match_exact(left: Sequence[Span], right: Sequence[Span]) -> list[tuple[int, int]]:
    """Index pairs of identical spans (same offsets and label), each span used once."""
    position = {span: j for j, span in enumerate(right)}
    if len(position) == len(right):  # the usual case: a set holds a span once (span_unique_in_set)
        return [(i, position[span]) for i, span in enumerate(left) if span in position]
    free: dict[Span, list[int]] = {}
    for j, span in enumerate(right):
        free.setdefault(span, []).append(j)
    pairs = []
    for i, span in enumerate(left):
        if waiting := free.get(span):
            pairs.append((i, waiting.pop(0)))
    return pairs


def match_overlapping(
    left: Sequence[Span], right: Sequence[Span], exact: list[tuple[int, int]] | None = None
) -> list[tuple[int, int]]:
    """Index pairs of spans with the same label that share at least one character, one-to-one.

    Greedy by overlap length (longest first, identical spans before others of the same overlap, then by
    position), which is deterministic and, for the rarely overlapping spans of one annotator, the
    maximum matching. Identical spans are matched first (pass `match_exact`'s pairs when they are at
    hand): no other pair can overlap either of them more.
    """
    pairs = list(match_exact(left, right) if exact is None else exact)
    if len(pairs) == min(len(left), len(right)):
        return pairs
    used_left = {i for i, _ in pairs}
    used_right = {j for _, j in pairs}
    rest_right = [(j, span) for j, span in enumerate(right) if j not in used_right]
    candidates = []
    for i, (start, end, label) in enumerate(left):
        if i in used_left:
            continue
        for j, (other_start, other_end, other_label) in rest_right:
            shared = min(end, other_end) - max(start, other_start)
            if shared > 0 and label == other_label:
                candidates.append((-shared, i, j))
    candidates.sort()
    for _, i, j in candidates:
        if i not in used_left and j not in used_right:
            used_left.add(i)
            used_right.add(j)
            pairs.append((i, j))
    return pairs


def overlap_by_label(
    left: Sequence[Span], right: Sequence[Span], pairs: Iterable[tuple[int, int]]
) -> dict[int, Overlap]:
    """Per label: matched pairs and each side's spans. Matching never crosses labels."""
    counts: dict[int, list[int]] = {}
    for _, _, label in left:
        counts.setdefault(label, [0, 0, 0])[1] += 1
    for _, _, label in right:
        counts.setdefault(label, [0, 0, 0])[2] += 1
    for i, _ in pairs:
        counts[left[i][2]][0] += 1
    return {label: Overlap(*figures) for label, figures in counts.items()}


def cohen_kappa(table: Mapping[tuple[Value, Value], int]) -> float | None:
    """Cohen's kappa of two raters from their contingency table {(left value, right value): count}.

    None when there is nothing to rate or chance agreement is already total (both used one category).
    """
    total = sum(table.values())
    if not total:
        return None
    rows: Counter[Value] = Counter()
    columns: Counter[Value] = Counter()
    observed = 0
    for (left, right), count in table.items():
        rows[left] += count
        columns[right] += count
        if left == right:
            observed += count
    chance = sum(count * columns[value] for value, count in rows.items())  # times total squared
    if chance == total * total:
        return None
    return (observed * total - chance) / (total * total - chance)


def krippendorff_alpha_nominal(units: Iterable[Sequence[Value | None]]) -> float | None:
    """Krippendorff's alpha for nominal data: one row per unit, one value per coder, None where missing."""
    return alpha_nominal_from_value_counts(
        Counter(tuple(sorted(value for value in unit if value is not None)) for unit in units)  # type: ignore[type-var]
    )


def alpha_nominal_from_value_counts(units: Mapping[tuple[Value, ...], int]) -> float | None:
    """Krippendorff's nominal alpha from {the values coders gave one unit, sorted: how many such units}.

    The coincidence matrix form (Krippendorff 2011): only units with two or more values are pairable;
    alpha = 1 - (n - 1) * (n - sum of o_cc) / (n^2 - sum of n_c^2). None when no unit is pairable or only
    one value occurs (the expected disagreement is zero, so alpha is undefined).
    """
    pairable = 0
    coinciding = 0.0  # the diagonal of the coincidence matrix
    marginals: Counter[Value] = Counter()
    for values, units_like_this in units.items():
        coders = len(values)
        if coders < 2:
            continue
        pairable += coders * units_like_this
        for value, times in Counter(values).items():
            marginals[value] += times * units_like_this
            coinciding += units_like_this * times * (times - 1) / (coders - 1)
    expected = pairable * pairable - sum(count * count for count in marginals.values())
    if not pairable or not expected:
        return None
    return 1 - (pairable - 1) * (pairable - coinciding) / expected


def binary_value_counts(units: Mapping[tuple[int, ...], int], label: int) -> Counter[tuple[bool, ...]]:
    """The same units seen as "this label or not": alpha per label from the multi-label value counts."""
    binary: Counter[tuple[bool, ...]] = Counter()
    for values, count in units.items():
        binary[tuple(sorted(value == label for value in values))] += count
    return binary


@dataclass(frozen=True, slots=True)
class Tokens:
    """A text's tokens as parallel lists of start and end offsets."""

    starts: list[int]
    ends: list[int]

    def __len__(self) -> int:
        return len(self.starts)

    def covered_by(self, start: int, end: int) -> range:
        """Indices of the tokens that share a character with [start, end)."""
        return range(bisect_right(self.ends, start), bisect_left(self.starts, end))


def tokenize(text: str) -> Tokens:
    return tokenize_around(text, [(0, len(text), OUTSIDE)])


def count_tokens(text: str) -> int:
    return len(TOKEN.findall(text))


def _in_word(text: str, left: int) -> bool:
    """Whether a word runs across the boundary between text[left - 1] and text[left]."""
    return 0 < left < len(text) and _is_word(text[left - 1]) and _is_word(text[left])


def _is_word(character: str) -> bool:
    return character.isalnum() or character == "_"  # what `\w` matches in a str pattern


def tokenize_around(text: str, spans: Iterable[Span]) -> Tokens:
    """The tokens that share a character with any of the spans, as `tokenize` cuts them.

    Only these can differ between annotators; the rest of the text is OUTSIDE for everyone and is just
    counted (`count_tokens`), which is several times faster than cutting a long article into tokens.
    """
    regions: list[list[int]] = []
    for start, end in sorted({(start, end) for start, end, _ in spans}):  # annotators share most spans
        while _in_word(text, start):
            start -= 1
        while _in_word(text, end):
            end += 1
        if regions and start <= regions[-1][1]:
            regions[-1][1] = max(regions[-1][1], end)
        else:
            regions.append([start, end])
    starts, ends = [], []
    for start, end in regions:
        for match in TOKEN.finditer(text, start, end):
            starts.append(match.start())
            ends.append(match.end())
    return Tokens(starts, ends)


def token_labels(tokens: Tokens, spans: Iterable[Span]) -> dict[int, int]:
    """{token index: label} for the tokens a span touches; the others are OUTSIDE.

    A token under several spans (nested or overlapping mentions) takes the shortest one's label, then
    the earliest's, then the smallest label id: one value per token, the same for every annotator.
    """
    best: dict[int, tuple[int, int, int]] = {}
    for start, end, label in spans:
        rank = (end - start, start, label)
        for index in tokens.covered_by(start, end):
            if index not in best or rank < best[index]:
                best[index] = rank
    return {index: rank[2] for index, rank in best.items()}


def relation_overlap(
    left: Iterable[tuple[int, int, int]],
    right: Iterable[tuple[int, int, int]],
    span_pairs: Mapping[int, int],
    symmetric: AbstractSet[int],
) -> dict[int, Overlap]:
    """Per relation type: agreement on relations whose head and tail both have a matched span.

    Relations are `(head span id, tail span id, type)`; `span_pairs` maps left span ids to the right
    span ids they matched. A relation whose head or tail the other side did not annotate is left out:
    that disagreement is the entities' figure, not the relations'. Symmetric types ignore direction.
    """
    matched_right = set(span_pairs.values())

    def key(head: int, tail: int, kind: int) -> tuple[int, int, int]:
        return (min(head, tail), max(head, tail), kind) if kind in symmetric else (head, tail, kind)

    left_keys = Counter(
        key(span_pairs[head], span_pairs[tail], kind)
        for head, tail, kind in left
        if head in span_pairs and tail in span_pairs
    )
    right_keys = Counter(
        key(head, tail, kind) for head, tail, kind in right if head in matched_right and tail in matched_right
    )
    shared = left_keys & right_keys
    kinds = {kind for _, _, kind in left_keys} | {kind for _, _, kind in right_keys}
    return {
        kind: Overlap(
            sum(n for k, n in shared.items() if k[2] == kind),
            sum(n for k, n in left_keys.items() if k[2] == kind),
            sum(n for k, n in right_keys.items() if k[2] == kind),
        )
        for kind in kinds
    }


NOT_LINKED = object()  # a span nobody linked, as opposed to a NIL link (None: "not in the KB")


def link_tally(pairs: Iterable[tuple[object, object]]) -> LinkTally:
    """Agreement on the KB ids of matched spans: each pair is (left link, right link), where a link is a
    KB entity id, None for NIL, or NOT_LINKED."""
    agreed = compared = one_sided = 0
    for left, right in pairs:
        if left is NOT_LINKED and right is NOT_LINKED:
            continue
        if left is NOT_LINKED or right is NOT_LINKED:
            one_sided += 1
            continue
        compared += 1
        agreed += left == right
    return LinkTally(agreed, compared, one_sided)
