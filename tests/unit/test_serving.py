"""What gunicorn.conf.py changes in gunicorn: closing a connection whose request was read whole at once,
and no access line built when the access log does not write INFO."""

import collections
import logging
import runpy
import socket
import ssl
from pathlib import Path
from types import SimpleNamespace

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


def test_a_tls_connection_gets_gunicorn_s_lingering_close(connection, lingered):
    server, _ = connection
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).wrap_socket(
        server, server_side=True, do_handshake_on_connect=False
    )
    serving.close_now_or_linger(tls)
    assert lingered == [tls]
    tls.close()


def test_the_worker_hook_puts_it_in_gunicorn_s_place(monkeypatch):
    monkeypatch.setattr(util, "close_graceful", util.close_graceful)
    worker = SimpleNamespace(cfg=SimpleNamespace(threads=1), log=Log())
    runpy.run_path(str(ROOT / "gunicorn.conf.py"))["post_worker_init"](worker)
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

    def atoms(*args):
        built.append(args)
        return {}

    monkeypatch.setattr(logger, "atoms", atoms)
    logger.access(None, None, {}, None)
    assert len(built) == (1 if enabled else 0)


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({}, (2, 1, "annotator.core.serving.SavesFirstWorker")),
        ({"WEB_THREADS": "1"}, (2, 1, "annotator.core.serving.SavesFirstWorker")),
        ({"WEB_CONCURRENCY": "3", "WEB_THREADS": "6"}, (3, 6, "annotator.core.serving.PriorityThreadWorker")),
        ({"WEB_SAVES_FIRST": "true"}, (2, 1, "annotator.core.serving.SavesFirstWorker")),
        ({"WEB_SAVES_FIRST": "false"}, (2, 1, "sync")),
        (
            {"WEB_SAVES_FIRST": "true", "WEB_THREADS": "4"},
            (2, 4, "annotator.core.serving.PriorityThreadWorker"),
        ),
    ],
)
def test_gunicorn_conf_serves_web_concurrency_workers_of_web_threads_threads(
    monkeypatch, environment, expected
):
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    monkeypatch.delenv("WEB_THREADS", raising=False)
    monkeypatch.delenv("WEB_SAVES_FIRST", raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert (conf["workers"], conf["threads"], conf["worker_class"]) == expected


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5"])
def test_a_worker_or_thread_count_that_is_not_a_whole_number_above_zero_is_refused(monkeypatch, value):
    monkeypatch.setenv("WEB_THREADS", value)
    with pytest.raises(ValueError, match=f"WEB_THREADS must be a whole number of at least 1, not '{value}'"):
        serving.web_threads()


def test_a_saves_first_setting_that_is_not_true_or_false_is_refused(monkeypatch):
    monkeypatch.setenv("WEB_SAVES_FIRST", "maybe")
    with pytest.raises(ValueError, match="WEB_SAVES_FIRST must be true or false, not 'maybe'"):
        serving.web_saves_first()


class Log:
    def __init__(self):
        self.lines = []

    def info(self, message, *args):
        self.lines.append(message % args)


@pytest.fixture
def pools(monkeypatch):
    """A PostgreSQL alias with a pool and a SQLite alias, as ConnectionHandler.settings holds them."""
    from django.db import connections

    databases = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "OPTIONS": {"pool": {"min_size": 1, "max_size": 10}},
        },
        "other": {"ENGINE": "django.db.backends.postgresql", "OPTIONS": {"pool": True}},
        "local": {"ENGINE": "django.db.backends.sqlite3", "OPTIONS": {}},
    }
    monkeypatch.setattr(connections, "settings", databases, raising=False)
    return databases


def test_a_pool_smaller_than_the_worker_s_threads_is_raised_to_them_and_the_log_says_so(pools):
    log = Log()
    serving.size_pools_for_threads(16, log)
    assert pools["default"]["OPTIONS"]["pool"] == {"min_size": 1, "max_size": 16}
    assert pools["other"]["OPTIONS"]["pool"] == {"max_size": 16}  # psycopg_pool's default was 4
    assert pools["local"]["OPTIONS"] == {}
    assert log.lines == [
        "Database default: a pool of at most 10 connections (ANNOTATOR_DB_POOL_MAX) for 16 threads per worker; "
        "each worker's pool holds 16.",
        "Database other: a pool of at most 4 connections (ANNOTATOR_DB_POOL_MAX) for 16 threads per worker; "
        "each worker's pool holds 16.",
    ]


