"""Name rules read off the text: people after a title, a given name or an age; organisations and events by
their last word; places in datelines; clubs named after their city. Pure Python, no spaCy.

One regular expression finds the runs of capitalised words (with "of", "de", "van"... inside), and each run
is judged by set look-ups, so the rules cost little next to tokenising. They propose candidates like any
other source and `merge.py` decides: a longer name beats a list word inside it ("Bayern Munich" hides the
city list's "Munich"), and measured precision per source and label settles the rest.

Labels are spaCy's (PERSON, ORG, GPE, EVENT), mapped to the project's types like every source's.
"""

from __future__ import annotations

import re
import string
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable
from functools import cache, lru_cache
from itertools import pairwise
from pathlib import Path
from typing import NamedTuple

from annotator.suggestions.nlp.merge import Candidate

LISTS_DIR = Path(__file__).resolve().parent.parent / "lists"
NAME_RULE_LANGUAGES = frozenset({"en"})  # the titles, suffixes and given names are English news usage
# Wordings (runs, words, segments) whose judgement each cache keeps: news repeats its names, and a web
# process keeps its caches (about 1 MB per 1,000 wordings of the three together, so at most ~16 MB). Smaller
# than a corpus's distinct wordings it thrashes: eng.train has ~10,000, and at 8,192 find_names cost 1.22x
# the uncached rules, at 16,384 0.85x (bench/rules_cost.py).
WORDING_CACHE = 16384


def _upper_class() -> str:
    """A character class of every upper- or title-case letter of the Basic Multilingual Plane."""
    ranges: list[tuple[int, int]] = []
    for code in range(0x10000):
        ch = chr(code)
        if ch.isupper() or ch.istitle():
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1] = (ranges[-1][0], code)
            else:
                ranges.append((code, code))
    return "".join(
        re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges
    )


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_UPPER = _upper_class()
# Lowercase words that may sit inside a name: "Bank of England", "Ludwig van Beethoven", "Osama bin Laden".
JOINERS = _words("of de del della di da dos das du van von der den ter la le bin ibn al el y & for")
_NOT_IN_PEOPLE = frozenset({"of", "for", "&"})  # joiners of organisations' names, not of people's
_WORD = rf"[{_UPPER}][\w'’&.\-]*"
_JOINER = "(?:" + "|".join(sorted(map(re.escape, JOINERS))) + ")"
_RUN = re.compile(rf"(?<![\w'’.\-]){_WORD}(?:[ \u00a0](?:{_JOINER}[ \u00a0])*{_WORD})*")
_DATELINE_AFTER = re.compile(
    r"[ \t]*(?:\d{4}-\d\d-\d\d|,?[ \t]*(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.?[ \t]+\d)"
)
_DATELINE_CAPS_AFTER = re.compile(r"[ \t]*(?:\(|,[ \t]*[A-Z])")
_AGE_AFTER = re.compile(r",[ \t]*\d{1,3}[ \t]*,")
_AGE_BEFORE = re.compile(r"\d{1,3}[-‐][Yy]ear[-‐]old[ \t]+$")
_TABLE_ROW_AFTER = re.compile(r"[ \t]+\d+(?:[ \t]+[\d.:/-]+){2,}[ \t]*(?:\n|$)")
_STANDINGS_AFTER = re.compile(r"[ \t]+(\d{1,3}(?:[ \t]+\d{1,3}){6})[ \t]*(?:\n|$)")
_SCORE_AFTER = re.compile(r"[ \t]+(?:\d{1,3}-\d{1,3}\b|\d{1,3}(?=[ \t]+[\d(.]|[ \t]*(?:\n|$)|[ \t]+[A-Z]))")
# Sports results, as news prints them: "Lincoln 1 Cambridge 1", "Nice 1 ( Chaouch 64th ) Guingamp 2",
# "Hapoel Haifa 3 Maccabi Tel Aviv 1", "California 13 BALTIMORE 0": a line of two names, each with its score
# (a country or a parenthesis after a name, scorers in parentheses after a score).
# At most six words (and joiners between), so that a search costs the same at every word of a long run.
_TEAM = rf"(?:\d{{4}}[ \t]+)?{_WORD}(?:[ \t]+(?:{_JOINER}[ \t]+)?(?:{_WORD}|['’][sm]\b)){{0,5}}"
_AFTER_NAME = r"(?:[ \t]+\([^()\n]{0,40}\))?"
# (The last scorers' parenthesis may close on the next line: "Werder Bremen 1 ( Votava / 68th )".)
_SCORE = r"[ \t]+\d{1,3}\*?(?:[ \t]+\([^()\n]{0,80}(?:\)|[ \t]*(?=\n|$)))?"
_RESULT_LINE = re.compile(
    rf"^[ \t]*(?:[^:\n]{{1,30}}:[ \t]+)?(?P<home>{_TEAM}){_AFTER_NAME}{_SCORE}[ \t]+(?P<away>{_TEAM})"
    rf"{_AFTER_NAME}{_SCORE}[ \t.]*$",
    re.MULTILINE,
)
# A cricket scorecard's innings: "Glamorgan 259 ( P. Cottey 81 ; M. Saggers 6-65 )", "At Colchester :
# Lancashire 162-4".
# European cup results name each club's country, and a line may break after the second name: "In Tirana :
# Flamurtari Vlore ( Albania ) 0 Chemlon Humenne / ( Slovakia ) 2". A name, its country, a one-digit score
# (football's; not a time, a golfer's 70 or a tennis 6-4) and another name: both are clubs.
_COUNTRY_RESULT = re.compile(
    rf"(?<![\w'’.\-])(?P<home>{_TEAM})[ \t]+\([^()\n]{{1,30}}\)[ \t]+\d[ \t]+(?P<away>{_TEAM})"
    rf"(?=[ \t]*(?:\n|$|\())"
)
_INNINGS_LINE = re.compile(
    rf"^[ \t]*(?:[^:\n]{{1,40}}:[ \t]+)?(?P<team>{_TEAM})[ \t]+\d{{2,3}}(?:-\d{{1,2}})?(?:[ \t]+\(|[ \t]*$)",
    re.MULTILINE,
)
# A cricket scorecard's fielders and bowlers: "c Crawley b Mullally 2", and bowling figures "Croft 29-6-64-1".
_DISMISSAL = re.compile(
    rf"(?<![\w'’.\-])(?:c|b|st|lbw b)[ \t]+(?P<name>{_WORD}(?:[ \t]+{_WORD}){{0,2}})(?=[ \t]+(?:b[ \t]|\d))"
)
_FIGURES = re.compile(r"\d-\d{1,2}-\d{1,3}-\d")
_BOWLING = re.compile(
    rf"(?<![\w'’.\-])(?P<name>{_WORD}(?:[ \t]+{_WORD}){{0,2}})[ \t]+\d{{1,2}}(?:\.\d)?-\d{{1,2}}-\d{{1,3}}-\d{{1,2}}\b"
)
# Fixtures: "Reading v Stoke , Southend v Swindon", "Aberdeen vs. Hearts" (then a comma, a full stop, a
# bracket, a figure or the line's end: "Roe v Wade was decided" is not one); US schedules in capitals,
# "SEATTLE AT BOSTON".
_FIXTURE = re.compile(
    rf"(?<![\w'’.\-])(?P<home>{_TEAM})[ \t]+vs?\.?[ \t]+(?P<away>{_TEAM})(?=[ \t]*(?:[,.;(\d]|\n|$))"
)
_CAPS_TEAM = r"[A-Z][A-Z.'\-]*(?:[ \t][A-Z][A-Z.'\-]*){0,2}"
_SCHEDULE_LINE = re.compile(
    rf"^[ \t]*(?P<home>{_CAPS_TEAM})[ \t]+AT[ \t]+(?P<away>{_CAPS_TEAM})[ \t]*$", re.MULTILINE
)
_TEAM_AFTER = re.compile(rf"[ \t]+(?P<team>{_TEAM})(?=[ \t]+\d|[ \t]*(?:\n|$))")
_SCORE_IN_TEXT = re.compile(r"[ \t]\d{1,3}\*?[ \t]+[(\w]")  # what a results line has: "Lincoln 1 Cambridge 1"
_MINUTE = re.compile(r"\d(?:st|nd|rd|th)\b")
_VERSUS = re.compile(r" vs?\.? ")
_BRACKETED = re.compile(rf"\([ \t]*(?P<name>{_TEAM})[ \t]*\)")
# Goal scorers in a match report: "( Chaouch 64th )", "( Klinsmann 15th , Zieger 24th and 90th )".
_SCORER = re.compile(
    rf"(?:\(|,)[ \t]*(?P<name>{_WORD}(?:[ \t]+(?:{_JOINER}[ \t]+)*{_WORD}){{0,3}})[ \t]+\d{{1,3}}(?:st|nd|rd|th)\b"
)
_ACRONYM = re.compile(r"^[A-Z][A-Z&]+$")
_LOWER_WORD = re.compile(r"\b[a-z]{2,}")
_UNIT_BEFORE = re.compile(
    r"(?:\d|\b(?:two|three|four|five|six|seven|eight|nine|ten|hundred|thousand|million))$"
)
_LINE_BREAK = re.compile("\n")
_NOT_BLANK = re.compile(r"[^ \t\u00a0\n]+")
_INITIAL = re.compile(r"^[A-Z]\.$")
_ROMAN = frozenset({"II", "III", "IV", "Jr", "Jr.", "Sr", "Sr."})

