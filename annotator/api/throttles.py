"""API rate limits: one budget per token (or per signed-in user, or per address) for each kind of call.

Reads, writes, suggestions (POST /api/v1/suggest runs the NLP pipeline) and exports each have their own
rate (ANNOTATOR_API_RATE_*), so a client that exports all day still reads and writes at full speed. A view
names the calls that are not plain reads or writes in `throttle_scopes`, e.g. {"POST": "suggest"}.

Each budget is a window that opens with its caller's first call and lasts the rate's period: up to the
rate's number of calls in it, then 429 with Retry-After saying when it closes; the next call opens a new
one. A count and the window's end per caller and scope, instead of DRF's list of the time of every call
in the period, which the cache pickled and unpickled whole on every call (300 writes a minute: 300 times
per call). With the default cache (each process's memory) the counts are a dict in the process; with a
shared cache (ANNOTATOR_CACHE_URL) they are its atomic `add` and `incr`, so every process counts together.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from django.core.cache import DEFAULT_CACHE_ALIAS, cache, caches
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.locmem import LocMemCache
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from annotator.api.models import ApiToken
from annotator.signins.addresses import client_address

# What a refusal calls the calls of each scope.
SCOPE_NAMES = {"read": "reads", "write": "writes", "suggest": "suggestion requests", "export": "exports"}
PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# Callers a process keeps counts for before it drops the ones whose window has closed.
_PRUNE_AT = 10_000


def scope_of(request: Request, view: Any) -> str:
    declared = getattr(view, "throttle_scopes", {}).get(request.method)
    return declared or ("read" if request.method in SAFE_METHODS else "write")


def parse_rate(rate: str) -> tuple[int, int]:
    """("1200/minute") -> (1200, 60), as DRF reads a rate: the period's first letter counts."""
    number, period = rate.split("/")
    return int(number), PERIODS[period[0]]


class Windows:
    """The counts of one process: caller key -> [end of its window, calls counted in it]."""

    def __init__(self) -> None:
        self._counts: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, limit: int, period: int, now: float) -> float | None:
        """Count a call: None when the window has room for it, else the seconds until the window closes
        (a refused call is not counted)."""
        with self._lock:
            window = self._counts.get(key)
            if window is None or window[0] <= now:
                if len(self._counts) >= _PRUNE_AT:
                    self._counts = {k: w for k, w in self._counts.items() if w[0] > now}
                window = self._counts[key] = [now + period, 0]
            if window[1] < limit:
                window[1] += 1
                return None
            return window[0] - now

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()


_windows = Windows()


def forget_counts() -> None:
    """Drop this process's counts (the shared cache's go with `cache.clear()`)."""
    _windows.clear()


def shared_hit(shared: BaseCache, key: str, limit: int, period: int, now: float) -> float | None:
    """`Windows.hit` in a cache that every process uses: the window's end is kept under the key itself,
    made by `add` (only the first of several processes opening a window makes it), and the calls are
    counted by `incr` under a key naming that end, so each process counts into the same window."""
    end = shared.get(key)
    if end is None or end <= now:
        opened = now + period
        if shared.add(key, opened, timeout=period):
            end = opened
        else:  # another process opened the window first, or the closed one's key outlived it a moment
            end = shared.get(key)
            if end is None or end <= now:
                shared.set(key, opened, timeout=period)
                end = opened
    counted = f"{key}:{end!r}"
    try:
        count = shared.incr(counted)
    except ValueError:  # the window's first call
        count = 1 if shared.add(counted, 1, timeout=period + 1) else shared.incr(counted)
    return None if count <= limit else max(end - now, 0.0)


class ApiRateThrottle(BaseThrottle):
    """DEFAULT_THROTTLE_CLASSES entry: picks the call's scope, then counts it against its caller."""

    timer = staticmethod(time.time)  # tests move the clock
    cache_format = "throttle_%(scope)s_%(ident)s"

    def allow_request(self, request: Request, view: Any) -> bool:
        self.scope = scope_of(request, view)
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        if rate is None:  # no limit for this scope
            return True
        self.rate = str(rate)  # "1200/minute"
        limit, period = parse_rate(self.rate)
        key = self.get_cache_key(request, view)
        now = self.timer()
        if isinstance(caches[DEFAULT_CACHE_ALIAS], LocMemCache):  # each process's own memory anyway
            self.wait_seconds = _windows.hit(key, limit, period, now)
        else:
            self.wait_seconds = shared_hit(cache, key, limit, period, now)
        if self.wait_seconds is None:
            return True
        # The error handler names the budget that ran out (DRF's Throttled knows only the wait).
        request.throttled_scope = self.scope  # type: ignore[attr-defined]
        request.throttled_rate = self.rate  # type: ignore[attr-defined]
        return False

    def wait(self) -> float | None:
        return self.wait_seconds

    def get_cache_key(self, request: Request, view: Any) -> str:
        if isinstance(request.auth, ApiToken):
            ident = f"token-{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = f"address-{client_address(request._request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
