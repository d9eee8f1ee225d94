"""Django's message storage (a cookie, then the session), its cookie signer made only when a cookie is
read or written.

Django's CookieStorage makes a signer as it is made (the signing backend imported by name, the secret
and its fallbacks turned into keys): 45 K instructions, more than half of what asking a page whether it
has messages costs, and most pages have none to read or write. The signer is the same object, made on
first use; the cookie's bytes are Django's (tests/unit/test_i28stack_stack.py).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.contrib.messages.storage import cookie, fallback, session
from django.core import signing
from django.utils.functional import cached_property
from django.utils.module_loading import import_string


class CookieStorage(cookie.CookieStorage):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super(cookie.CookieStorage, self).__init__(*args, **kwargs)  # BaseStorage's: no signer yet

    @cached_property
    def signer(self) -> signing.Signer:  # type: ignore[override]
        return signing.get_cookie_signer(salt=self.key_salt)


class FallbackStorage(fallback.FallbackStorage):
    storage_classes = (CookieStorage, session.SessionStorage)


@cache
def storage_class(name: str) -> Any:
    """The class MESSAGE_STORAGE names, imported once per name (Django's default_storage imports it by
    name on every request)."""
    return import_string(name)
