"""What gunicorn.conf.py changes in gunicorn: closing a connection whose request was read whole at once,
and no access line built when the access log does not write INFO."""

import logging
import runpy
import socket
from pathlib import Path

import pytest
from gunicorn import glogging, util
from gunicorn.config import Config

from annotator.core import serving

ROOT = Path(__file__).resolve().parents[2]
ANSWER = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"


@pytest.fixture
def connection():
    """(server side, client side) of a TCP connection on the loopback, as a sync worker has it."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    yield server, client
    client.close()
    server.close()


@pytest.fixture
def lingered(monkeypatch):
    calls = []
    monkeypatch.setattr(serving, "_linger", lambda sock, *args, **kwargs: calls.append(sock))
    return calls


def test_a_request_read_whole_is_closed_at_once_and_the_client_gets_all_of_the_answer(connection, lingered):
    server, client = connection
    client.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert server.recv(4096) == b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    server.sendall(ANSWER)
    serving.close_now_or_linger(server)
    assert lingered == []
    assert server.fileno() == -1  # closed without waiting for the client to close first
    received = b""
    while chunk := client.recv(4096):
        received += chunk
    assert received == ANSWER  # then the end of the stream: nothing was cut short


def test_a_request_with_bytes_left_unread_gets_gunicorn_s_lingering_close(connection, lingered):
    server, client = connection
    client.sendall(b"POST /api/v1/suggest HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello")
    server.recv(len(b"POST /api/v1/suggest HTTP/1.1\r\nContent-Length: 5\r\n\r\n"))
    server.sendall(ANSWER)
    serving.close_now_or_linger(server, timeout=2.0)
    assert lingered == [server]
    assert server.fileno() != -1  # gunicorn's own close drains, then closes


def test_the_worker_hook_puts_it_in_gunicorn_s_place(monkeypatch):
    monkeypatch.setattr(util, "close_graceful", util.close_graceful)
    runpy.run_path(str(ROOT / "gunicorn.conf.py"))["post_worker_init"](object())
    assert util.close_graceful is serving.close_now_or_linger


@pytest.mark.parametrize(("level", "enabled"), [("INFO", True), ("WARNING", False)])
def test_no_access_line_is_built_when_the_access_log_does_not_write_info(monkeypatch, level, enabled):
    monkeypatch.setenv("ANNOTATOR_LOG_LEVEL", level)
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert conf["logger_class"] == "annotator.core.serving.Logger"
    access = logging.getLogger("gunicorn.access")
    monkeypatch.setattr(access, "level", access.level)
    monkeypatch.setattr(access, "handlers", [])
    monkeypatch.setattr(logging.getLogger("gunicorn.error"), "handlers", [])
    # The test process keeps its own logging: only the access logger's level is taken from the config.
    monkeypatch.setattr(
        glogging, "dictConfig", lambda config: access.setLevel(config["loggers"]["gunicorn.access"]["level"])
    )
    config = Config()
    config.set("logconfig_dict", conf["logconfig_dict"])
    logger = serving.Logger(config)
    assert logger.access_log_enabled is enabled
    built = []
    monkeypatch.setattr(logger, "atoms", lambda *args: built.append(args) or {})
    logger.access(None, None, {}, None)
    assert len(built) == (1 if enabled else 0)
