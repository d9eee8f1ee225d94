"""Annotator settings: everything comes from the environment (see .env.example)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from annotator.core.logs import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A local .env (written by `make run`, git-ignored) fills in what the real environment leaves unset.
environ.Env.read_env(env.str("ANNOTATOR_ENV_FILE", default=str(BASE_DIR / ".env")))

DEBUG = env.bool("DJANGO_DEBUG", default=False)

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. Set it in the environment (or in .env: `make run` writes one), "
            "or set DJANGO_DEBUG=true for local development."
        )
    SECRET_KEY = "django-insecure-debug-only-key-never-used-in-production"  # noqa: S105

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# Where the SQLite database, uploads, exports and trained pipelines live.
DATA_DIR = Path(env.str("ANNOTATOR_DATA_DIR", default=str(BASE_DIR / "var")))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "template_partials",
    "simple_history",
    "django_tasks",
    "django_tasks_db",
    "axes",
    "annotator.core",
    "annotator.projects",
    "annotator.articles",
    "annotator.annotations",
    "annotator.kb",
    "annotator.suggestions",
    "annotator.review",
    "annotator.interchange",
    "annotator.jobs",
    "annotator.api",
    "annotator.accounts",
    "annotator.signins",
]

MIDDLEWARE = [
    "annotator.core.middleware.RequestIdMiddleware",  # first: every answer and log line has the id
    "django.middleware.security.SecurityMiddleware",
    "annotator.core.middleware.RequestBodyLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "annotator.core.sessions.SessionMiddleware",  # Django's, an untouched session answered at once
    "annotator.core.slashes.EitherSlashMiddleware",  # before CommonMiddleware: no 301 that drops a POST
    "annotator.core.hosts.CommonMiddleware",  # Django's, a Host header that passed remembered
    "django.middleware.csrf.CsrfViewMiddleware",
    "annotator.core.middleware.AuthenticationMiddleware",  # Django's, as a plain middleware
    # Every page needs a login unless it is marked @login_not_required: closed by default.
    # Django's, asking the view before the session: annotator/core/middleware.py.
    "annotator.core.middleware.LoginRequiredMiddleware",
    "annotator.core.middleware.LazyMessageMiddleware",  # Django's, its storage made only when used
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "annotator.core.middleware.HistoryRequestMiddleware",  # simple_history's, without its generator
    "annotator.core.middleware.ContentSecurityPolicyMiddleware",
    # A lost database: 503; a page's change to an archived project: back to the page, saying why.
    "annotator.core.middleware.ExpectedErrorsMiddleware",
    # Last, as django-axes asks: it turns a sign-in refused for too many failures into the lock-out page.
    "axes.middleware.AxesMiddleware",
]

# Django's messages (a cookie, then the session), the cookie's signer made only when a cookie is used.
MESSAGE_STORAGE = "annotator.core.messages.FallbackStorage"

ROOT_URLCONF = "annotator.urls"
WSGI_APPLICATION = "annotator.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
            # `{% url %}` in every template, working each route out once per process (core/reversing.py).
            "builtins": ["annotator.core.reversing"],
        },
    },
]


def _sqlite_options() -> dict:
    # WAL lets the web server read while the worker writes; IMMEDIATE takes the write lock at BEGIN so two
    # writers queue on busy_timeout instead of failing with "database is locked".
    return {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000",
        "transaction_mode": "IMMEDIATE",
    }


def _database_from_env() -> dict:
    """DATABASE_URL when set (PostgreSQL with a connection pool), else a local SQLite file in WAL mode."""
    url = env.str("DATABASE_URL", default="")
    if not url:
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "annotator.sqlite3",
            "OPTIONS": _sqlite_options(),
        }
    database = env.db_url_config(url)
    if database["ENGINE"] == "django.db.backends.sqlite3":
        # A sqlite:/// URL is the same file-based SQLite (the live-server tests name theirs so): the same
        # options, or two writers fail at once with "database is locked" (Python's 5-s timeout, DEFERRED).
        database["OPTIONS"] = {**_sqlite_options(), **database.get("OPTIONS", {})}
    if database["ENGINE"] == "django.db.backends.postgresql":
        database.setdefault("OPTIONS", {})["options"] = _session_options()
        # A peer that vanished without a reset (a failover, a NAT or firewall dropping an idle flow) is found
        # within about two minutes instead of the kernel's ~15 (TCP retransmissions): a one-request-at-a-time
        # worker keeps its connection between requests (core/kept_connections.py) and tests it after a while;
        # that test, or any statement, must not hang on a dead socket. libpq's own parameters.
        for name, value in _TCP_LIVENESS.items():
            database["OPTIONS"].setdefault(name, value)
    if database["ENGINE"] == "django.db.backends.postgresql" and env.bool("ANNOTATOR_DB_POOL", default=True):
        database.setdefault("OPTIONS", {})["pool"] = {
            # None kept open from the start: psycopg_pool opens its first min_size connections in the
            # background, so the first request, finding none ready, has the pool open one more; a sync
            # worker (one request at a time) then takes its two in turn (the pool hands out the one idle
            # longest) until the pool's idle check closes one ten minutes later. Two server processes
            # serving alternate requests cost the database 2-15% more CPU per request than one (the
            # reviewers' mix, bench/db_cost.py, six interleaved pairs, load 14-19). The pool still grows
            # to one connection per busy thread, and keeps them while they are used.
            "min_size": env.int("ANNOTATOR_DB_POOL_MIN", default=0),
            "max_size": env.int("ANNOTATOR_DB_POOL_MAX", default=10),
            "timeout": env.int("ANNOTATOR_DB_POOL_TIMEOUT", default=10),
        }
        # Connections are not tested as they leave the pool (a round trip on every request): the first
        # request that meets a dead one after a database restart answers 503 and has the pool test the
        # others (core.middleware.recheck_pooled_connections).
        database["CONN_HEALTH_CHECKS"] = False
        database["CONN_MAX_AGE"] = 0  # Django refuses persistent connections together with the pool.
    return database


# Probes after 60 s idle, every 10 s, 5 unanswered: dead; data unacknowledged for 120 s: dead.
_TCP_LIVENESS = {"keepalives": 1, "keepalives_idle": 60, "keepalives_interval": 10, "keepalives_count": 5,
                 "tcp_user_timeout": 120_000}  # fmt: skip


def _session_options() -> str:
    """The PostgreSQL settings of each connection, sent as it opens (no statement, no round trip)."""
    options = []
    if not env.bool("ANNOTATOR_DB_JIT", default=False):
        # PostgreSQL's JIT compiles any query whose estimated cost is high, and a page of 50 rows filtered
        # over a million articles is estimated high: it spent 370 ms compiling a query that ran in 15.
        options.append("-c jit=off")
    if ANNOTATOR_DB_PREPARED:
        # A prepared statement is planned once only when PostgreSQL keeps its generic plan, and it keeps it
        # only while that plan's estimated cost stays near the cost of plans made for the values. Once
        # ANALYZE has run on the tables (autovacuum does, as they grow), the annotate page's two largest
        # statements were planned again on every run: 0.29 -> 0.83 ms of database CPU for the spans and
        # suggestions alone (run alone 3,000 times, as `bench/db_cost.py repeat page` does), 1.9-2.1 -> 1.0-1.3
        # ms per page open. The statements prepared here (core/compiled.py, the hot writes) look rows up by
        # ids, which one plan serves for every value; for a 1 MB article with 5,625 spans the generic plan
        # took 14 ms where the plans made for its values took 20.
        options.append("-c plan_cache_mode=force_generic_plan")
    return " ".join(options)


# PostgreSQL: the hot queries (core/compiled.py) and the hot writes' few statements are prepared once per
# pooled connection (annotator.core.prepared). Off behind a PgBouncer older than 1.21 in transaction mode.
ANNOTATOR_DB_PREPARED = env.bool("ANNOTATOR_DB_PREPARED", default=True)
DATABASES = {"default": _database_from_env()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Single sign-on with OpenID Connect (annotator.signins.oidc, mozilla-django-oidc): on when an issuer is set.
ANNOTATOR_OIDC_ISSUER = env.str("ANNOTATOR_OIDC_ISSUER", default="").rstrip("/")
OIDC_RP_CLIENT_ID = env.str("ANNOTATOR_OIDC_CLIENT_ID", default="")
OIDC_RP_CLIENT_SECRET = env.str("ANNOTATOR_OIDC_CLIENT_SECRET", default="")
if ANNOTATOR_OIDC_ISSUER and not (OIDC_RP_CLIENT_ID and OIDC_RP_CLIENT_SECRET):
    raise ImproperlyConfigured("ANNOTATOR_OIDC_ISSUER is set: set ANNOTATOR_OIDC_CLIENT_ID and _SECRET too.")
OIDC_RP_SCOPES = env.str("ANNOTATOR_OIDC_SCOPES", default="openid email profile")
OIDC_RP_SIGN_ALGO = env.str("ANNOTATOR_OIDC_SIGN_ALGO", default="RS256")
# Empty: read from the issuer's discovery document.
OIDC_OP_AUTHORIZATION_ENDPOINT = env.str("ANNOTATOR_OIDC_AUTHORIZATION_ENDPOINT", default="")
OIDC_OP_TOKEN_ENDPOINT = env.str("ANNOTATOR_OIDC_TOKEN_ENDPOINT", default="")
OIDC_OP_USER_ENDPOINT = env.str("ANNOTATOR_OIDC_USERINFO_ENDPOINT", default="")
OIDC_OP_JWKS_ENDPOINT = env.str("ANNOTATOR_OIDC_JWKS_ENDPOINT", default="")
ANNOTATOR_OIDC_USERNAME_CLAIM = env.str("ANNOTATOR_OIDC_USERNAME_CLAIM", default="preferred_username")
ANNOTATOR_OIDC_CREATE_USERS = env.bool("ANNOTATOR_OIDC_CREATE_USERS", default=False)
# Projects and roles a new account gets: slug:role pairs, e.g. "newsroom:annotator,training:annotator".
ANNOTATOR_OIDC_NEW_USER_PROJECTS = [
    tuple(pair.split(":", 1)) for pair in env.list("ANNOTATOR_OIDC_NEW_USER_PROJECTS", default=[])
]
if any(
    len(pair) != 2 or pair[1] not in ("manager", "curator", "annotator")
    for pair in ANNOTATOR_OIDC_NEW_USER_PROJECTS
):
    raise ImproperlyConfigured(
        "ANNOTATOR_OIDC_NEW_USER_PROJECTS lists slug:role pairs, the role manager, curator or annotator."
    )
ANNOTATOR_OIDC_LABEL = env.str("ANNOTATOR_OIDC_LABEL", default="single sign-on")
# Passwords of this site; off (with single sign-on on) only the provider signs people in.
ANNOTATOR_LOCAL_PASSWORDS = env.bool("ANNOTATOR_LOCAL_PASSWORDS", default=True) or not ANNOTATOR_OIDC_ISSUER
# Signing out here signs out at the provider too (when it has an end_session_endpoint): register
# https://<this site>/accounts/login/ as a post-logout redirect URI there.
ANNOTATOR_OIDC_SIGN_OUT_AT_PROVIDER = env.bool("ANNOTATOR_OIDC_SIGN_OUT_AT_PROVIDER", default=True)
OIDC_STORE_ID_TOKEN = True  # the id_token_hint of that sign-out
OIDC_USE_PKCE = True
OIDC_TIMEOUT = 10
OIDC_AUTHENTICATION_CALLBACK_URL = "signins:oidc-callback"
OIDC_REDIRECT_ALLOWED_HOSTS: list[str] = []

# django-axes first: it refuses a locked-out username or address before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    *(["annotator.signins.oidc.SignInBackend"] if ANNOTATOR_OIDC_ISSUER else []),
    *(["django.contrib.auth.backends.ModelBackend"] if ANNOTATOR_LOCAL_PASSWORDS else []),
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "projects:list"
LOGOUT_REDIRECT_URL = "login"

# People without the admin (annotator.accounts): how long an invitation link works, and e-mail. Password
# reset by e-mail is offered only when the site can send mail: ANNOTATOR_EMAIL_URL set (smtp://user:pass@host:587,
# smtp+tls://..., consolemail:// prints mails to the log), or in debug mode, where mails go to the console.
ANNOTATOR_INVITATION_DAYS = env.int("ANNOTATOR_INVITATION_DAYS", default=7)
_EMAIL_URL = env.str("ANNOTATOR_EMAIL_URL", default="consolemail://" if DEBUG else "")
ANNOTATOR_EMAIL_ENABLED = bool(_EMAIL_URL)
if _EMAIL_URL:
    vars().update(env.email_url_config(_EMAIL_URL))
DEFAULT_FROM_EMAIL = env.str("ANNOTATOR_EMAIL_FROM", default="annotator@localhost")
PASSWORD_RESET_TIMEOUT = env.int("ANNOTATOR_PASSWORD_RESET_SECONDS", default=3 * 24 * 3600)

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = DATA_DIR / "media"
MEDIA_URL = "media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "annotator.core.reversing.StaticFilesStorage"},
}

# Django's database sessions, read through a query compiled once per process (core/sessions.py).
SESSION_ENGINE = "annotator.core.sessions"

# Security. Cookies and headers that cost nothing over plain HTTP are always on; the HTTPS-only ones
# follow DJANGO_HTTPS, which a deployment behind TLS turns on (`manage.py check --deploy` expects it).
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True  # pages carry the token in <body hx-headers>, so JS never reads the cookie
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
HTTPS = env.bool("DJANGO_HTTPS", default=False)
if HTTPS:
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
BEHIND_PROXY = env.bool("DJANGO_BEHIND_PROXY", default=False)
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Take the proxy's X-Request-ID (when it looks sane) instead of making one: the proxy's and our log
# lines then share the id. Only behind a proxy that sets it; otherwise clients could choose it.
ANNOTATOR_TRUST_REQUEST_ID = env.bool("ANNOTATOR_TRUST_REQUEST_ID", default=BEHIND_PROXY)

# The largest request body read into memory (JSON, forms); file uploads have their own limits. Enough for
# POST /api/v1/suggest's 1,000,000 characters even when a client escapes every one as \uXXXX.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("ANNOTATOR_MAX_REQUEST_BODY_BYTES", default=16 * 2**20)

# Brute-force protection (django-axes). Failed sign-ins are counted per typed username (known or not) and
# per client address; ANNOTATOR_LOGIN_FAILURE_LIMIT of them, each within ANNOTATOR_LOGIN_COOLOFF_MINUTES of
# the last, lock that username or address out until that many minutes pass without a counted failure.
# Attempts while locked out are refused without being counted, so the wait shown is the wait there is.
ANNOTATOR_LOGIN_LOCKOUT_BY = env.list("ANNOTATOR_LOGIN_LOCKOUT_BY", default=["username", "address"])
if not ANNOTATOR_LOGIN_LOCKOUT_BY or set(ANNOTATOR_LOGIN_LOCKOUT_BY) - {"username", "address"}:
    raise ImproperlyConfigured("ANNOTATOR_LOGIN_LOCKOUT_BY lists username, address or both.")
AXES_LOCKOUT_PARAMETERS = [
    {"username": "username", "address": "ip_address"}[p] for p in ANNOTATOR_LOGIN_LOCKOUT_BY
]
AXES_FAILURE_LIMIT = env.int("ANNOTATOR_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.float("ANNOTATOR_LOGIN_COOLOFF_MINUTES", default=15))
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# A success does not wipe the count: one valid account must not reset its address's failures.
AXES_RESET_ON_SUCCESS = False
AXES_CLIENT_IP_CALLABLE = "annotator.signins.addresses.client_address"
AXES_LOCKOUT_CALLABLE = "annotator.signins.lockout.lockout_response"
# The record of sign-ins (annotator.signins) is ours; axes keeps only the counters it needs.
AXES_DISABLE_ACCESS_LOG = True
AXES_ENABLE_ACCESS_FAILURE_LOG = False
AXES_VERBOSE = False
# Days the record of sign-ins (successes, failures, lock-outs, tokens, accounts made by SSO) is kept;
# the reaper deletes older events.
ANNOTATOR_SIGN_IN_RECORD_DAYS = env.int("ANNOTATOR_SIGN_IN_RECORD_DAYS", default=180)

# Background work: Django's task API with the database backend, so workers share the database queue.
TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default"],
    }
}

# Seconds a web process reuses an API token it read (a client's calls then cost no query to authenticate).
# Revoking a token takes effect at once in the process that revokes it, in the others within this long.
ANNOTATOR_TOKEN_CACHE_SECONDS = env.float("ANNOTATOR_TOKEN_CACHE_SECONDS", default=5.0)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Bearer first: a client with a token gets 401 (not 403) when the token is wrong.
        "annotator.api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["annotator.api.access.TokenScopePermission"],
    # The usual Accept headers (none, */*, application/json) answered without parsing: api/negotiation.py.
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "annotator.api.negotiation.UsualContentNegotiation",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "annotator.api.pagination.IdCursorPagination",
    "EXCEPTION_HANDLER": "annotator.api.errors.exception_handler",
    # Per token (or signed-in user, or address), one budget per kind of call: annotator.api.throttles.
    "DEFAULT_THROTTLE_CLASSES": ["annotator.api.throttles.ApiRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "read": env.str("ANNOTATOR_API_RATE_READ", default="1200/minute"),
        "write": env.str("ANNOTATOR_API_RATE_WRITE", default="300/minute"),
        "suggest": env.str("ANNOTATOR_API_RATE_SUGGEST", default="60/minute"),
        "export": env.str("ANNOTATOR_API_RATE_EXPORT", default="60/hour"),
    },
}
# Where the API's rate-limit counts live. Unset: each process's memory (a gunicorn worker counts on its
# own, so N workers allow up to N times the rate). For shared counts: dbcache://annotator_cache (after
# `manage.py createcachetable`), or redis://host:6379/0 with the redis package installed.
CACHES = {"default": env.cache_url_config(env.str("ANNOTATOR_CACHE_URL", default="") or "locmemcache://")}
SPECTACULAR_SETTINGS = {
    "TITLE": "Annotator API",
    "DESCRIPTION": "Entities, relations and knowledge-base links: gold-standard export, suggestions, imports.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "annotator.api.schema.add_generic_errors",
    ],
    # Several models have a `kind` and a `status`: name each set of choices after its owner.
    "ENUM_NAME_OVERRIDES": {
        "SetKindEnum": "annotator.annotations.models.SetKind",
        "SetStatusEnum": "annotator.annotations.models.SetStatus",
        "JobKindEnum": "annotator.jobs.models.JobKind",
        "JobStatusEnum": "annotator.jobs.models.JobStatus",
        "VerdictEnum": "annotator.suggestions.models.Verdict",
        "TokenScopeEnum": "annotator.api.models.Scope",
        "SuggestionKindEnum": "annotator.suggestions.models.SuggestionKind",
        "SuggesterKindEnum": "annotator.suggestions.models.SuggesterKind",
        "ArticleStatusEnum": "annotator.articles.models.ArticleStatus",
        "CurationStatusEnum": "annotator.review.curation.STATUSES",
    },
}

# Who may create projects (the page, the API, not the command line): "staff" or "everyone" logged in.
ANNOTATOR_PROJECT_CREATORS = env.str("ANNOTATOR_PROJECT_CREATORS", default="staff")
if ANNOTATOR_PROJECT_CREATORS not in ("staff", "everyone"):
    raise ImproperlyConfigured(
        f"ANNOTATOR_PROJECT_CREATORS is {ANNOTATOR_PROJECT_CREATORS!r}; it must be staff or everyone."
    )

# Opening an article's annotate page computes its suggestions when the active suggester has not yet
# (or when the KB or gold changed since). Off, suggestions come only from pre-annotation jobs.
ANNOTATOR_SUGGEST_ON_OPEN = env.bool("ANNOTATOR_SUGGEST_ON_OPEN", default=True)
# How long a process trusts what it last read of a project's KB and gold when it checks, on a page open,
# whether an article's suggestions are current, and when it suggests for raw text (that read grows with the KB;
# see suggestions/freshness.py).
ANNOTATOR_SUGGESTION_FRESHNESS_SECONDS = env.float("ANNOTATOR_SUGGESTION_FRESHNESS_SECONDS", default=10.0)
# Articles longer than this (characters) get their suggestions from a background job when the page opens:
# the page shows at once, says so, and fills in when the job ends. Shorter ones are suggested in the request.
ANNOTATOR_SUGGEST_INLINE_MAX_CHARS = env.int("ANNOTATOR_SUGGEST_INLINE_MAX_CHARS", default=20_000)
# Pre-annotation runs its spaCy pipeline in a child process, on the next texts while the worker makes and
# stores the records of those before: "auto" for a pipeline without a statistical model when the machine has a
# core for it beside one per busy worker, "on" always (for 256 articles or more), "off" never.
ANNOTATOR_PIPELINE_PROCESS = env.str("ANNOTATOR_PIPELINE_PROCESS", default="auto")
if ANNOTATOR_PIPELINE_PROCESS not in ("auto", "on", "off"):
    raise ImproperlyConfigured(
        f"ANNOTATOR_PIPELINE_PROCESS is {ANNOTATOR_PIPELINE_PROCESS!r}; it must be auto, on or off."
    )

# Jobs whose worker has not reported for this long are marked failed by the reaper.
ANNOTATOR_JOB_HEARTBEAT_TIMEOUT = env.int("ANNOTATOR_JOB_HEARTBEAT_TIMEOUT", default=300)
# Jobs that workers share (pre-annotation, exports) are split into chunks of this many articles; each
# chunk is a task any worker takes from the queue. Smaller chunks spread better and retry less work;
# each costs a few queries and, for pre-annotation, the start of its pipeline run.
ANNOTATOR_JOB_CHUNK_ARTICLES = env.int("ANNOTATOR_JOB_CHUNK_ARTICLES", default=500)
# Times a chunk runs before its job fails, when its worker keeps dying (the reaper queues it again).
ANNOTATOR_JOB_CHUNK_ATTEMPTS = env.int("ANNOTATOR_JOB_CHUNK_ATTEMPTS", default=3)
# A KB import job splits an uncompressed JSON lines file or Wikidata dump into chunks of about this many
# MB, read and checked by any worker; the entities are then written at once (compressed files and CSV: one chunk).
ANNOTATOR_KB_IMPORT_CHUNK_MB = env.int("ANNOTATOR_KB_IMPORT_CHUNK_MB", default=64)
# Uploaded import files are deleted by the reaper this many days after their job ended.
ANNOTATOR_UPLOAD_RETENTION_DAYS = env.int("ANNOTATOR_UPLOAD_RETENTION_DAYS", default=7)
# Largest KB file the import page and API accept, in MB; bigger ones go through `manage.py import_kb`.
ANNOTATOR_KB_UPLOAD_MAX_MB = env.int("ANNOTATOR_KB_UPLOAD_MAX_MB", default=1024)

# Imports (interchange): what an upload may be, and how an import reads and writes it.
ANNOTATOR_IMPORT_MAX_UPLOAD_BYTES = env.int("ANNOTATOR_IMPORT_MAX_UPLOAD_BYTES", default=2 * 2**30)
ANNOTATOR_IMPORT_MAX_ARTICLE_CHARS = env.int("ANNOTATOR_IMPORT_MAX_ARTICLE_CHARS", default=2_000_000)
ANNOTATOR_IMPORT_MAX_ARCHIVE_MEMBERS = env.int("ANNOTATOR_IMPORT_MAX_ARCHIVE_MEMBERS", default=100_000)
ANNOTATOR_IMPORT_MAX_INFLATED_BYTES = env.int("ANNOTATOR_IMPORT_MAX_INFLATED_BYTES", default=20 * 2**30)
ANNOTATOR_IMPORT_MAX_COMPRESSION_RATIO = env.float("ANNOTATOR_IMPORT_MAX_COMPRESSION_RATIO", default=100.0)
ANNOTATOR_IMPORT_MAX_ERRORS = env.int("ANNOTATOR_IMPORT_MAX_ERRORS", default=100)
ANNOTATOR_IMPORT_BATCH_SIZE = env.int("ANNOTATOR_IMPORT_BATCH_SIZE", default=2000)
ANNOTATOR_ANALYZE_AFTER_ROWS = env.int("ANNOTATOR_ANALYZE_AFTER_ROWS", default=10_000)

# Deleting a project with more articles than this runs as a background job (in batches that commit).
ANNOTATOR_DELETE_INLINE_MAX_ARTICLES = env.int("ANNOTATOR_DELETE_INLINE_MAX_ARTICLES", default=1000)

# Exports: articles read per round of queries, and the most articles a download builds in one request
# in a format that is not streamed (a DocBin); larger selections run as a job that makes a file.
ANNOTATOR_EXPORT_CHUNK_SIZE = env.int("ANNOTATOR_EXPORT_CHUNK_SIZE", default=500)
ANNOTATOR_EXPORT_INLINE_MAX_ARTICLES = env.int("ANNOTATOR_EXPORT_INLINE_MAX_ARTICLES", default=2000)
# A JSON Lines download on PostgreSQL opens a second connection of its own (not from the pool), in its
# snapshot, once it has read this many articles: the database's share of a large export on two cores.
# -1: never.
ANNOTATOR_EXPORT_SECOND_READER_AFTER = env.int("ANNOTATOR_EXPORT_SECOND_READER_AFTER", default=1000)

# Suggestions (spaCy). An installed pipeline package or a pipeline directory to suggest with, its labels
# mapped to the project's entity types ("FAC=LOC,CARDINAL=": FAC becomes LOC, CARDINAL is dropped), and
# whether it runs in addition to the gazetteer ("add") or instead of it ("replace").
ANNOTATOR_SPACY_PIPELINE = env.str("ANNOTATOR_SPACY_PIPELINE", default="")
ANNOTATOR_SPACY_LABEL_MAP = env.str("ANNOTATOR_SPACY_LABEL_MAP", default="")
ANNOTATOR_SPACY_PIPELINE_MODE = env.str("ANNOTATOR_SPACY_PIPELINE_MODE", default="add")
# KB candidates stored as link suggestions for each suggested entity.
ANNOTATOR_LINK_CANDIDATES = env.int("ANNOTATOR_LINK_CANDIDATES", default=3)
# Where pipeline directories a project may pick are looked for (each a pipeline, or a folder of them),
# besides the spaCy packages installed in the environment.
ANNOTATOR_PIPELINES_DIR = Path(env.str("ANNOTATOR_PIPELINES_DIR", default=str(DATA_DIR / "pipelines")))
# The project's model, for new projects (each project changes its own on the suggesters page): annotated
# articles before the first training, newly annotated articles before the next, cross-validation folds.
ANNOTATOR_TRAIN_MIN_ARTICLES = env.int("ANNOTATOR_TRAIN_MIN_ARTICLES", default=5)
ANNOTATOR_TRAIN_EVERY = env.int("ANNOTATOR_TRAIN_EVERY", default=10)
ANNOTATOR_TRAIN_FOLDS = env.int("ANNOTATOR_TRAIN_FOLDS", default=5)
# Most training epochs (fewer articles train for more epochs, up to this many; see training.py).
ANNOTATOR_TRAIN_MAX_EPOCHS = env.int("ANNOTATOR_TRAIN_MAX_EPOCHS", default=30)
# Gold relations needed before a relation classifier is trained (rules alone below that).
ANNOTATOR_RELATION_CLASSIFIER_MIN = env.int("ANNOTATOR_RELATION_CLASSIFIER_MIN", default=200)

# Logs: one line per refusal (4xx), tracebacks only for real errors, a request id on every line;
# ANNOTATOR_LOG_FORMAT=json writes JSON lines (annotator.core.logs).
LOG_FORMAT = env.str("ANNOTATOR_LOG_FORMAT", default="plain")
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"ANNOTATOR_LOG_FORMAT is {LOG_FORMAT!r}; it must be plain or json.")
LOGGING_CONFIG = "annotator.core.logs.configure"
LOGGING = logging_config(
    level=env.str("ANNOTATOR_LOG_LEVEL", default="INFO"), json_lines=LOG_FORMAT == "json"
)
# django-axes logs every sign-in and sign-out at INFO; the record of sign-ins keeps those. Its warnings
# (each failed sign-in, each lock-out) stay.
LOGGING["loggers"]["axes"] = {"level": "WARNING"}
