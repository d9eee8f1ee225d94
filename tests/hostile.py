"""A corpus of hostile text: markup, template syntax, bidi overrides, emoji, combining marks, control characters.

Every payload that could run marks itself, so that a test can tell: an element it would inject carries
`data-pwned`, and code it would run sets `window.__pwned` (some also call `alert`). A page that shows these
strings safely has no `[data-pwned]` element, no `window.__pwned`, no dialog, and shows each string as text.
Strings are cut to the length of the column they go into (PostgreSQL enforces it, SQLite does not).
"""

SCRIPT = '<script>window.__pwned="script";alert(1)</script>'
IMG = "<img data-pwned src=x onerror=\"window.__pwned='img'\">"
SVG = '"><svg data-pwned onload="window.__pwned=\'svg\'">'
JS_LINK = "<a data-pwned href=\"javascript:window.__pwned='link'\">x</a>"
# htmx would act on these attributes if they became an element: a POST to log out, with the page's CSRF header.
HTMX = '<div data-pwned hx-post="/accounts/logout/" hx-trigger="load">'
# A request that leaves the site if this became an element.
BEACON = '<img data-pwned src="https://evil.example/beacon.png">'
STYLE = "<style data-pwned>body{background:url(https://evil.example/css)}</style>"
TEMPLATE = "{{ 7|add:1 }} {% now 'Y' %}"
CLOSERS = "</textarea></title></style>"
RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE: "\u202egnp.exe" reads as "exe.png"
PDF = "\u202c"  # POP DIRECTIONAL FORMATTING, ends an override
ZWJ_FAMILY = "\U0001f469\u200d\U0001f469\u200d\U0001f467"  # one grapheme, five code points
SKIN_TONE = "\U0001f44b\U0001f3fd"  # waving hand, medium skin tone
ASTRONAUT = "\U0001f469\U0001f3ff\u200d\U0001f680"  # woman astronaut, dark skin tone
FLAG = "\U0001f1e7\U0001f1fe"  # Belarus: two regional indicators
COMBINING = "Zoe\u0308 cafe\u0301 Z\u0351\u0364\u0307"
ARABIC = "مرحبا بالعالم"
HEBREW = "שלום"
CONTROLS = "\x07\x1b[31m\x0b\x08"  # bell, an ANSI colour escape, vertical tab, backspace: everything but NUL

PROJECT_NAME = f"{IMG} {TEMPLATE} Проект {ZWJ_FAMILY}{SKIN_TONE} {RLO}gnp.exe"
PROJECT_DESCRIPTION = f"{SCRIPT}{SVG} {COMBINING} {CONTROLS}"  # under the 160 characters the list shows

PERSON = "<b data-pwned>PER</b>{{ x }}" + ASTRONAUT
GPE = "\"><svg data-pwned onload=__pwned='gpe'>"
ORG = "</textarea>{% now 'Y' %}" + RLO + "ORG"
TYPE_DESCRIPTION = f"{SCRIPT} {JS_LINK} {ARABIC}"
# Outside the #rrggbb the form allows (a row written past the form): schema.css must leave it out.
BAD_COLOUR = "</style"
MET = "<i data-pwned>met</i> {{ r }}"
NEAR = f"{RLO}near{PDF} {HEBREW} {SKIN_TONE}"
ATTRIBUTE_NAME = f"<u data-pwned>negated</u> {TEMPLATE}"
ATTRIBUTE_VALUE = f"{SVG} {RLO}eulav"

KB_NAME = f"{BEACON} KB {ARABIC}"
KB_DESCRIPTION = f"{STYLE} {TEMPLATE}"
MINSK_NAME = f"Minsk {IMG}{RLO}ksniM"
MINSK_ID = "\"><img data-pwned src=x onerror=__pwned='kbid'>"
MINSK_ALIAS = f"{SVG} Мінск {ZWJ_FAMILY}"
ENTITY_DESCRIPTION = f"{SCRIPT} {JS_LINK} {COMBINING} {CONTROLS}"
NARYSHKIN_NAME = f"Sergey Naryshkin {SKIN_TONE} {TEMPLATE}"

