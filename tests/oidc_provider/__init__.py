"""A real OpenID Connect provider (django-oidc-provider) for the single sign-on test, run as its own process.

Only the tests start it: `OIDC_PROVIDER_DIR` (its SQLite file) and `OIDC_PROVIDER_URL` come from them.
"""
