"""Holding a page's htmx polls while a test looks at it.

A job's page (and the suggesters page's job list) replaces a part of itself every second or two while the
job runs. A screenshot of that part, or axe reading the page, fails when the part is replaced under it
("Element is not attached to the DOM"), at whatever moment a poll lands: on a loaded machine, now and
then. Inside `polls_held(page)` every poll waits unanswered; leaving it lets them go on, in order.
"""

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def polls_held(page) -> Iterator[None]:
    """Open the page inside (a poll already under way before would still land): htmx's requests (the
    HX-Request header) wait until the block ends; navigations and everything else go through."""
    held, holding = [], [True]

    def hold(route):
        if holding[0] and route.request.headers.get("hx-request") == "true":
            held.append(route)
        else:
            route.fallback()

    page.route("**/*", hold)
    try:
        yield
    finally:
        # Let them go before the handler goes: Playwright itself passes on the requests a removed handler
        # still holds, and a route goes on once only.
        holding[0] = False
        for route in held:
            route.continue_()
        page.unroute("**/*", hold)
