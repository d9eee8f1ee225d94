"""bench/load.py's light client (bench/_raw_http.py) sends the server the very bytes http.client sends, and
reads every shape of answer gunicorn gives: with a length, chunked, up to the close, one after another on
a kept-alive connection, and a closed connection reconnected."""

from __future__ import annotations

import http.client
import importlib.util
import json
import socket
import threading
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "_raw_http", Path(__file__).resolve().parents[2] / "bench" / "_raw_http.py"
)
raw_http = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(raw_http)


class Server:
    """A loopback server that records each connection's bytes and answers each request with the next of
    `answers` (a connection per answer when it closes)."""

    def __init__(self, answers: list[bytes]) -> None:
        self.answers = list(answers)
        self.received: list[bytes] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.host = f"127.0.0.1:{self.listener.getsockname()[1]}"
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while self.answers:
            sock, _ = self.listener.accept()
            with sock:
                while self.answers:
                    data = b""
                    while b"\r\n\r\n" not in data:
                        chunk = sock.recv(65536)
                        if not chunk:
                            break  # the client closed it: the next request comes on another
                        data += chunk
                    if not data:
                        break
                    head, _, body = data.partition(b"\r\n\r\n")
                    length = next(
                        (
                            int(line[15:])
                            for line in head.split(b"\r\n")
                            if line.lower().startswith(b"content-length")
                        ),
                        0,
                    )
                    while len(body) < length:
                        body += sock.recv(65536)
                    # As sent: the head and the whole body (which may have come in later reads than the head).
                    self.received.append(head + b"\r\n\r\n" + body)
                    answer = self.answers.pop(0)
                    sock.sendall(answer)
                    if b"Connection: close" in answer:
                        break

    def close(self) -> None:
        self.thread.join(timeout=30)
        self.listener.close()


OK = b'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nETag: "7"\r\n\r\nok'


@pytest.mark.parametrize(
    ("method", "path", "headers", "body"),
    [
        ("GET", "/articles/3/annotate/", {"Cookie": "sessionid=abc"}, None),
        ("GET", "/healthz", {}, None),
        (
            "POST",
            "/api/v1/sets/9/spans/",
            {"Authorization": "Bearer t", "Content-Type": "application/json", "If-Match": '"4"'},
            json.dumps({"start": 7, "end": 8, "type": "PERSON"}),
        ),
        ("POST", "/api/v1/x/", {"Authorization": "Bearer t"}, None),
    ],
)
def test_the_server_gets_the_bytes_http_client_sends(method, path, headers, body):
    server = Server([OK, OK])
    standard = http.client.HTTPConnection(server.host, timeout=30)
    standard.request(method, path, body, headers)
    standard.getresponse().read()
    standard.close()
    light = raw_http.Connection(server.host)
    answer = light.request(method, path, body, headers)
    light.close()
    server.close()
    assert (answer.status, answer.header("etag"), answer.body) == (200, '"7"', b"ok")
    assert server.received[1] == server.received[0]
    assert server.received[1] == raw_http.request_bytes(method, path, server.host, headers, body)


def test_answers_of_every_shape_are_read_whole_and_a_closed_connection_is_made_again():
    answers = [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nT: 1\r\n\r\n",
        b"HTTP/1.1 412 Precondition Failed\r\nContent-Length: 4\r\nConnection: close\r\n\r\nnope",
        b"HTTP/1.1 204 No Content\r\n\r\n",
        b"HTTP/1.0 200 OK\r\n\r\nto the end",
    ]
    server = Server(answers)
    light = raw_http.Connection(server.host)
    got = [light.request("GET", f"/{n}", None, {}) for n in range(4)]
    server.close()
    assert [(a.status, a.body) for a in got] == [
        (200, b"abcde"),
        (412, b"nope"),
        (204, b""),
        (200, b"to the end"),
    ]
    assert [request.split(b" ")[1] for request in server.received] == [b"/0", b"/1", b"/2", b"/3"]
    assert light.sock is None  # the last answer ran to the close


def test_a_connection_broken_before_the_answer_raises_and_is_closed():
    server = Server([b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\nshort"])
    light = raw_http.Connection(server.host)
    with pytest.raises(ConnectionResetError):
        light.request("GET", "/", None, {})
    server.close()
    assert light.sock is None