# Capitalised words that open a sentence or a clause without being names.
FUNCTION_WORDS = _words(
    """a an the in on at for but and or nor if as by he she it they we i you his her its their our my your this that
    these those when while after before since during with without from to of under over then there here what which
    who whom whose how why where all some many most no not one two three four five last next other such also both
    each every only so yet about against between into through above below up down out off again once more very just
    than too can will would should could may might must shall do does did has have had is are was were be been
    being meanwhile however although though because unless until despite according asked among around although
    even still now today yesterday tomorrow monday tuesday wednesday thursday friday saturday sunday january february
    march april june july august september october november december"""
)
# Words that open a sentence before a name without being one (with adverbs in -ly).
SENTENCE_OPENERS = _words(
    """later earlier afterwards instead indeed perhaps thus hence nevertheless nonetheless otherwise besides
    likewise finally first second third again still already soon yet once twice"""
)
# Days and months that follow a name without being part of it ("in Chicago Wednesday"); not "May".
TIME_WORDS = _words(
    """monday tuesday wednesday thursday friday saturday sunday january february april june july august
    september october november december jan feb apr jun jul aug sep sept oct nov dec"""
)
_TIME_WORDS_WRITTEN = TIME_WORDS | {w.capitalize() for w in TIME_WORDS} | {w.upper() for w in TIME_WORDS}
# Words before a person's name, written as a title ("President Clinton") or lowercase ("striker Ronaldo").
TITLES = _words(
    """mr mrs ms miss dr prof professor sir dame lord lady president vice-president president-elect premier
    chancellor minister secretary senator sen rep representative congressman congresswoman governor gov mayor judge
    justice ambassador envoy general gen lt lieutenant colonel col captain capt admiral commander sergeant sgt king
    queen prince princess emperor sheikh pope cardinal archbishop bishop rabbi imam ayatollah rev reverend father
    chairman chairwoman chairperson director spokesman spokeswoman spokesperson coach manager striker midfielder
    defender goalkeeper keeper skipper batsman bowler pitcher quarterback seed leader boss economist analyst attorney
    lawyer prosecutor candidate challenger defendant suspect actor actress singer author novelist executive officer
    chief deputy aide adviser advisor dealer trader broker negotiator mediator speaker monsignor trainer
    winger forward striker reliever pitcher catcher outfielder infielder shortstop fullback jockey rider driver
    doctor commissioner patriarch brother sister"""
)
# Titles written short with a full stop ("Sen. Dole", "Gen. Lebed"), not a sentence's end.
SHORT_TITLES = _words("mr mrs ms dr prof sen rep gov gen lt col capt sgt rev adm cmdr fr st")
# A run's last word that makes it an organisation: "Acme Inc", "Socialist Party", "Bayern FC".
ORG_SUFFIXES = _words(
    """Inc Corp Corporation Co Company Ltd Limited Plc PLC plc AG SA S.A NV N.V BV GmbH SpA AB ASA Oy LLC LLP Group
    Holdings Holding Bank Bancorp Airlines Airways Motors Industries Insurance Securities Capital Partners Investments
    Electric Electronics Telecom Telecommunications Communications Systems Technologies Technology Pharmaceuticals
    Petroleum Oil Energy Steel Mining Resources Foods Breweries Enterprises Fund Trust Exchange Agency Commission
    Authority Council Committee Ministry Department Office Bureau Service Directorate Party Front Movement Alliance
    Union Federation Association Institute Foundation Society League Club FC United Rovers Wanderers Athletic Albion
    Army Navy Police Parliament Senate Congress Assembly Court Tribunal Church University College School Academy
    Hospital Times Post Journal News Herald Gazette Tribune Telegraph Press Radio Television TV Network Broadcasting
    Board Organisation Organization Forces Guard Cabinet Reserve Management Bloc International Funds Newsroom
    Laboratories Labs"""
)
# Words of tables' and reports' labels, never in a person's name ("Net Income", "Sale Amount").
TABLE_WORDS = _words(
    """Income Revenue Revenues Amount Data Sales Sale Profit Profits Loss Losses Net Total Totals Shares Rate Rates
    Index Average Volume Turnover Dividend Earnings Assets Figures Results Estimated Expected Issuer Maturity
    Coupon Yield Status Weekly Daily Monthly Quarter Quarterly Annual Summary Latest Prior Previous"""
)
# Institutions named by one capitalised word ("the Senate voted", "the Commission said").
INSTITUTIONS = _words(
    """Senate Congress Parliament Commission Treasury Cabinet Pentagon Bundestag Bundesrat Duma Knesset Politburo
    Bundesbank Sejm Assembly Council"""
)
# The legal forms of companies: a company named with one is also named without it ("Gencor Ltd", "Gencor").
LEGAL_FORMS = _words(
    "Inc Corp Corporation Co Ltd Limited Plc PLC plc AG SA NV BV GmbH SpA AB ASA Oy LLC LLP Group Holdings"
)
# Articles of other languages that open the names of newspapers and firms, not of people.
FOREIGN_ARTICLES = _words("Le La Les Il Lo Gli El Los Las Die Der Das Het")
# Abbreviations in capitals that name no organisation.
ABBREVIATIONS = _words(
    "GDP GNP CEO CFO COO TV PC AM PM GMT EST EDT PST BST CPI PPI AIDS HIV DNA VAT IPO OTC FOB CIF OK USD PS"
)
# A run's first word that makes "X of Y" an organisation: "Bank of England", "University of Chicago".
ORG_HEADS = _words(
    "Bank University Ministry Department Council Committee Commission Court Party Union Federation Association "
    "Institute Church Academy Board Office"
)
_ORG_WORDS = ORG_SUFFIXES | ORG_HEADS
# A run's last word that makes it an event: "U.S. Open", "World Cup", "Gulf War".
EVENT_SUFFIXES = _words(
    "Open Cup Championship Championships Games Olympics Prix Trophy Tournament Rally Marathon Festival War Series "
    "Prize Slam Classic Stakes Revolution Day"
)
# Words events are named with, before their last word ("Grand Prix", "World Cup", "Super League").
EVENT_WORDS = _words("Grand World Super Champions Nations Masters Formula One County Davis Federation Ryder")
# Words beside a place that keep the longer name a place: "East Berlin", "Lake Geneva", "New South Wales".
PLACE_WORDS = _words(
    """North South East West Northern Southern Eastern Western Central Greater Upper Lower New Old Lake River Mount
    Mountains Bay Gulf Sea Island Islands Valley Province Region State County Port Cape Airport Square Street Strait
    Coast Peninsula Basin Desert District City"""
)
# A place's last word ("Palk Strait", "Wall Street"); and what comes before a place's name.
PLACE_TAILS = _words(
    "Street Strait River Sea Ocean Island Islands Bay Valley Mountains Peninsula Reef Desert Canal Bridge Falls"
)
# What comes before a firm's, a newspaper's or a club's name: "engineering concern Stork", "the daily Le Matin".
ORG_NOUNS = _words(
    """company firm group concern insurer bank maker retailer carrier airline brokerage newspaper daily weekly
    agency giant subsidiary operator producer manufacturer distributor exporter miner refiner utility
    conglomerate club"""
)
# What comes before a place's name: "in Ramallah", "near Dayana", "the town of Dayana".
PLACE_PREPOSITIONS = _words("in In near")
PLACE_NOUNS = _words(
    "town city village port province region capital suburb district island county area outskirts"
)
PLACE_LISTS = frozenset({"list:cities", "list:countries", "list:regions"})
CLUB_PLACES = frozenset({"list:cities", "list:regions"})  # what clubs are named after; countries name teams

