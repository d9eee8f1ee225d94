"""What gunicorn.conf.py changes in gunicorn's handling of each request (see its comments), and what its
master loads before it forks the workers.

gunicorn 27 ends every connection by half-closing it and then reading until the client closes its side
(up to 2 s), so that unread request bytes never make the kernel reset the connection and cut the answer
short. A sync worker serves nobody else meanwhile: each request holds its worker for one more round trip
to the client and for however long the client takes to close (a busy client process: milliseconds).
When nothing is left unread in the socket there is nothing to cut short, and the worker closes at once,
as gunicorn did before 27; otherwise it still lingers.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
from typing import Any

from gunicorn import glogging, util

_linger = util.close_graceful


def close_now_or_linger(sock: socket.socket, *args: Any, **kwargs: Any) -> None:
    """Close at once when the client has sent nothing more than was read, else gunicorn's own close."""
    if isinstance(sock, ssl.SSLSocket):  # TLS (gunicorn's certfile) cannot be peeked under
        _linger(sock, *args, **kwargs)
        return
    try:
        unread = sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except BlockingIOError:
        unread = b""  # nothing waiting: the request was read whole
    except OSError:
        unread = b""  # the connection is already gone: closing is all there is to do
    if unread:
        _linger(sock, *args, **kwargs)
        return
    with contextlib.suppress(OSError):
        sock.close()


def close_at_once_when_read() -> None:
    util.close_graceful = close_now_or_linger


class Logger(glogging.Logger):
    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        # The access log's level (ANNOTATOR_LOG_LEVEL, logconfig_dict) is known only now.
        writes = self.access_log.isEnabledFor(logging.INFO)
        self._access_log_enabled = bool(self.access_log_enabled) and writes


def load_before_forking(preloaded: bool) -> None:
    """In gunicorn's master, once it has loaded the app (preload_app) and before it forks a worker: spaCy,
    which the annotate page loads on its first open when it suggests (ANNOTATOR_SUGGEST_ON_OPEN).

    Loaded in each worker instead, that first open took about 1 s of CPU more (importing spaCy 0.76 s,
    its first blank pipeline 0.21 s): on a busy machine past gunicorn's 30 s timeout, and every worker
    started in a killed one's place died the same way. Forked from this master, workers have it from the
    start and share its pages."""
    if not preloaded:
        return  # the app is not loaded here: nothing of Django's may be read in the master
    from django.conf import settings

    if not settings.ANNOTATOR_SUGGEST_ON_OPEN:
        return  # the web workers never suggest: spaCy stays out of them
    import spacy

    spacy.blank("en")  # fills spaCy's registries, which its first pipeline in a process reads
