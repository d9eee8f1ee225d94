"""A session cookie that no session key can be (empty, or shorter than the 8 characters Django's
`_validate_session_key` asks for) is deleted, as Django's session middleware deletes it, also on requests
that never read the session (core/sessions.py answers those without Django's process_response)."""

import pytest

from tests.unit.test_i28stack_stack import apps, same  # noqa: F401  (apps: the fixture, both stacks)

pytestmark = pytest.mark.django_db

DELETED = (
    "Set-Cookie",
    " sessionid=<value>; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; SameSite=Lax",
)


@pytest.mark.parametrize("cookie", ["", "a", "1234567", "  abc "])
def test_a_cookie_too_short_for_a_session_key_is_deleted_as_django_deletes_it(apps, cookie):  # noqa: F811
    ours, django = apps
    status, headers, _, _ = same(ours, django, "GET", "/healthz", HTTP_COOKIE=f"sessionid={cookie}")
    assert status == 200
    assert DELETED in headers


@pytest.mark.parametrize("cookie", ["12345678", "nosuchsession12345"])
def test_a_cookie_that_could_be_a_session_key_is_kept_when_nobody_reads_the_session(apps, cookie):  # noqa: F811
    ours, django = apps
    status, headers, _, _ = same(ours, django, "GET", "/healthz", HTTP_COOKIE=f"sessionid={cookie}")
    assert status == 200
    assert not [value for name, value in headers if name == "Set-Cookie"]
