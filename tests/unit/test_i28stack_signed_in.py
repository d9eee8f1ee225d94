"""Who a session signs in: the compiled read answers as Django's `auth.get_user` does, in every case."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import auth
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.db import connection
from django.http import HttpRequest
from django.test.utils import CaptureQueriesContext

from annotator.accounts.signed_in import MODEL_BACKEND, get_user
from annotator.core.sessions import SessionStore
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def request_with(data: dict[str, str]) -> HttpRequest:
    session = SessionStore()
    session.update(data)
    session.create()
    request = HttpRequest()
    request.session = SessionStore(session.session_key)
    return request


def both(data: dict[str, str]) -> tuple[Any, Any, HttpRequest, HttpRequest]:
    """(ours, Django's) answers for two requests with the same session, and the requests."""
    mine, theirs = request_with(data), request_with(data)
    return get_user(mine), auth.get_user(theirs), mine, theirs


def signed_in(user: Any, backend: str = MODEL_BACKEND, hash_: str | None = None) -> dict[str, str]:
    return {
        SESSION_KEY: str(user.pk),
        BACKEND_SESSION_KEY: backend,
        HASH_SESSION_KEY: user.get_session_auth_hash() if hash_ is None else hash_,
    }


def fields(user: Any) -> dict[str, Any]:
    return {f.attname: getattr(user, f.attname) for f in user._meta.concrete_fields}


def test_a_signed_in_session_reads_the_same_user_with_one_query():
    user = UserFactory()
    request = request_with(signed_in(user))
    assert request.session[SESSION_KEY] == str(user.pk)  # the session's own read apart
    with CaptureQueriesContext(connection) as queries:
        mine = get_user(request)
    theirs = auth.get_user(request_with(signed_in(user)))
    assert (type(mine), fields(mine), mine._state.db) == (type(theirs), fields(theirs), theirs._state.db)
    assert len(queries) == 1
    assert queries[0]["sql"].startswith('SELECT "auth_user"."id"')


@pytest.mark.parametrize("case", ["wrong hash", "inactive", "deleted", "unlisted backend", "no hash"])
def test_sessions_that_sign_nobody_in_answer_as_django_s(case):
    user = UserFactory()
    data = signed_in(user)
    if case == "wrong hash":
        data[HASH_SESSION_KEY] = "0" * 64
    elif case == "inactive":
        user.is_active = False
        user.save()
    elif case == "deleted":
        user.delete()
    elif case == "unlisted backend":
        data[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.RemoteUserBackend"
    elif case == "no hash":
        del data[HASH_SESSION_KEY]
    mine, theirs, my_request, their_request = both(data)
    assert (mine.is_anonymous, theirs.is_anonymous) == (True, True)
    # A session whose hash does not match is emptied, as Django empties it.
    assert dict(my_request.session.items()) == dict(their_request.session.items())
    assert (my_request.session.session_key is None) == (their_request.session.session_key is None)


def test_a_session_signed_with_an_old_secret_is_kept_and_re_signed_as_django_does(settings):
    user = UserFactory()
    stale = user.get_session_auth_hash()  # made with the key that becomes the fallback
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-new-secret-key-" + "n" * 40
    mine, theirs, my_request, their_request = both(signed_in(user, hash_=stale))
    assert (mine.pk, theirs.pk) == (user.pk, user.pk)
    assert my_request.session[HASH_SESSION_KEY] == their_request.session[HASH_SESSION_KEY]
    assert my_request.session[HASH_SESSION_KEY] == user.get_session_auth_hash() != stale


def test_an_anonymous_session_is_nobody():
    mine, theirs, _, _ = both({})
    assert (mine.is_anonymous, theirs.is_anonymous) == (True, True)


def test_a_remembered_session_hash_never_signs_in_after_the_password_or_the_secret_changes(settings):
    user = UserFactory()
    data = signed_in(user)
    assert get_user(request_with(data)).pk == user.pk  # the hash now remembered
    settings.SECRET_KEY = "another-secret-key-" + "s" * 40
    mine, theirs, _, _ = both(data)
    assert (mine.is_anonymous, theirs.is_anonymous) == (True, True)
    data = signed_in(user)  # signed in again under the new secret
    assert get_user(request_with(data)).pk == user.pk
    user.set_password("a new password, 2026")
    user.save()
    mine, theirs, _, _ = both(data)
    assert (mine.is_anonymous, theirs.is_anonymous) == (True, True)


def test_session_data_decodes_to_a_copy_of_its_own_and_changed_or_forged_data_is_read_anew():
    store = SessionStore()
    signed = store.encode({"cart": ["a"], SESSION_KEY: "1"})
    first = store.decode(signed)
    first["cart"].append("b")
    assert store.decode(signed) == {"cart": ["a"], SESSION_KEY: "1"}
    changed = store.encode({"cart": ["a", "c"], SESSION_KEY: "1"})
    assert store.decode(changed) == {"cart": ["a", "c"], SESSION_KEY: "1"}
    forged = signed[:-3] + ("xyz" if not signed.endswith("xyz") else "abc")
    assert store.decode(forged) == {}
    assert store.decode(forged) == {}  # refused again, not remembered
