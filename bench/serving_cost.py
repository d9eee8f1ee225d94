"""What gunicorn's serving costs per request, without the app: its sync worker against SavesFirstWorker.

    python bench/serving_cost.py sync 4000                 # CPU per request of the serving loop
    valgrind --tool=callgrind --callgrind-out-file=/dev/null python bench/serving_cost.py saves 4000

The worker runs in this process (set up as gunicorn.conf.py sets it up: the closing at once of a request read
whole) and serves a WSGI app that answers `/healthz`'s bytes without Django, so all that is measured is the
worker: accepting, reading and parsing the request, writing the answer, closing (sync) or polling and keeping
the connection (saves first). The clients are another process (CLIENTS connections, each sending its next
request when the last is answered; new connections for sync, which closes each one), so callgrind, which
follows only this process, counts the worker's instructions alone. Prints the CPU time per request (user and
system: the kernel's share of accepting and closing connections counts) of this process. Instructions per
request: run it under callgrind with two request counts and divide the difference.
"""

from __future__ import annotations

import os
import selectors
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CLIENTS = int(os.environ.get("SERVING_CLIENTS", "8"))
BODY = b'{"status": "ok"}'
REQUEST = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n"

CLIENT = """
import socket, sys, threading
port, count, clients, reconnect = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
request = {request!r}

def client(share):
    sock = socket.create_connection(("127.0.0.1", port))
    for _ in range(share):
        if reconnect and sock is None:
            sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(request)
        data = b""
        while not data.endswith({body!r}):
            chunk = sock.recv(65536)
            if not chunk:
                raise SystemExit("connection closed before the answer")
            data += chunk
        if reconnect:
            sock.close()
            sock = None
    if sock is not None:
        sock.close()

threads = [threading.Thread(target=client, args=(count // clients,)) for _ in range(clients)]
for t in threads: t.start()
for t in threads: t.join()
"""


def app(environ, start_response):  # type: ignore[no-untyped-def]
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))])
    return [BODY]


def worker_for(kind: str, listener: socket.socket):  # type: ignore[no-untyped-def]
    from gunicorn import glogging, util
    from gunicorn.config import Config
    from gunicorn.workers.sync import SyncWorker

    from annotator.core import serving

    util.close_graceful = serving.close_now_or_linger  # gunicorn.conf.py's post_worker_init
    cfg = Config()
    cfg.set("worker_tmp_dir", "/dev/shm" if os.path.isdir("/dev/shm") else "/tmp")  # noqa: S108
    cls = SyncWorker if kind == "sync" else serving.SavesFirstWorker
    worker = cls(0, os.getppid(), [listener], None, 30, cfg, glogging.Logger(cfg))
    worker.wsgi = app
    if kind == "saves":
        worker.poller = selectors.DefaultSelector()
        worker.waiting = serving.WaitingRequests(serving.read_wait_seconds())
        worker.set_accept_enabled(True)
    return worker


def main() -> None:
    kind, count = sys.argv[1], int(sys.argv[2])
    if kind not in ("sync", "saves"):
        raise SystemExit("usage: serving_cost.py sync|saves REQUESTS")
    count -= count % CLIENTS
    listener = socket.create_server(("127.0.0.1", 0), backlog=128)
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as gunicorn's listeners: no Nagle delay
    worker = worker_for(kind, listener)
    served = 0

    def counting(environ, start_response):  # type: ignore[no-untyped-def]
        nonlocal served
        served += 1
        return app(environ, start_response)

    worker.wsgi = counting
    port = listener.getsockname()[1]
    source = CLIENT.format(request=REQUEST, body=BODY)
    clients = subprocess.Popen(
        [sys.executable, "-c", source, str(port), str(count), str(CLIENTS), "1" if kind == "sync" else "0"]
    )
    began, cpu = time.perf_counter(), os.times()
    if kind == "sync":
        while served < count:  # SyncWorker.run_for_one's turn: notify, accept one, serve it
            worker.notify()
            sock, address = listener.accept()
            sock.setblocking(True)
            worker.handle(listener, sock, address)
    else:
        while served < count:
            worker._pass(timeout=1.0)
    used = os.times()
    took = time.perf_counter() - began
    clients.wait()
    if clients.returncode:
        raise SystemExit("the clients failed")
    print(f"{kind}: {count} requests in {took:.2f} s, {CLIENTS} clients; CPU per request: "
          f"{(used.user - cpu.user) / count * 1e6:.0f} us user + {(used.system - cpu.system) / count * 1e6:.0f} us "
          f"system; load average {os.getloadavg()[0]:.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
