"""The annotate page's CSRF token (`review.page_token`) is a token Django's own middleware reads as it reads
`get_token`'s: the cookie's secret behind a new mask, or a new secret for a request without one."""

from collections import Counter

from django.middleware.csrf import CSRF_ALLOWED_CHARS, _unmask_cipher_token, get_token
from django.test import RequestFactory

from annotator.review.page_token import page_token, random_characters

SECRET = "abcdefghijklmnopqrstuvwxyz012345"


def _request(secret=None):
    request = RequestFactory().get("/")
    if secret is not None:
        request.META["CSRF_COOKIE"] = secret
    return request


def test_a_token_carries_the_cookie_s_secret_behind_a_new_mask_and_renews_the_cookie():
    request = _request(SECRET)
    first, second = page_token(request), page_token(request)
    for token in (first, second):
        assert len(token) == 64
        assert set(token) <= set(CSRF_ALLOWED_CHARS)
        assert _unmask_cipher_token(token) == SECRET
    assert first[:32] != second[:32]  # each a new mask
    assert request.META["CSRF_COOKIE"] == SECRET
    assert request.META["CSRF_COOKIE_NEEDS_UPDATE"] is True


def test_a_request_without_a_secret_gets_a_new_one_as_get_token_gives_it():
    ours, django_s = _request(), _request()
    token, expected = page_token(ours), get_token(django_s)
    assert _unmask_cipher_token(token) == ours.META["CSRF_COOKIE"]
    assert _unmask_cipher_token(expected) == django_s.META["CSRF_COOKIE"]
    assert len(ours.META["CSRF_COOKIE"]) == len(django_s.META["CSRF_COOKIE"]) == 32
    assert ours.META["CSRF_COOKIE_NEEDS_UPDATE"] is django_s.META["CSRF_COOKIE_NEEDS_UPDATE"] is True


def test_random_characters_cover_the_62_and_nothing_else():
    drawn = Counter(random_characters(62 * 200))
    assert len("".join(drawn.elements())) == 62 * 200
    assert set(drawn) == set(CSRF_ALLOWED_CHARS)
    # 200 expected each: a character drawn under 100 or over 300 times would mean a skewed draw.
    assert min(drawn.values()) > 100
    assert max(drawn.values()) < 300
