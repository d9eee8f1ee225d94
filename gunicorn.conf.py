"""gunicorn's settings, read from the working directory by every `gunicorn` command here (`manage.py serve`,
the Dockerfile, docker-compose.yml): its lines go through the app's handler, so they follow
ANNOTATOR_LOG_FORMAT, and each access line carries the request id the app answered with in X-Request-ID
(annotator.core.logs.RequestIdFilter reads it from the response's headers)."""

import os
from typing import Any

from annotator.core.logs import logging_config
from annotator.core.serving import web_threads, web_worker_class, web_workers

# Worker processes, threads in each, and the worker: for one thread gunicorn's sync worker, or with
# WEB_SAVES_FIRST annotator.core.serving.SavesFirstWorker (one request at a time, connections kept open,
# waiting saves served before waiting reads); for more, gunicorn's threaded worker taking waiting saves
# before waiting reads (annotator.core.serving.PriorityThreadWorker). Every way of serving reads them here:
# `manage.py serve`, the Dockerfile, docker-compose.yml, bench/load.py by default. Options on the command line
# (tests/live.py's) win over these.
workers = web_workers()
threads = web_threads()
worker_class = web_worker_class(threads)

access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms'
logconfig_dict = logging_config(
    level=os.environ.get("ANNOTATOR_LOG_LEVEL", "INFO"),
    json_lines=os.environ.get("ANNOTATOR_LOG_FORMAT", "plain") == "json",
)
# gunicorn's own loggers write through the same handler (without it they keep their own format). Its
# error log's level is gunicorn's --log-level; the access log, one INFO line per request, follows
# ANNOTATOR_LOG_LEVEL like the app's lines: WARNING or above turns it off.
logconfig_dict["loggers"].update(
    {
        "gunicorn.error": {"handlers": ["console"], "propagate": False},
        "gunicorn.access": {
            "handlers": ["console"],
            "propagate": False,
            "level": os.environ.get("ANNOTATOR_LOG_LEVEL", "INFO").upper(),
        },
    }
)

# A sync worker's heartbeat touches a file on every request: in memory, not on the image's overlay disk.
if os.path.isdir("/dev/shm"):  # noqa: S108 - gunicorn makes its file there with mkstemp and unlinks it
    worker_tmp_dir = "/dev/shm"  # noqa: S108
# gunicorn builds each access line's fields (headers, the time formatted) before its logger is asked
# whether it writes INFO at all: annotator.core.serving.Logger asks first.
logger_class = "annotator.core.serving.Logger"


# The master loads the app, then forks the workers: they start with Django (and spaCy, below) loaded and
# share those pages; a worker started in a dead one's place serves at once. The master opens no database
# connection (nothing runs a query on import): each worker opens its own.
preload_app = True


def when_ready(server: Any) -> None:
    """Before the first worker is forked (annotator.core.serving.load_before_forking)."""
    from annotator.core.serving import load_before_forking

    load_before_forking(server.cfg.preload_app)


def post_worker_init(worker: Any) -> None:
    """A connection whose request was read whole is closed at once, and each of the worker's threads has a
    pooled database connection to take (annotator.core.serving)."""
    from annotator.core.serving import close_at_once_when_read, size_pools_for_threads

    close_at_once_when_read()
    size_pools_for_threads(worker.cfg.threads, worker.log)
