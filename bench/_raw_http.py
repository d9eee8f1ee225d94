"""An HTTP/1.1 client connection for load generators that share the server's cores: it sends the very bytes
http.client sends for the same call (request line, Host, Accept-Encoding: identity, Content-Length for a body
or a POST/PUT/PATCH, the caller's headers, the body, in one send) and reads the answer with a few recv()
calls and no header objects. http.client parses every answer's headers through email.parser, line by line
from a buffered file: with 50 reviewer threads that was most of the load generator's CPU, taken from the
server under test on a 2-core machine (bench/load.py prints it per request).

Reconnects after an answer that closes the connection (gunicorn's sync worker closes each one), as
http.client does; answers with a Content-Length, chunked bodies, or a body up to the close.
"""

from __future__ import annotations

import socket

_BODY_METHODS = ("POST", "PUT", "PATCH")


class Answer:
    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: dict[bytes, bytes], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def header(self, name: str) -> str | None:
        """A header's value (the name in lower case), None when the answer has none."""
        value = self.headers.get(name.encode("latin-1"))
        return None if value is None else value.decode("latin-1")


def request_bytes(method: str, path: str, host: str, headers: dict[str, str], body: str | None) -> bytes:
    """What http.client.HTTPConnection(host).request(method, path, body, headers) sends."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Accept-Encoding: identity"]
    if not any(name.lower() == "content-length" for name in headers):
        encoded = body.encode("latin-1") if body is not None else None
        if encoded is not None:
            lines.append(f"Content-Length: {len(encoded)}")
        elif method.upper() in _BODY_METHODS:
            lines.append("Content-Length: 0")
    lines.extend(f"{name}: {value}" for name, value in headers.items())
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head + (body.encode("latin-1") if body is not None else b"")


class Connection:
    """One client connection (host "127.0.0.1:port"); `request` returns the whole answer."""

    def __init__(self, host: str, timeout: float = 30) -> None:
        self.host = host
        name, _, port = host.rpartition(":")
        self.address = (name, int(port))
        self.timeout = timeout
        self.sock: socket.socket | None = None
        self.buffer = b""

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock, self.buffer = None, b""

    def request(self, method: str, path: str, body: str | None, headers: dict[str, str]) -> Answer:
        """Send the request (connecting first when needed) and read its answer. Raises OSError (the
        connection broke) or ValueError (an answer that is not HTTP/1.x), the connection then closed."""
        if self.sock is None:
            self.sock = socket.create_connection(self.address, timeout=self.timeout)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as http.client's
        try:
            self.sock.sendall(request_bytes(method, path, self.host, headers, body))
            answer, closes = self._read_answer(method)
        except (OSError, ValueError):
            self.close()
            raise
        if closes:
            self.close()
        return answer

    def _more(self) -> bytes:
        assert self.sock is not None
        chunk = self.sock.recv(262144)
        if not chunk:
            raise ConnectionResetError("the server closed the connection before the answer's end")
        return chunk

    def _read_answer(self, method: str) -> tuple[Answer, bool]:
        data = self.buffer
        while (end := data.find(b"\r\n\r\n")) < 0:
            data += self._more()
        lines = data[:end].split(b"\r\n")
        version, _, rest = lines[0].partition(b" ")
        if not version.startswith(b"HTTP/1."):
            raise ValueError(f"not an HTTP/1.x answer: {lines[0]!r}")
        status = int(rest[:3])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        data = data[end + 4 :]
        closes = headers.get(b"connection", b"").lower() == b"close" or version == b"HTTP/1.0"
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            body = b""
        elif (length := headers.get(b"content-length")) is not None:
            size = int(length)
            while len(data) < size:
                data += self._more()
            body, data = data[:size], data[size:]
        elif headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            body, data = self._read_chunked(data)
        else:  # the body runs to the close
            try:
                while True:
                    data += self._more()
            except ConnectionResetError:
                pass
            body, data, closes = data, b"", True
        self.buffer = data
        return Answer(status, headers, body), closes

    def _read_chunked(self, data: bytes) -> tuple[bytes, bytes]:
        body = b""
        while True:
            while (end := data.find(b"\r\n")) < 0:
                data += self._more()
            size = int(data[:end].split(b";")[0], 16)
            data = data[end + 2 :]
            if size == 0:  # then trailer lines, up to an empty one
                while True:
                    while (end := data.find(b"\r\n")) < 0:
                        data += self._more()
                    line, data = data[:end], data[end + 2 :]
                    if not line:
                        return body, data
            while len(data) < size + 2:
                data += self._more()
            body += data[:size]
            data = data[size + 2 :]
