"""Which view a path reaches, worked out once per process and path.

Django's handler resolves every request's path by trying the URL patterns in order, each a regular
expression, failed includes raising and catching Resolver404: 0.14 M instructions for `/api/v1/account`,
more than a tenth of a who-am-I call. The URL map does not change while the process runs, so the match of
a path that resolves is remembered; each request gets its own copy (the view's keyword arguments are its
own dict). A path that does not resolve is resolved again each time, so its 404 is Django's own.
"""

from __future__ import annotations

from django.urls import ResolverMatch, URLResolver

# Paths remembered per process before the memo starts again: a client that walks ids (every article of a
# project) must not make it grow without end.
_MEMO_LIMIT = 10_000
# Only paths up to this long are remembered (random long paths would fill the memory of the process).
_MEMO_PATH_LIMIT = 300
# (resolver of the URL map, path) -> its match. Keyed by the resolver: a changed ROOT_URLCONF (tests)
# clears Django's cache of resolvers, and the new map's resolver misses here.
_memo: dict[tuple[URLResolver, str], ResolverMatch] = {}


def resolve_path(resolver: URLResolver, path: str) -> ResolverMatch:
    """`resolver.resolve(path)` (Resolver404 when nothing matches), remembered for paths that resolve."""
    key = (resolver, path)
    match = _memo.get(key)
    if match is None:
        match = resolver.resolve(path)
        if len(path) <= _MEMO_PATH_LIMIT:
            if len(_memo) >= _MEMO_LIMIT:
                _memo.clear()
            _memo[key] = match
    return _copy(match)


def _copy(match: ResolverMatch) -> ResolverMatch:
    """A match of its own for one request: the same attributes, its own keyword dicts (a middleware's
    process_view receives the view's kwargs and may change them)."""
    own = dict(match.__dict__)
    for name in ("kwargs", "captured_kwargs", "extra_kwargs"):
        if own.get(name) is not None:
            own[name] = dict(own[name])
    clone = ResolverMatch.__new__(ResolverMatch)
    clone.__dict__.update(own)
    return clone


def forget_paths() -> None:
    _memo.clear()
