"""Relation candidates between mentions of one sentence: surface rules first, a pair classifier later.

Pure Python (no Django, no spaCy): mentions and sentences in, `FoundRelation`s out. A candidate always
has a type the schema allows for its head and tail; rules are named by their `source` ("rule:<id>") so
that each can be evaluated against what reviewers accept. The classifier is a linear model over pair
features, trained by `training.py` with scikit-learn and stored as plain JSON weights.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

MAX_GAP = 160  # characters between two mentions that a rule or the classifier still relates
NONE = "NONE"  # the classifier's "no relation" class


@dataclass(frozen=True)
class RelationSchema:
    """A relation type as the schema defines it; empty head or tail labels mean any label."""

    name: str
    directed: bool
    heads: frozenset[str]
    tails: frozenset[str]

    def allows(self, head: str, tail: str) -> bool:
        heads, tails = self.heads, self.tails
        if (not heads or head in heads) and (not tails or tail in tails):
            return True
        return not self.directed and (not heads or tail in heads) and (not tails or head in tails)


class Mention(NamedTuple):
    """A mention as the rules see it (a tuple: tens of them per article, made for every text)."""

    start: int
    end: int
    label: str


@dataclass(frozen=True)
class FoundRelation:
    """A relation between mentions `head` and `tail` (indexes into the mentions given)."""

    head: int
    tail: int
    relation: str
    score: float
    source: str


_TITLES = (
    r"(?:deputy\s+|former\s+|acting\s+|vice[- ])?(?:director|head|chief|chairman|chairwoman|chair|president|"
    r"leader|secretary(?:[- ]general)?|minister|commander|spokesman|spokeswoman|spokesperson|ceo|founder|"
    r"governor|mayor|prime\s+minister|boss)"
)
_POSSESSOR = r"(?:[^\s,;()]+['’]s?\s+)?"  # "Russia’s " between a title and its organisation
_PERSON_NOUNS = re.compile(
    r"^['’]?s?\s+(?:counterpart|chief|head|director|officials?|minister|spokes\w+|leader|president|envoy|"
    r"agents?|officers?)\b",
    re.IGNORECASE,
)
_COOPERATION_CUE = re.compile(
    r"\b(?:agree\w*|cooperat\w*|co-operat\w*|work(?:ed|ing)?\s+together|join(?:ed)?\s+forces|allian\w*|"
    r"all(?:y|ies|ied)|partner\w*|joint\w*|sign(?:ed|s)?|integrat\w*|treaty)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class _GapRule:
    """Relates the left and right mention of a pair when the text between them matches `gap`."""

    id: str
    relation: str
    gap: re.Pattern[str]
    head_is_left: bool
    score: float
    after: re.Pattern[str] | None = None  # what must follow the right mention
    not_after: re.Pattern[str] | None = None  # what must not follow it
    same_label: bool = False  # an alias names the same kind of thing


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


_GAP_RULES = (
    _GapRule(
        "rule:acronym",
        "alias_of",
        re.compile(r"^ ?\($"),
        False,
        0.9,
        after=re.compile(r"^\)"),
        same_label=True,
    ),
    _GapRule(
        "rule:title-of",
        "head_of",
        _rx(rf"^,\s+(?:the\s+|a\s+|its\s+)?{_TITLES}\s+of\s+(?:the\s+)?{_POSSESSOR}$"),
        True,
        0.8,
        not_after=re.compile(r"^['’]"),
    ),
    _GapRule("rule:org-title-person", "head_of", _rx(rf"^\)?\s+{_TITLES}\s+$"), False, 0.8),
    _GapRule("rule:possessive", "part_of", re.compile(r"^['’]s?\s+$"), False, 0.7),
    _GapRule(
        "rule:coordination-cooperation",
        "cooperates_with",
        _rx(rf"^(?:['’]s?)?\s+and\s+{_POSSESSOR}$|^\s*[-–]\s*$"),
        True,
        0.6,
        after=re.compile(r"^.{0,60}?" + _COOPERATION_CUE.pattern, re.IGNORECASE | re.DOTALL),
        not_after=re.compile(r"^['’]"),  # "X and Y’s agency agreed": Y only owns what agreed
    ),
    _GapRule(
        "rule:pair-talks",
        "met_with",
        re.compile(r"^\s*[-–]\s*$"),
        True,
        0.8,
        after=_rx(r"^['’]?s?\s+(?:talks|meeting|summit|negotiations)\b"),
    ),
    _GapRule(
        "rule:member-of",
        "member_of",
        _rx(r"^,?\s+(?:is\s+|was\s+)?(?:a\s+|an\s+)?(?:founding\s+)?member(?:\s+state)?\s+of\s+(?:the\s+)?$"),
        True,
        0.7,
    ),
    _GapRule(
        "rule:member-title",
        "member_of",
        _rx(r"^\s+member(?:\s+states?|\s+countries|\s+country)?\s+$"),
        False,
        0.7,
    ),
    _GapRule(
        "rule:located-in",
        "located_in",
        _rx(r"^,?\s+(?:based\s+|headquartered\s+|located\s+)?in\s+(?:the\s+)?$"),
        True,
        0.5,
    ),
)

_MEET = r"met|meets|meeting|will\s+meet|held\s+talks\s+with|talked\s+with|spoke\s+with"
_VISIT = r"visited|visits|will\s+visit|travell?ed\s+to|arrived\s+in|flew\s+to"
# Matched at a mention's end (`match(text, end, end + 260)`: anchored there, and no further than a slice
# of that length would let it; no slice copied per mention).
_VERB_CUE = _rx(rf"(?:,[^.;]{{0,150}}?,)?\s+(?P<verb>{_MEET}|{_VISIT})\s+(?:with\s+)?")
_VISIT_VERB = _rx(_VISIT)
_TALKS_WITH = _rx(r"\b(?:talks|meeting|met|meet|negotiations)\s+with\s+")
_WINDOW = 60


def find_relations(
    text: str,
    mentions: Sequence[Mention],
    sentences: Sequence[tuple[int, int]],
    schema: Sequence[RelationSchema],
    classifier: PairClassifier | None = None,
) -> list[FoundRelation]:
    """Relations between mentions of the same sentence whose types the schema allows, best score kept
    when several rules (or the classifier) say the same thing."""
    by_name = {relation.name: relation for relation in schema}
    found: dict[tuple[int, int, str], FoundRelation] = {}

    def keep(head: int, tail: int, relation: str, score: float, source: str) -> None:
        kind = by_name.get(relation)
        if kind is None or head == tail:
            return
        if not kind.allows(mentions[head].label, mentions[tail].label):
            return
        if not kind.directed and (mentions[tail].start, tail) < (mentions[head].start, head):
            head, tail = tail, head
        key = (head, tail, relation)
        if key not in found or found[key].score < score:
            found[key] = FoundRelation(head, tail, relation, score, source)

    sentence_of = sentence_index(mentions, sentences)
    applicable = _applicable_rules(schema)
    for i, j in candidate_pairs(mentions, sentence_of):
        left, right = mentions[i], mentions[j]
        labels = (left.label, right.label)
        rules = applicable.get(labels)
        if rules is None:
            rules = applicable[labels] = _rules_for(schema, *labels)
        if not rules:
            continue
        gap = text[left.end : right.start]
        after: str | None = None
        for rule, head_is_left in rules:
            if not rule.gap.search(gap):
                continue
            if rule.after is not None or rule.not_after is not None:
                if after is None:
                    after = text[right.end : right.end + 80]
                if rule.after is not None and not rule.after.search(after):
                    continue
                if rule.not_after is not None and rule.not_after.search(after):
                    continue
            head, tail = (i, j) if head_is_left else (j, i)
            keep(head, tail, rule.relation, rule.score, rule.id)
    _verb_rules(text, mentions, sentence_of, by_name, keep)
    if classifier is not None:
        for head, tail, relation, score in classifier.predict(text, mentions, sentence_of, schema):
            keep(head, tail, relation, score, classifier.source)
    return sorted(found.values(), key=lambda r: (mentions[r.head].start, mentions[r.tail].start, r.relation))


_Applicable = dict[tuple[str, str], list[tuple[_GapRule, bool]]]
_applicable: dict[int, tuple[Sequence[RelationSchema], _Applicable]] = {}


def _applicable_rules(schema: Sequence[RelationSchema]) -> _Applicable:
    """The gap rules per (left label, right label) pair under this schema, filled as pairs come. Kept
    per schema object (a run passes the same one for every text; holding it keeps its id unique)."""
    cached = _applicable.get(id(schema))
    if cached is not None and cached[0] is schema:
        return cached[1]
    if len(_applicable) >= 64:
        _applicable.clear()
    table: _Applicable = {}
    _applicable[id(schema)] = (schema, table)
    return table


def _rules_for(schema: Sequence[RelationSchema], left: str, right: str) -> list[tuple[_GapRule, bool]]:
    """The gap rules that can relate a (left label, right label) pair at all under the schema, with
    whether the left one is the head: most pairs fail on labels or schema, and knowing that once per
    pair of labels costs less than the patterns."""
    by_name = {relation.name: relation for relation in schema}
    return [
        (rule, rule.head_is_left)
        for rule in _GAP_RULES
        if rule.relation in by_name
        and (not rule.same_label or left == right)
        and by_name[rule.relation].allows(*((left, right) if rule.head_is_left else (right, left)))
    ]


def sentence_index(mentions: Sequence[Mention], sentences: Sequence[tuple[int, int]]) -> list[int]:
    starts = [start for start, _ in sentences]
    return [max(bisect.bisect_right(starts, m.start) - 1, 0) for m in mentions]


def candidate_pairs(mentions: Sequence[Mention], sentence_of: Sequence[int]) -> Iterator[tuple[int, int]]:
    """(left, right) index pairs in text order, in one sentence, at most MAX_GAP characters apart."""
    order = sorted(range(len(mentions)), key=[m[:2] for m in mentions].__getitem__)  # by (start, end)
    count = len(order)
    for position, i in enumerate(order):
        sentence, end = sentence_of[i], mentions[i].end
        for following in range(position + 1, count):
            j = order[following]
            start = mentions[j].start
            if sentence_of[j] != sentence or start - end > MAX_GAP:
                break
            if start >= end:
                yield i, j


def _verb_rules(
    text: str,
    mentions: Sequence[Mention],
    sentence_of: Sequence[int],
    by_name: dict[str, RelationSchema],
    keep: Any,
) -> None:
    """ "X met Y", "X visited Y" (met_with when Y is a person) and "X ... talks with Y"."""
    order = sorted(range(len(mentions)), key=[m[0] for m in mentions].__getitem__)  # by start
    cue_at = _VERB_CUE.match
    for position, i in enumerate(order):
        end = mentions[i].end
        cue = cue_at(text, end, end + 260)
        if cue is None:
            continue
        window_start = cue.end()
        following = [
            j
            for j in order[position + 1 :]
            if sentence_of[j] == sentence_of[i]
            and window_start <= mentions[j].start <= window_start + _WINDOW
        ]
        meeting = not _VISIT_VERB.match(cue.group("verb"))
        target = _meeting_target(text, mentions, following) if meeting else None
        if meeting and target is not None:
            keep(i, target, "met_with", 0.7, "rule:met")
            continue
        for j in following if not meeting else []:
            label = mentions[j].label
            if "visited" in by_name and by_name["visited"].allows(mentions[i].label, label):
                keep(i, j, "visited", 0.7, "rule:visited")
                break
            if label == "PERSON":
                keep(i, j, "met_with", 0.6, "rule:visited-person")
                break
    for cue in _TALKS_WITH.finditer(text):
        after = [k for k in order if cue.end() <= mentions[k].start <= cue.end() + 40]
        target = _meeting_target(text, mentions, after)
        if target is None:
            continue
        subjects = [
            k
            for k in order
            if mentions[k].end <= cue.start()
            and sentence_of[k] == sentence_of[target]
            and mentions[k].label in ("PERSON", "ORG")
        ]
        people = [k for k in subjects if mentions[k].label == "PERSON"]
        if people or subjects:
            keep((people or subjects)[0], target, "met_with", 0.6, "rule:talks-with")


def _meeting_target(text: str, mentions: Sequence[Mention], following: Sequence[int]) -> int | None:
    """Who was met: the first person named; else the first organisation that is not just qualifying a
    person ("his KGB counterpart")."""
    for j in following:
        if mentions[j].label == "PERSON":
            return j
    for j in following:
        if mentions[j].label == "ORG" and not _PERSON_NOUNS.match(
            text[mentions[j].end : mentions[j].end + 30]
        ):
            return j
    return None


# The pair classifier


def pair_features(text: str, left: Mention, right: Mention, between: int) -> dict[str, float]:
    """Features of a (left, right) pair in text order: types, distance, the words between and around."""
    gap = text[left.end : right.start]
    words = re.findall(r"[\w’']+|[^\w\s]", gap.lower())
    features: dict[str, float] = {
        f"types={left.label}|{right.label}": 1.0,
        f"gap_len={min(len(gap) // 10, 10)}": 1.0,
        f"between={min(between, 3)}": 1.0,
        "gap_empty": float(not gap.strip()),
    }
    for word in words[:12]:
        features[f"gap:{word}"] = 1.0
    for word in words[:2]:
        features[f"gap_first:{word}"] = 1.0
    for word in words[-2:]:
        features[f"gap_last:{word}"] = 1.0
    after = re.findall(r"[\w’']+|[^\w\s]", text[right.end : right.end + 40].lower())[:2]
    before = re.findall(r"[\w’']+|[^\w\s]", text[max(left.start - 40, 0) : left.start].lower())[-2:]
    for word in after:
        features[f"after:{word}"] = 1.0
    for word in before:
        features[f"before:{word}"] = 1.0
    return features


def pair_class(relation: str, head_is_left: bool) -> str:
    """The class a pair is trained as: the relation and which side is its head."""
    return f"{relation}>" if head_is_left else f"{relation}<"


class PairClassifier:
    """A multinomial logistic model over `pair_features`, as weights learnt by scikit-learn."""

    def __init__(self, weights: dict[str, Any], *, source: str) -> None:
        self.classes: list[str] = weights["classes"]
        self.bias: list[float] = weights["bias"]
        self.features: dict[str, list[float]] = weights["features"]
        self.threshold: float = weights.get("threshold", 0.5)
        self.source = source

    def probabilities(self, features: dict[str, float]) -> list[float]:
        totals = list(self.bias)
        for name, value in features.items():
            row = self.features.get(name)
            if row is not None:
                for k, weight in enumerate(row):
                    totals[k] += weight * value
        top = max(totals)
        exps = [math.exp(t - top) for t in totals]
        norm = sum(exps)
        return [e / norm for e in exps]

    def predict(
        self,
        text: str,
        mentions: Sequence[Mention],
        sentence_of: Sequence[int],
        schema: Sequence[RelationSchema],
    ) -> Iterator[tuple[int, int, str, float]]:
        by_name = {relation.name: relation for relation in schema}
        for i, j in candidate_pairs(mentions, sentence_of):
            left, right = mentions[i], mentions[j]
            between = sum(1 for m in mentions if left.end <= m.start and m.end <= right.start)
            probabilities = self.probabilities(pair_features(text, left, right, between))
            best = max(range(len(self.classes)), key=probabilities.__getitem__)
            label = self.classes[best]
            if label == NONE or probabilities[best] < self.threshold:
                continue
            relation, direction = label[:-1], label[-1]
            head, tail = (i, j) if direction == ">" else (j, i)
            kind = by_name.get(relation)
            if kind is not None and kind.allows(mentions[head].label, mentions[tail].label):
                yield head, tail, relation, round(probabilities[best], 4)