# The annotated article: every line mixes payloads with names the spans and suggestions sit on.
ARTICLE_TEXT = (
    f"Intro {SCRIPT} {ZWJ_FAMILY} and {SKIN_TONE} by {COMBINING}.\n"
    f"Sergey Naryshkin {FLAG} met {IMG} in Minsk {HTMX}.\n"
    f"{ARABIC} {RLO}gnp.exe{PDF} {TEMPLATE} {CLOSERS} {CONTROLS} {BEACON}\n"
    f"{SVG} {JS_LINK} {STYLE}"
)
ARTICLE_TITLE = f"{SCRIPT} {TEMPLATE} {ZWJ_FAMILY} {RLO}gnp.exe"
EXTERNAL_ID = f"{SVG}{FLAG}"
METADATA = {
    "source": IMG,
    "<b data-pwned>key</b>": JS_LINK,
    "url": "javascript:window.__pwned='meta'",
    "language": '"><img data-pwned src=x onerror=__pwned=1>',
}
SECOND_TITLE = f"{HTMX} {ARABIC} {SKIN_TONE}"

# Surfaces of the spans and suggestions on the annotated article (each occurs once in its text).
NARYSHKIN_SURFACE = f"Sergey Naryshkin {FLAG}"
IMG_SURFACE = IMG
OVERRIDE_SURFACE = f"{RLO}gnp.exe{PDF}"
MINSK_SURFACE = "Minsk"

GUIDELINES = f"""# Guide {ZWJ_FAMILY}

{SCRIPT}

{IMG}

[click me](javascript:window.__pwned='md-link') and [a plain link](https://example.org/guide)

![a picture](https://evil.example/md.png)

<iframe data-pwned src="https://evil.example/frame"></iframe>

{STYLE}

A paragraph with an attribute list
{{: onclick="window.__pwned='attr-list'" data-pwned }}

Literally: {TEMPLATE} {CLOSERS} {RLO}gnp.exe{PDF} {COMBINING}
"""
# Markdown lets HTML through (nh3 then drops what is not allowed), so only the rest is shown as written.
GUIDELINES_LITERAL = f"Literally: {TEMPLATE}"
GUIDELINES_LITERAL_END = f" {RLO}gnp.exe{PDF} {COMBINING}"

MANAGER_NAME = f"<img data-pwned src=x onerror=__pwned='user'>{ARABIC}{SKIN_TONE}"
ANNOTATOR_NAME = "\"><svg data-pwned onload=__pwned='u2'>{{ u }}" + RLO + "reviewer"

IMPORT_FILE_NAME = f"{IMG}{TEMPLATE}{RLO}gnp.exe.jsonl"
IMPORT_BAD_LABEL = "<b data-pwned>PER</b>{{ x }}"
KB_FILE_NAME = f"{SVG}{RLO}nosj.exe.jsonl"

SUGGESTER_NAME = "<i data-pwned>rules</i> {{ v }}"
SUGGESTER_VERSION = f"{RLO}1.0"
SUGGESTER_DESCRIPTION = f"{SCRIPT} {ZWJ_FAMILY}"
SUGGESTION_SOURCE = f"kb-ruler {IMG}"
JOB_MESSAGE = f"{STYLE} {TEMPLATE}"
JOB_ERROR = f"{SCRIPT} {ARABIC}"

TOKEN_NAME = f"{SVG}{TEMPLATE}"
# An invitation written past the form's checks (usernames are letters and digits there): the pages show it.
INVITED_NAME = f"{IMG}{RLO}invited"
INVITED_FULL_NAME = f"{SCRIPT} {TEMPLATE} {ZWJ_FAMILY} {RLO}eman"
COMMENT = f"{SCRIPT} {HTMX} {TEMPLATE} {ARABIC} {RLO}tnemmoc"
SEARCH_QUERY = f"{SCRIPT}{IMG}{TEMPLATE}"


def overrides_unclosed(text: str) -> bool:
    """Whether a bidi embedding or override in `text` is left open: it then reorders what follows it."""
    depth = 0
    for char in text:
        if char in "\u202a\u202b\u202d\u202e":
            depth += 1
        elif char == PDF and depth:
            depth -= 1
    return depth > 0


# Every string of the corpus that leaves an override open (RLO alone is the ingredient, not a string shown).
OVERRIDING = sorted(
    {value for value in dict(globals()).values() if isinstance(value, str) and overrides_unclosed(value)}
    - {RLO},
    key=len,
    reverse=True,
)
