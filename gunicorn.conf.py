"""gunicorn's settings, read from the working directory by every `gunicorn` command here (`manage.py serve`,
the Dockerfile, docker-compose.yml): its lines go through the app's handler, so they follow
ANNOTATOR_LOG_FORMAT, and each access line carries the request id the app answered with in X-Request-ID
(annotator.core.logs.RequestIdFilter reads it from the response's headers)."""

import os

from annotator.core.logs import logging_config

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
