"""The CSRF token the annotate page writes: Django's `get_token`, its random characters drawn from one read
of the system's randomness.

Django draws each character of a new secret and of a token's mask with `secrets.choice`: one read of
`os.urandom` and a few Python calls per character, 32 or 64 a page. Here a character is a random byte
below 248 (4 x 62) taken modulo 62, the bytes from 248 up skipped: as uniform over the same 62
characters. The token is Django's: a new mask, then the secret enciphered with it; the secret is the
cookie's, or a new one when the request has none, and the response sets or renews the cookie as it does
after `get_token`. Django's middleware checks a token posted back as it checks any.
"""

from __future__ import annotations

import secrets

from django.http import HttpRequest
from django.middleware.csrf import CSRF_ALLOWED_CHARS, CSRF_SECRET_LENGTH

_INDEX = {char: at for at, char in enumerate(CSRF_ALLOWED_CHARS)}
_SIZE = len(CSRF_ALLOWED_CHARS)
_BELOW = 256 - 256 % _SIZE  # bytes below this are as many for each character


def random_characters(count: int) -> str:
    """`count` characters, each uniform over CSRF_ALLOWED_CHARS, from the system's randomness."""
    drawn: list[str] = []
    while len(drawn) < count:  # 97% of the bytes are kept: one read nearly always does
        drawn.extend(
            CSRF_ALLOWED_CHARS[byte % _SIZE] for byte in secrets.token_bytes(count + 8) if byte < _BELOW
        )
    return "".join(drawn[:count])


def page_token(request: HttpRequest) -> str:
    """A masked CSRF token for the request, as `django.middleware.csrf.get_token` gives it."""
    if "CSRF_COOKIE" in request.META:
        secret = request.META["CSRF_COOKIE"]
    else:
        secret = request.META["CSRF_COOKIE"] = random_characters(CSRF_SECRET_LENGTH)
    request.META["CSRF_COOKIE_NEEDS_UPDATE"] = True  # renew the cookie's expiry, or set the new one
    mask = random_characters(CSRF_SECRET_LENGTH)
    index = _INDEX
    return mask + "".join(
        CSRF_ALLOWED_CHARS[(index[plain] + index[key]) % _SIZE]
        for plain, key in zip(secret, mask, strict=True)
    )
