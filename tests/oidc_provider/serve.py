"""Serve the test provider (Django's threaded development server, as `runserver` does) on a socket that the
test process bound and listens on, inherited as file descriptor `sys.argv[1]`.

`runserver 127.0.0.1:<port>` binds a port that the test only probed: free again until the server binds it,
after Django has started (seconds on a loaded machine), and meanwhile any connection of the machine can take
it as its local port, or another test run's provider can listen there and answer this one's browser. A
socket held from before the server starts is this test's alone.
"""

import socket
import sys

from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
from django.core.wsgi import get_wsgi_application


class InheritedSocketServer(ThreadedWSGIServer):
    def __init__(self, fd: int) -> None:
        self.inherited = fd
        super().__init__(("127.0.0.1", 0), WSGIRequestHandler)

    def server_bind(self) -> None:
        """Take the inherited socket instead of binding one, then what binding sets up (the names the WSGI
        environ carries)."""
        self.socket.close()
        self.socket = socket.socket(fileno=self.inherited)
        host, port = self.server_address = self.socket.getsockname()[:2]
        self.server_name, self.server_port = host, port
        self.setup_environ()

    def server_activate(self) -> None:
        """The test process listens on it already."""


def main() -> None:
    server = InheritedSocketServer(int(sys.argv[1]))
    server.set_app(get_wsgi_application())
    server.serve_forever()


if __name__ == "__main__":
    main()
