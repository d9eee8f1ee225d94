"""What gunicorn.conf.py changes in gunicorn's handling of each request (see its comments).

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
from typing import Any

from gunicorn import glogging, util

_linger = util.close_graceful


def close_now_or_linger(sock: socket.socket, *args: Any, **kwargs: Any) -> None:
    """Close at once when the client has sent nothing more than was read, else gunicorn's own close."""
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