SOURCES = {
    "PERSON": "rule:person",
    "ORG": "rule:org",
    "EVENT": "rule:event",
    "GPE": "rule:place",
}
TEAM_SOURCE = "rule:team"
ACRONYM_SOURCE = "rule:name-acronym"  # "Full Name ( ACR )", found by the token rules (nlp/patterns.py)
DEMONYM_SOURCE = "list:demonyms"  # the shipped list, read here in capitals
SHAPE_SOURCE = "rule:name-shape"  # two to four capitalised words no other rule explains: most often a person
CLUB_SHAPE_SOURCE = "rule:club-shape"  # a city inside a short name no other rule explains: a club, a guess


@cache
def demonyms_in_capitals() -> frozenset[str]:
    """The shipped nationalities and groups in capitals, as headlines write them ("SCOTTISH")."""
    found: set[str] = set()
    for line in (LISTS_DIR / "demonyms.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            found.update(name.strip().upper() for name in line.split("|") if " " not in name.strip())
    return frozenset(found)


@cache
def demonyms() -> frozenset[str]:
    """The shipped nationalities and groups as written in running text ("American", "Dutchman")."""
    found: set[str] = set()
    for line in (LISTS_DIR / "demonyms.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            found.update(name.strip() for name in line.split("|"))
    return frozenset(found)


@cache
def given_names() -> frozenset[str]:
    names: set[str] = set()
    for line in (LISTS_DIR / "given_names.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            names.update(name.strip() for name in line.split("|"))
    return frozenset(names)


class _Word(NamedTuple):
    start: int
    end: int
    text: str


def _bare(word: str) -> str:
    return word.rstrip(".").lower()


@lru_cache(maxsize=65536)
def _is_title(word: str) -> bool:
    """ "President", "Gen.", "Secretary-General", "Vice-Chairman": a title, or a hyphenated one."""
    bare = _bare(word)
    return bare in TITLES or ("-" in bare and any(part in TITLES for part in bare.split("-")))


def _segments(text: str, start: int, run: str) -> Iterable[list[_Word]]:
    """The run's words, cut where a name cannot go on: after a possessive ("Clinton's") or a full stop
    that ends a sentence ("said Clinton."); with the possessive and the stop left out."""
    if " " not in run and "\u00a0" not in run:  # one word: most runs
        word = _cut(run)[0]
        if word:
            yield [_Word(start, start + len(word), word)]
        return
    words: list[_Word] = []
    at = start
    for raw in run.replace("\u00a0", " ").split(" "):
        end = at + len(raw)
        word, cut = _cut(raw)
        if word:
            words.append(_Word(at, at + len(word), word))
        if cut:
            yield words
            words = []
        at = end + 1
    if words:
        yield words


_Segment = tuple[tuple[int, int, str], ...]  # words as (start, end, text), offsets into their run
_run_segments: dict[str, tuple[_Segment, ...]] = {}


def _trimmed_segments(run: str) -> tuple[_Segment, ...]:
    """The run's segments (`_segments`), trimmed (`_trim`), the empty ones left out; offsets from the
    run's start. Cut once per wording of a run: news repeats its names."""
    found = _run_segments.get(run)
    if found is None:
        if len(_run_segments) >= WORDING_CACHE:
            _run_segments.clear()
        trimmed = (_trim(words) for words in _segments(run, 0, run))
        found = _run_segments[run] = tuple(tuple(words) for words in trimmed if words)
    return found


def _cut(word: str) -> tuple[str, bool]:
    """A word without its possessive or sentence-ending stop, and whether a name ends with it (each word
    decided once: news repeats its words)."""
    found = _cuts.get(word)
    if found is None:
        if len(_cuts) >= WORDING_CACHE:
            _cuts.clear()
        found = _cuts[word] = _cut_word(word)
    return found


_cuts: dict[str, tuple[str, bool]] = {}


def _cut_word(word: str) -> tuple[str, bool]:
    if word.endswith(("'s", "’s")):
        return word[:-2], True
    if word.endswith(("'", "’", "-")) or (word.endswith(".") and not _abbreviation(word)):
        return word[:-1], True
    return word, False


def _abbreviation(word: str) -> bool:
    """Whether a final full stop belongs to the word: "U.S.", "Inc.", "St.", "J."."""
    core = word[:-1]
    return (
        "." in core or len(core) <= 2 or core in {"Inc", "Corp", "Ltd", "Bros", "Gen", "Capt", "Sgt", "Rev"}
    )


def _trim(words: list[_Word]) -> list[_Word]:
    first = 0
    while first < len(words) and (
        words[first].text.lower() in FUNCTION_WORDS or words[first].text in JOINERS
    ):
        first += 1
    last = len(words)
    while last > first and (words[last - 1].text in JOINERS or words[last - 1].text in _TIME_WORDS_WRITTEN):
        last -= 1  # "Vaduz for Saturday", "Emnid July"
    return words[first:last]


def _name_like(words: list[_Word]) -> bool:
    """Whether words can be a person's name: one to four capitalised words (particles inside), none of them
    a title, an organisation word or in capitals (an initial or a numeral aside)."""
    return _texts_name_like(tuple([word.text for word in words]))


def _texts_name_like(texts: tuple[str, ...]) -> bool:
    """`_name_like` of the words' texts."""
    if not 1 <= len(texts) <= 4 or texts[0] in JOINERS or texts[-1] in JOINERS:
        return False
    if len(texts) == 1 and texts[0] in demonyms():
        return False  # "the 27-year-old American"
    return all(_in_a_name(text) for text in texts)


@lru_cache(maxsize=65536)
def _in_a_name(text: str) -> bool:
    """Whether a word may stand in a person's name (asked of the same words again and again)."""
    if text in _NOT_IN_PEOPLE:
        return False
    if text in JOINERS or text in _ROMAN or _INITIAL.match(text):
        return True
    if text.isupper() or not text[0].isupper() or len(text) < 2:
        return False
    return not (
        _is_title(text)
        or text in ORG_SUFFIXES
        or text in EVENT_SUFFIXES
        or text in TABLE_WORDS
        or text.lower() in FUNCTION_WORDS
    )


def _span(words: list[_Word]) -> tuple[int, int]:
    return words[0].start, words[-1].end


@lru_cache(maxsize=4096)
def _distinctive(word: str) -> bool:
    """Whether one word of a longer organisation's name may stand for it alone: not a common word, a
    nationality, a title or a word of organisations', places' or events' names in general."""
    return (
        len(word) > 2
        and word[0].isupper()
        and not word.isupper()
        and word.lower() not in FUNCTION_WORDS
        and word not in _ORG_WORDS
        and word not in PLACE_WORDS
        and word not in EVENT_WORDS
        and word not in FOREIGN_ARTICLES
        and word not in demonyms()
        and not _is_title(word)
    )


def _candidate(fields: tuple[int, int, str, str, None]) -> Candidate:
    """A Candidate from its fields (a NamedTuple's own constructor costs as much again)."""
    return tuple.__new__(Candidate, fields)


class _Found:
    def __init__(self, text: str) -> None:
        self.text = text
        self.candidates: list[Candidate] = []
        self.people: dict[str, str] = {}  # a person's name and surname -> the source that found them
        self.orgs: dict[str, str] = {}  # an organisation's name (and without "Inc") -> the source
        self.places_maybe: set[int] = set()  # where a segment after "in" or "the town of" starts
        self.headlines: dict[int, bool] = {}  # line start -> whether the line is a headline
        self.breaks: list[int] | None = None  # where the text's lines break, once asked

    def headline(self, at: int) -> bool:
        if self.breaks is None:
            self.breaks = [match.start() for match in _LINE_BREAK.finditer(self.text)]
        line = bisect_left(self.breaks, at)
        start = self.breaks[line - 1] + 1 if line else 0
        found = self.headlines.get(start)
        if found is None:
            found = self.headlines[start] = _headline(self.text, start)
        return found

    def add(self, words: list[_Word], label: str, source: str | None = None) -> None:
        source = source or SOURCES[label]
        self.candidates.append(_candidate((words[0].start, words[-1].end, label, source, None)))
        if label == "ORG":
            self.organisation([w.text for w in words], source)

    def organisation(self, words: list[str], source: str) -> None:
        """An organisation's name to find again later in the text, also without its legal form
        ("Gencor" after "Gencor Ltd")."""
        name = " ".join(words)
        self.orgs.setdefault(name, source)
        if name.isupper() and source in (TEAM_SOURCE, CLUB_SHAPE_SOURCE):
            self.orgs.setdefault(string.capwords(name), source)  # "SEATTLE AT BOSTON", then "Seattle"
        if len(words) > 1 and words[-1].rstrip(".") in LEGAL_FORMS:
            rest = words[:-1]
            if rest[-1] in ("&", "and"):
                return  # "Smith & Co"
            short = " ".join(rest)
            if short.lower() not in FUNCTION_WORDS and len(short) > 2:
                self.orgs.setdefault(short, source)
        elif len(words) in (2, 3) and words[-1] in ORG_SUFFIXES and _distinctive(words[0]):
            self.orgs.setdefault(words[0], source)  # "Vestas" after "Vestas Wind Systems"

    def club(self, words: list[_Word], places: dict[int, Candidate]) -> None:
        """A club named after its city, and its other word to find again alone ("Bayern" after "Bayern
        Munich"). A guess from the shape of the name: its own source, weighed as one."""
        self.add(words, "ORG", CLUB_SHAPE_SOURCE)
        place = next(places[w.start] for w in words if w.start in places)
        others = [w.text for w in words if not place.start <= w.start < place.end and w.text not in JOINERS]
        if len(others) == 1 and _distinctive(others[0]):
            self.orgs.setdefault(others[0], CLUB_SHAPE_SOURCE)

    def person(self, words: list[_Word], source: str = SOURCES["PERSON"]) -> None:
        """A person, and their name and surname to find again alone later in the text."""
        self.add(words, "PERSON", source)
        self.people.setdefault(" ".join(w.text for w in words), source)
        if len(words) > 1 and words[-1].text not in _ROMAN:
            self.people.setdefault(words[-1].text, source)


def find_names(text: str, listed: Iterable[Candidate] = (), *, guesses: bool = True) -> list[Candidate]:
    """Candidates the name rules see in `text` (as given, line breaks included; offsets are code points).
    `listed`: the other sources' candidates in the same text, so that a city before a score becomes a
    club. `guesses`: also the rules that guess from the shape of a name alone (a place inside longer
    capitalised words is a club, "Bayern Munich"; two to four capitalised words no rule or list explains
    are a person), for when no model is there to say."""
    listed = list(listed)
    places = {c.start: c for c in listed if c.source in PLACE_LISTS}
    found = _Found(text)
    taken = _results(text, places, found)
    for team in _teams(text, places.values()):
        found.candidates.append(team)
        found.organisation([text[team.start : team.end]], TEAM_SOURCE)
    nationalities = sorted((c.start, c.end) for c in listed if c.source == DEMONYM_SOURCE)
    for (start, end), (after, last) in pairwise(nationalities):
        if after - end == 1 and text[end] in " -":  # "Iraqi Kurdish", "Russian-Chechen": one group
            found.candidates.append(Candidate(start, last, "NORP", DEMONYM_SOURCE))
    for c in listed:
        if c.source == ACRONYM_SOURCE:  # "Patriotic Union of Kurdistan ( PUK )": both, to find again
            found.orgs.setdefault(text[c.start : c.end], ACRONYM_SOURCE)
    make = tuple.__new__  # a NamedTuple's own constructor costs as much again, per word
    left: list[list[_Word]] = []  # segments no rule took: a name repeated alone may be among them
    capitals: list[tuple[int, str]] = []  # runs in capitals inside lines: headlines, acronyms
    for match in _RUN.finditer(text):
        run = match.group()
        if run.lower() in FUNCTION_WORDS:
            continue  # "The", "He": most runs, at the start of sentences
        if run.isupper() and not _line_start(text, match.start()):
            # Acronyms and headlines in capitals: only the lists speak there (see _judge), and names
            # the text also writes in lowercase ("GOOCH TO PLAY" above "Graham Gooch"), at the end.
            capitals.append((match.start(), run))
            continue
        at = match.start()
        for segment in _trimmed_segments(run):
            words = [make(_Word, (at + start, at + end, word)) for start, end, word in segment]
            if taken and taken[words[0].start]:
                continue  # a team or a scorer of a results line
            if len(words) >= 3 and words[0].text in demonyms() and words[1].text in given_names():
                words = words[1:]  # "Dutchman Richard Wisinga": the list has the nationality
            if len(words) >= 3 and words[-2].text == "of" and _listed_at(places, words[-1:]):
                # "Jannik Sinner of Italy", "Galatasaray of Turkey": the place is the lists'; not
                # "Bank of England" or "Duke of Edinburgh".
                head = words[-3].text
                if head not in _ORG_WORDS and not _is_title(head):
                    words = words[:-2]
            if not _judge(text, words, places, found, guesses=guesses):
                if words[0].text.isupper() and all(w.text.isupper() for w in words):
                    start, end = _span(words)
                    capitals.append((start, text[start:end]))
                else:
                    left.append(words)
    left = _again(text, left, found, places)
    if found.places_maybe:
        for words in [w for w in left if w[0].start in found.places_maybe]:
            found.add(words, "GPE")
            left.remove(words)
    if guesses:
        claimed = bytearray(len(text) + 1)
        for c in listed:
            claimed[c.start : c.end] = b"\x01" * (c.end - c.start)
        rest = []
        for words in left:
            if len(words) >= 3 and words[0].text in demonyms():
                words = words[1:]  # "Dutchman Richard Wisinga": the list has the nationality
            start, end = _span(words)
            if len(words) < 2 or claimed.find(1, start, end) != -1 or found.headline(start):
                rest.append(words)
            elif words[0].text in FOREIGN_ARTICLES and words[-1].text[0].isupper():
                found.add(words, "ORG")  # "Le Matin", "La Jornada", "Die Welt": a title, not a person
            elif words[0].text in PLACE_WORDS and _name_like(words[1:]):
                found.add(words, "LOC", SOURCES["GPE"])  # "North Shore", "Old Trafford": a place
            elif _name_like(words):
                found.person(words, SHAPE_SOURCE)
            else:
                rest.append(words)
        _again(text, rest, found, places)
    if "(" in text:
        _clubs_of_people(text, places, found)
    _in_capitals(text, capitals, places, found)
    return found.candidates


def _clubs_of_people(text: str, places: dict[int, Candidate], found: _Found) -> None:
    """A name in brackets after a person's is their club ("Vladimir Smicer ( Lens )", "Jacek Berensztain
    ( GKS Belchatow )"), unless it is a place the lists know ("Andre Agassi ( U.S. )") or another rule's
    name (a guess from the shape of a name gives way)."""
    people_ends = {c.end for c in found.candidates if c.label == "PERSON"}
    if not people_ends:
        return
    for match in _BRACKETED.finditer(text):
        before = match.start()
        while before > 0 and text[before - 1] in " \t":
            before -= 1
        if before not in people_ends:
            continue
        start, end = match.span("name")
        if start in places or match.group("name") in demonyms():
            # "( Yugoslavia )", "( Argentine )": where they come from; then maybe their team, in results
            # ("Michael Schumacher ( Germany ) Ferrari 1:53.1", "Olivier Panis ( France ) Ligier").
            after = _TEAM_AFTER.match(text, match.end())
            if after is not None:
                _club_of(text, *after.span("team"), places, found)
            continue
        _club_of(text, start, end, places, found)


def _club_of(text: str, start: int, end: int, places: dict[int, Candidate], found: _Found) -> None:
    words = _trim(_plain_words(text, start, end))
    if not words or words[0].start != start or start in places or _given(words, None):
        return
    taken = [c for c in found.candidates if c.start < end and start < c.end]
    if any(c.source != SHAPE_SOURCE for c in taken):
        return
    for c in taken:
        found.candidates.remove(c)
    found.add(words, "ORG", TEAM_SOURCE)


def _in_capitals(
    text: str, capitals: list[tuple[int, str]], places: dict[int, Candidate], found: _Found
) -> None:
    """Names found elsewhere in the text, and nationalities, written in capitals ("GOOCH TO PLAY ANOTHER
    SEASON", "AJAX SIGN ARGENTINE STRIKER", "SCOTTISH"): the longest known name at each word."""
    known: dict[str, tuple[str, str]] = {}
    for name, source in found.orgs.items():
        known.setdefault(name.upper(), ("ORG", source))
    for name, source in found.people.items():
        known.setdefault(name.upper(), ("PERSON", source))
    demonyms = demonyms_in_capitals()
    place_ends = {c.end: c.start for c in places.values()}
    for start, run in capitals:
        for words in _segments(text, start, run):
            _events_in_capitals(words, demonyms, place_ends, found)
            at = 0
            while at < len(words):
                for end in range(min(len(words), at + 4), at, -1):
                    part = words[at:end]
                    name = " ".join(w.text for w in part)
                    label_source = known.get(name)
                    if label_source is None and end == at + 1 and name in demonyms:
                        label_source = ("NORP", DEMONYM_SOURCE)
                    if label_source is not None and not _listed_at(places, part):
                        found.add(part, *label_source)
                        at = end
                        break
                else:
                    if len(words) == 1 and _acronym_in_text(text, words[0], places):
                        found.add(words, "ORG")  # "said the SPLA", "an SDA official"
                    at += 1


def _events_in_capitals(
    words: list[_Word], demonyms: frozenset[str], place_ends: dict[int, int], found: _Found
) -> None:
    """Events in a capitals headline: an event's word after nationalities, places or words events are
    named with ("RESULTS AT CANADIAN OPEN", "SCHUMACHER WINS BELGIAN GRAND PRIX", "HONG KONG OPEN")."""
    for index in range(1, len(words)):
        if words[index].text.title() not in EVENT_SUFFIXES:
            continue
        first = index
        while first > 0:
            word = words[first - 1]
            if word.text in demonyms or word.text.title() in EVENT_WORDS:
                first -= 1
            elif word.end in place_ends:
                begins = place_ends[word.end]
                while first > 0 and words[first - 1].start >= begins:
                    first -= 1
            else:
                break
        if first < index and words[first].text.title() not in EVENT_SUFFIXES:
            found.add(words[first : index + 1], "EVENT")


def _acronym_in_text(text: str, word: _Word, places: dict[int, Candidate]) -> bool:
    """Whether a word in capitals is an organisation's acronym in running text ("the SPLA said"): two to
    six capitals, lowercase words on both sides on its line (not a headline), not a place the lists know
    ("UK"), a company's legal form ("AG") or a common abbreviation ("GDP", "CEO")."""
    name = word.text
    if not 2 <= len(name) <= 6 or not _ACRONYM.match(name) or name in LEGAL_FORMS or name in ABBREVIATIONS:
        return False
    if name in _ROMAN or _listed_at(places, [word]):
        return False
    before = text[max(0, word.start - 20) : word.start]
    after = text[word.end : word.end + 20]
    before = before[before.rfind("\n") + 1 :].rstrip()
    after = after.split("\n", 1)[0].lstrip()
    if not before or before[-1] in "($" or after[:1] in ("(", ")", "$") or _UNIT_BEFORE.search(before):
        return False  # "spring ( DNS )": the token rules' business; "HK$", "500 KV", "two RBI": units
    return _LOWER_WORD.search(before) is not None and (
        _LOWER_WORD.search(after) is not None or after[:1] in (".", ",", ";", ":", '"')
    )


def _word_before(text: str, start: int) -> str:
    """The word before `start` on its line, across one blank ("" when there is none)."""
    if start < 2 or text[start - 1] not in " \t":
        return ""
    begin = start - 2
    stop = max(0, start - 24)
    while begin >= stop and text[begin] not in " \t\n(":
        begin -= 1
    return text[begin + 1 : start - 1]


def _listed_at(places: dict[int, Candidate], words: list[_Word]) -> bool:
    listed = places.get(words[0].start)
    return listed is not None and listed.end >= words[-1].end


def _results(text: str, places: dict[int, Candidate], found: _Found) -> bytearray | None:
    """Teams in results lines, fixtures and schedules, and goal scorers in match reports; the characters
    they took (None when the text has none: most texts, found by three searches over it)."""
    taken: bytearray | None = None

    def team(start: int, end: int) -> None:
        nonlocal taken
        listed = places.get(start)
        if listed is not None and listed.end == end and listed.source not in CLUB_PLACES:
            return  # a country there is its national team, which news annotation labels as the country
        words = _trim(_plain_words(text, start, end))
        if words and words[-1].text.endswith(".") and not _abbreviation(words[-1].text):
            last = words[-1]  # "Southend v Swindon."
            words[-1] = _Word(last.start, last.end - 1, last.text[:-1])
            end -= 1
        if not words or (len(words) > 1 and _given(words, None)):
            return  # "Petr Korda v Qualifier": players
        found.add(words, "ORG", TEAM_SOURCE)
        if taken is None:
            taken = bytearray(len(text) + 1)
        taken[start:end] = b"\x01" * (end - start)

    if _SCORE_IN_TEXT.search(text):
        for match in _RESULT_LINE.finditer(text):
            team(*match.span("home"))
            team(*match.span("away"))
        for match in _INNINGS_LINE.finditer(text):
            team(*match.span("team"))
        if ") " in text:
            for match in _COUNTRY_RESULT.finditer(text):
                team(*match.span("home"))
                team(*match.span("away"))
        if _MINUTE.search(text):
            for match in _SCORER.finditer(text):
                start, end = match.span("name")
                words = _trim(next(iter(_segments(text, start, match.group("name"))), []))
                listed = places.get(start)
                if words and _name_like(words) and not (listed and listed.end >= words[-1].end):
                    found.person(words)
                    if taken is None:
                        taken = bytearray(len(text) + 1)
                    taken[start:end] = b"\x01" * (end - start)
    if " b " in text:  # a cricket scorecard: "Mushtaq Ahmed c Crawley b Mullally 2", "Croft 29-6-64-1"
        patterns = (_DISMISSAL, _BOWLING) if _FIGURES.search(text) else (_DISMISSAL,)
        for pattern in patterns:
            for match in pattern.finditer(text):
                start, end = match.span("name")
                words = _plain_words(text, start, end)
                if _name_like(words) and not _listed_at(places, words):
                    found.person(words)
                    if taken is None:
                        taken = bytearray(len(text) + 1)
                    taken[start:end] = b"\x01" * (end - start)
    if _VERSUS.search(text):
        for match in _FIXTURE.finditer(text):
            team(*match.span("home"))
            team(*match.span("away"))
    if " AT " in text:
        for match in _SCHEDULE_LINE.finditer(text):
            team(*match.span("home"))  # the visitors; the hosts' city is where they play
            start, end = match.span("away")
            found.add([_Word(start, end, match.group("away"))], "GPE")
    return taken


def _plain_words(text: str, start: int, end: int) -> list[_Word]:
    """The words of [start, end) as they are ("Queen 's Park": a team's name keeps its possessive)."""
    return [_Word(m.start(), m.end(), m.group()) for m in _NOT_BLANK.finditer(text, start, end)]


def _again(
    text: str, left: list[list[_Word]], found: _Found, places: dict[int, Candidate]
) -> list[list[_Word]]:
    """A person's name or surname found again alone ("Clinton" after "Bill Clinton"), also after a
    sentence's first word ("Later Clinton left") unless the text has those words together twice ("Jannik
    Sinner ... Final: Jannik Sinner"). Returns the segments still left."""
    rest = []
    people = found.people
    names = [words[0].text if len(words) == 1 else " ".join(w.text for w in words) for words in left]
    twice = {name for name, count in Counter(names).items() if count > 1}
    for words, name in zip(left, names, strict=True):
        if name in people and _name_like(words):
            found.add(words, "PERSON", people[name])
            continue
        source = found.orgs.get(name)
        if source is not None and (
            not _listed_at(places, words)
            or (
                source in (TEAM_SOURCE, CLUB_SHAPE_SOURCE)
                and _word_before(text, words[0].start) not in PLACE_PREPOSITIONS
            )
        ):
            # A club named after its city is the club again in the same report ("Barcelona beat ..."),
            # but not "in Barcelona".
            found.add(words, "ORG", source)
            continue
        if len(words) > 2 and words[-2].text == "of" and words[-1].text in found.orgs:
            found.add(words[-1:], "ORG", found.orgs[words[-1].text])  # "Shares of Vestas"
            continue
        if len(words) < 2:
            rest.append(words)
            continue
        tail = " ".join(w.text for w in words[1:])
        if (
            tail in people
            and _opener(words[0].text)
            and name not in twice
            and _sentence_start(text, words[0].start)
            and _name_like(words[1:])
        ):
            found.add(words[1:], "PERSON", found.people[tail])
            continue
        rest.append(words)
    return rest


def _opener(word: str) -> bool:
    """Whether a capitalised word opens a sentence without being a name ("Later Clinton left", "Earlier
    Smith said"): not "Cathy Freeman", whose given name no list knows."""
    bare = word.lower()
    return bare in SENTENCE_OPENERS or (bare.endswith("ly") and len(bare) > 4)


def _line_start(text: str, at: int) -> bool:
    """Whether only blanks stand between the start of `at`'s line and `at` (looking back over the blanks
    only: a text of one long line costs no more than one of many)."""
    before = at - 1
    while before >= 0 and text[before] in " \t\u00a0":
        before -= 1
    return before < 0 or text[before] == "\n"


def _sentence_start(text: str, start: int) -> bool:
    before = text[max(0, start - 3) : start].rstrip(" \t\u00a0\"'“‘")
    return not before or before[-1] in ".!?:;\n"


class _Shape(NamedTuple):
    """What a segment's words say wherever they stand (news repeats its names: judged once per wording)."""

    capitals: bool  # every word in capitals
    name_like: bool  # `_name_like` of all the words
    title: int  # the index of the last title before the last word, -1 when none
    title_name: bool  # the words after that title are name-like
    given: bool  # `_given`: a given name or an initial, then name-like words
    organisation: int  # where the organisation's name starts when the words end like one, else -1
    event: bool  # the last word names events
    place_tail: bool  # "Palk Strait": a place's last word after name-like words
    institution: bool  # one word naming an institution ("Senate")
    in_a_name: bool  # every word may stand in a name


@lru_cache(maxsize=WORDING_CACHE)
def _shape(texts: tuple[str, ...]) -> _Shape:
    count = len(texts)
    name_like = _texts_name_like(texts)
    title = next((index for index in range(count - 2, -1, -1) if _is_title(texts[index])), -1)
    last = texts[-1].rstrip(".")
    first = texts[0]
    return _Shape(
        capitals=all(text.isupper() for text in texts),
        name_like=name_like,
        title=title,
        title_name=title >= 0 and _texts_name_like(texts[title + 1 :]),
        given=count >= 2 and (first in given_names() or _INITIAL.match(first) is not None) and name_like,
        organisation=(
            _organisation_start(texts) if count >= 2 and (last in ORG_SUFFIXES or _org_of(texts)) else -1
        ),
        event=count >= 2 and last in EVENT_SUFFIXES,
        place_tail=count >= 2 and last in PLACE_TAILS and _texts_name_like(texts[:-1]),
        institution=count == 1 and first in INSTITUTIONS,
        in_a_name=all(_in_a_name(text) for text in texts),
    )


def _judge(
    text: str, words: list[_Word], places: dict[int, Candidate], found: _Found, *, guesses: bool
) -> bool:
    """Apply the rules to one trimmed segment; whether one took it."""
    if not words:
        return True
    start, end = words[0].start, words[-1].end
    count = len(words)
    shape = _shape((words[0].text,) if count == 1 else tuple([w.text for w in words]))
    line_start = _line_start(text, start)
    if (
        line_start
        and count <= 3
        and (_DATELINE_AFTER.match(text, end) or (shape.capitals and _DATELINE_CAPS_AFTER.match(text, end)))
    ):
        found.add(words, "GPE")
        return True
    if line_start and _TABLE_ROW_AFTER.match(text, end):
        # A results table's row: "Barcelona 4 3 1 0 9 4 10", "BALTIMORE 63 59 .516 2"; or a player's
        # ("Ijaz Ahmed 3 6 1 344 141 68.80").
        if shape.given and not _standings(text, end):
            found.person(words)
            return True
        listed = places.get(start)
        if listed is None or listed.end != end or listed.source in CLUB_PLACES:
            found.add(words, "ORG", TEAM_SOURCE)
        return True
    if shape.capitals:
        if count == 1 and _acronym_in_text(text, words[0], places):
            found.add(words, "ORG")  # "The PUK said"
            return True
        return False  # headlines: only the lists, datelines and names known from the text speak there
    if _title(text, words, shape, found) or _aged(text, words, shape, found):
        return True
    if count >= 2:
        if shape.organisation >= 0:
            found.add(words[shape.organisation :], "ORG")
            return True
        if shape.event:
            found.add(words, "EVENT")
            return True
        if guesses and _club(words, places) and not found.headline(start):
            found.club(words, places)
            return True
        if shape.place_tail:
            found.add(words, "LOC", SOURCES["GPE"])  # "Palk Strait", "Wall Street", "Guantanamo Bay"
            return True
    if shape.institution:
        found.add(words, "ORG")  # "the Senate voted", "the Commission said"
        return True
    if count <= 3 and shape.in_a_name and text.startswith(" airport", end):
        found.add(words, "LOC", SOURCES["GPE"])  # "at Heathrow airport"
        return True
    if count > 4:
        return False
    before = _word_before(text, start)
    if before in ORG_NOUNS and not _listed_at(places, words) and words[0].text not in demonyms():
        found.add(words, "ORG")  # "engineering concern Stork", "the daily Gazeta Shqiptare"
        return True
    if (
        count <= 3
        and (
            before in PLACE_PREPOSITIONS or (before == "of" and _word_before(text, start - 3) in PLACE_NOUNS)
        )
        and not text.startswith((" v ", " v. ", " vs ", " vs. "), end)  # "in Roe v Wade"
        and not _listed_at(places, words)
        and shape.in_a_name
        and not found.headline(start)
    ):
        # "in Ramallah", "the town of Dayana"; unless the text names a person or an organisation so
        # ("in Johnson's absence"): decided after the names found again.
        found.places_maybe.add(start)
    return False


def _organisation_start(texts: tuple[str, ...]) -> int:
    """Where an organisation's name starts in words that end like one, without what opens its sentence:
    "Chipmaker Qualtek Inc", "Results of English Premier League" (a common noun before the name, or
    before an "of" no organisation's word heads)."""
    if _org_of(texts):
        return 0
    if "of" in texts[1:-1]:
        return max(i for i, text in enumerate(texts) if text == "of") + 1
    first = texts[0].lower()
    if len(texts) > 2 and (first in ORG_NOUNS or first.endswith("maker")):
        return 1
    return 0


def _org_of(texts: tuple[str, ...]) -> bool:
    """ "Bank of England", "Socialist Party of Montenegro": an organisation's word before "of"."""
    return any(
        text == "of" and index > 0 and texts[index - 1] in _ORG_WORDS for index, text in enumerate(texts[:-1])
    )


def _title(text: str, words: list[_Word], shape: _Shape, found: _Found) -> bool:
    """A name after the last title in the segment ("Russian President Boris Yeltsin"), or after a
    lowercase title just before it ("striker Ronaldo", "said spokesman Nicholas Burns"); else a given
    name ("Bill Clinton")."""
    if shape.title >= 0:
        if shape.title_name:
            found.person(words[shape.title + 1 :])
            # What comes before the title ("Bundesbank" in "Bundesbank President Hans Tietmeyer") is
            # left to the other sources.
            return True
    elif shape.name_like:
        start = words[0].start
        if start >= 2 and text[start - 1] == " ":
            before = text[text.rfind(" ", 0, start - 1) + 1 : start - 1]
            # After "chief." a sentence ended ("the Bank of England's chief. Bayern Munich won").
            if _is_title(before) and not (before.endswith(".") and _bare(before) not in SHORT_TITLES):
                found.person(words)
                return True
    if shape.given:
        found.person(words)
        return True
    return False


def _standings(text: str, end: int) -> bool:
    """Whether the numbers after a row's name are a league table's: played, won, drawn, lost, goals for
    and against, points, where played = won + drawn + lost and points = 3 or 2 a win plus a draw
    ("Petra Drnovice 3 1 1 1 7 5 4": a club, though "Petra" is a given name). A player's row is not."""
    match = _STANDINGS_AFTER.match(text, end)
    if match is None:
        return False
    played, won, drawn, lost, _, _, points = map(int, match.group(1).split())
    return played == won + drawn + lost and points in (3 * won + drawn, 2 * won + drawn)


def _given(words: list[_Word], found: _Found | None) -> bool:
    """ "Bill Clinton", "José María Olazábal", "J. Smith": a given name or an initial, then capitalised
    words (a person, when `found` is given)."""
    first = words[0].text
    if len(words) >= 2 and (first in given_names() or _INITIAL.match(first)) and _name_like(words):
        if found is not None:
            found.person(words)
        return True
    return False


def _aged(text: str, words: list[_Word], shape: _Shape, found: _Found) -> bool:
    """ "Smith, 34," and "34-year-old Smith": an age names a person."""
    if len(words) > 3 or not shape.name_like:
        return False
    start, end = words[0].start, words[-1].end
    if (text.startswith(",", end) and _AGE_AFTER.match(text, end)) or (
        "old" in text[max(0, start - 6) : start] and _AGE_BEFORE.search(text, max(0, start - 20), start)
    ):
        found.person(words)
        return True
    return False


def _headline(text: str, start: int) -> bool:
    """Whether the line that starts at `start` is a headline in title case ("Moscow Releases S500M Loan
    to Isolated Belarus"): four words or more, nearly all capitalised, at most one number, no full stop at
    its end. Names cannot be told by their capitals there."""
    end = text.find("\n", start)
    line = text[start : end if end != -1 else len(text)].strip()
    if line.endswith((".", "!", "?", ";", ":", ",", '"', "”")):
        return False  # a sentence
    tokens = line.split()
    words = [word for word in tokens if word.isalpha() or any(ch.isalpha() for ch in word)]
    if len(words) < 4 or len(tokens) - len(words) > 1:
        return False  # short, or a results line ("Vinko Marinovic (Croatia) 3 1 12")
    capitalised = sum(1 for word in words if word[0].isupper() or word.lower() in JOINERS)
    return capitalised >= 0.8 * len(words)


def _club(words: list[_Word], places: dict[int, Candidate]) -> bool:
    """Whether the segment is a short name around a city or region ("Bayern Munich", "Chicago Cubs",
    "Munich Re") that is not itself a place ("East Berlin", "Lake Geneva"). A country's name inside longer
    words is not a club ("Belarus Spy Agencies"), nor are headlines' runs of four words or more."""
    if len(words) > 3:
        return False
    end = words[-1].end
    inside = [
        places[w.start]
        for w in words
        if w.start in places and places[w.start].end <= end and places[w.start].source in CLUB_PLACES
    ]
    if not inside:
        return False
    covered = {(c.start, c.end) for c in inside}
    others = [
        w for w in words if not any(s <= w.start and w.end <= e for s, e in covered) and w.text not in JOINERS
    ]
    return bool(others) and not any(w.text in PLACE_WORDS or _is_title(w.text) for w in others)


def _teams(text: str, places: Iterable[Candidate]) -> list[Candidate]:
    """A city followed by a score ("Marseille 2 Lyon 1", "CHICAGO 63 59 .516", "beat Barcelona 3-1") is
    the club. A country there is its national team, which news annotation labels as the country."""
    return [
        Candidate(c.start, c.end, "ORG", TEAM_SOURCE)
        for c in places
        if c.source in CLUB_PLACES and _SCORE_AFTER.match(text, c.end)
    ]
