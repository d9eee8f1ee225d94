"""What the API's rate limits cost a call: GET /api/v1/projects/ with a token, in-process.

    python bench/rate_limits.py                   # SQLite (temporary file)
    DATABASE_URL=postgres://... python bench/rate_limits.py

Three runs of the same call: rate limits off (the baseline), on with a fresh budget, and on with the
token's read budget nearly used (1,150 of the default 1,200 calls a minute already counted: DRF keeps one
timestamp per call and the cache stores the list on every call, so this is the most a call pays).
"""

from __future__ import annotations

import time

from _harness import bench_database, report, timed

REPEAT = 200


def main() -> None:
    with bench_database("rate-limits"):
        from django.conf import settings
        from django.contrib.auth import get_user_model
        from django.core.cache import cache
        from django.test import Client, override_settings

        from annotator.api.tokens import create_token

        user = get_user_model().objects.create_user("bench")
        token, secret = create_token(user=user, name="bench")
        client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {secret}")

        def call() -> None:
            assert client.get("/api/v1/projects/").status_code == 200

        rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
        unlimited = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": dict.fromkeys(rates)}
        generous = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {**rates, "read": "100000/minute"}}
        call()  # warm up
        with override_settings(REST_FRAMEWORK=unlimited):
            baseline = timed(call, REPEAT)
        report("rate limits off", baseline)
        cache.clear()
        fresh = timed(call, REPEAT)  # 200 of the 1,200 allowed: the budget stays far from full
        report("rate limits on, fresh budget", fresh, baseline)
        with override_settings(REST_FRAMEWORK=generous):
            now = time.time()
            cache.set(f"throttle_read_token-{token.pk}", [now] * 1150, 60)
            nearly_full = timed(call, REPEAT)
        report("rate limits on, 1,150+ calls counted", nearly_full, baseline)


if __name__ == "__main__":
    main()