def test_a_pool_as_large_as_the_threads_or_larger_is_left_as_it_is(pools):
    log = Log()
    serving.size_pools_for_threads(4, log)
    assert pools["default"]["OPTIONS"]["pool"] == {"min_size": 1, "max_size": 10}
    assert pools["other"]["OPTIONS"]["pool"] is True
    assert log.lines == []


@pytest.mark.parametrize(
    ("head", "priority"),
    [
        (
            b'POST /api/v1/sets/3/spans/ HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n\r\n{"start": 0',
            serving.SAVES,
        ),
        (b"DELETE /api/v1/sets/3/spans/9/ HTTP/1.1\r\nHost: x\r\n\r\n", serving.SAVES),
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", serving.SAVES),
        (b"GET /articles/1/annotate/ HTTP/1.1\r\nHost: x\r\n\r\n", serving.READS),
        (b"GET /healthz?full=1 HTTP/1.1\r\nHost: x\r\n\r\n", serving.READS),
        (b"POST /projects/1/import/ HTTP/1.1\r\nContent-Length: 65537\r\n\r\n", serving.READS),
        (b"POST /api/v1/x/ HTTP/1.1\r\ncontent-length: 65536\r\n\r\n", serving.SAVES),
        (b"POST /api/v1/x/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", serving.READS),
        (b"POST /api/v1/x/ HTTP/1.1\r\nContent-Length: -1\r\n\r\n", serving.READS),
        (
            b"POST /api/v1/sets/3/spans/ HTTP/1.1\r\nHost: x\r\nCookie: a",
            serving.READS,
        ),  # headers not all here
        (b"", serving.READS),
        (b"OPTIONS / HTTP/1.1\r\n\r\n", serving.READS),
    ],
)
def test_small_writes_and_healthz_are_saves_and_everything_else_a_read(head, priority):
    assert serving.request_priority(head) == priority


def test_waiting_work_is_handed_out_saves_first_each_in_arrival_order_and_the_stop_signal_last():
    work = serving._PriorityWork()

    def item(name, priority):
        return SimpleNamespace(name=name, args=(SimpleNamespace(priority=priority),))

    for name, priority in [("page", serving.READS), ("span", serving.SAVES), ("list", serving.READS)]:
        work.put(item(name, priority))
    work.put(None)
    work.put(item("decision", serving.SAVES))
    taken = [work.get_nowait() for _ in range(5)]
    assert [None if got is None else got.name for got in taken] == ["span", "decision", "page", "list", None]


def test_a_kept_alive_connection_whose_request_came_as_it_expired_is_served_not_closed(connection):
    server, client = connection
    client.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    other_server, other_client = socket.socketpair()
    closed, served = [], []

    def kept(sock, timeout):
        return SimpleNamespace(sock=sock, timeout=timeout, parser=None, cfg=SimpleNamespace(is_ssl=False),
                               close=lambda: closed.append(sock))  # fmt: skip

    expired_with_request, expired_idle, alive = (
        kept(server, 0.0),
        kept(other_server, 0.0),
        kept(other_server, 1e12),
    )
    worker = SimpleNamespace(
        keepalived_conns=collections.deque([expired_with_request, expired_idle, alive]),
        poller=SimpleNamespace(unregister=lambda sock: None),
        alive=True,
        nr_conns=3,
        enqueue_req=served.append,
    )
    serving.PriorityThreadWorker.murder_keepalived(worker)
    assert (served, closed, list(worker.keepalived_conns), worker.nr_conns) == (
        [expired_with_request],
        [other_server],
        [alive],
        2,
    )
    other_client.close()
    other_server.close()


def test_a_new_connection_whose_request_has_not_come_waits_as_long_as_gunicorns_own_worker_lets_it(
    connection, monkeypatch
):
    server, _client = connection  # connected, nothing sent
    registered = []
    conn = SimpleNamespace(sock=server, parser=None, initialized=False, data_ready=False, timeout=None,
                           cfg=SimpleNamespace(is_ssl=False))  # fmt: skip
    worker = SimpleNamespace(
        cfg=SimpleNamespace(keepalive=2),
        pending_conns=collections.deque(),
        poller=SimpleNamespace(register=lambda sock, events, callback: registered.append(sock)),
        on_pending_socket_readable=lambda conn: None,
    )
    monkeypatch.setattr(serving.time, "monotonic", lambda: 1000.0)
    serving.PriorityThreadWorker.enqueue_req(worker, conn)
    # gunicorn's gthread: 5 s waiting in a thread (DEFAULT_WORKER_DATA_TIMEOUT), then the keep-alive
    assert (list(worker.pending_conns), registered, conn.timeout) == ([conn], [server], 1007.0)
