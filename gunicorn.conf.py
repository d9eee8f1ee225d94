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
# gunicorn's own loggers write through the same handler (without it they keep their own format).
logconfig_dict["loggers"].update(
    {
        name: {"handlers": ["console"], "propagate": False}  # levels: gunicorn's --log-level
        for name in ["gunicorn.error", "gunicorn.access"]
    }
)
