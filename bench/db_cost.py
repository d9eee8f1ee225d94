"""What each request of the reviewers' mix sends to PostgreSQL: every statement, and the server's CPU for it.

    DATABASE_URL=postgres://... python bench/request_cost.py setup            # the data (bench/request_cost.py's)
    DATABASE_URL=postgres://... python bench/db_cost.py statements ACTION N    # the statements of N requests
    DATABASE_URL=postgres://... python bench/db_cost.py plans ACTION N         # their plans, as they ran
    DATABASE_URL=postgres://... python bench/db_cost.py repeat ACTION N        # each read statement N times
    DATABASE_URL=postgres://... python bench/db_cost.py cpu ACTION[,ACTION...] N [ROUNDS]   # server CPU

ACTION is one of bench/request_cost.py's (`healthz`, `me`, `span`, `accept`, `reject`, `list`, `page`, `set`),
served the same way (Django's WSGI handler in this process, production settings, a pooled connection).

`statements` turns on `log_min_duration_statement = 0` for its own session's database only (ALTER DATABASE ...
SET, which a superuser may do without touching postgresql.conf or restarting the server), serves 20 warm-up and N
measured requests between two marker statements, turns the setting off again and prints, from the server's log,
every statement the measured requests sent (BEGIN, COMMIT, SAVEPOINT, SET and prepared statements' executions
included: the server logs each message it runs) with its count per request and the time the server took.
`plans` serves N requests the same way with auto_explain loaded by the measured database's new sessions only
(ALTER DATABASE ... SET session_preload_libraries, reset afterwards) and prints every statement's plan as it ran:
rows, time and buffers of each node (timing each node costs the server more: not for CPU figures).
`repeat` runs each read statement of one such request again, alone, N times (prepared, with the values it was
sent with, on a connection with the app's options): the server's CPU per run, with warm caches (a request's
statements cost more: the backend sleeps between them while the app works). `log_min_duration_statement`
costs the server a log write per statement, so `cpu` measures with it off: the CPU
the server process(es) of this database used (from /proc/<pid>/stat) around N requests, per request, and the
same for the process serving them, ROUNDS times, interleaved action by action.
"""

from __future__ import annotations

import collections
import os
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import request_cost

LOG = Path(os.environ.get("PG_LOG", "/var/log/postgresql/postgresql-15-main.log"))
WARM = 20


def _admin(url: str, sql: str) -> None:
    """A statement run from the server's `postgres` database (ALTER DATABASE of the measured one)."""
    import psycopg

    with psycopg.connect(
        request_cost.urlsplit(url)._replace(path="/postgres").geturl(), autocommit=True
    ) as c:
        c.execute(sql)


def _database() -> str:
    return request_cost.urlsplit(os.environ["DATABASE_URL"]).path.strip("/")


def _mark(text: str) -> None:
    """A statement of its own connection that the log shows between the requests' statements."""
    import psycopg

    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as connection:
        connection.execute(f"SELECT '{text}'")


def _served(action: str, count: int) -> tuple[list[dict[str, object]], object]:
    from annotator.wsgi import application

    environs = request_cost.requests_for(action, WARM + count)
    wanted = 201 if action in ("span", "accept", "reject") else 200
    for environ in environs[:WARM]:
        assert request_cost.serve(application, environ) == wanted
    return environs[WARM:], application


# A statement as the server logs it: "duration: 0.123 ms  statement: SELECT ..." (simple protocol) or
# "duration: 0.050 ms  execute <name>: SELECT ..." / "parse"/"bind" (extended protocol: prepared statements and
# server-side binding).
_LINE = re.compile(
    r"\[(\d+)\] \S+@(\S+) LOG:  duration: ([\d.]+) ms  (statement|execute [^:]*|parse [^:]*|bind [^:]*): (.*)"
)


# The server settings `plans` turns on for the measured database: every statement's plan as it ran, with the
# time and buffers of each node (auto_explain, loaded by each new session of that database only).
_PLAN_SETTINGS = {
    "session_preload_libraries": "auto_explain",
    "auto_explain.log_min_duration": "0",
    "auto_explain.log_analyze": "on",
    "auto_explain.log_buffers": "on",
    "auto_explain.log_timing": "on",
}


def _logged(action: str, count: int, settings: dict[str, str] | None = None) -> tuple[str, list[str]]:
    """Serve `count` measured requests of the action with statement logging on (or the given server
    settings); their log entries."""
    url = request_cost._configure()
    name = _database()
    settings = settings or {"log_min_duration_statement": "0"}
    for setting, value in settings.items():
        _admin(url, f"ALTER DATABASE \"{name}\" SET {setting} = '{value}'")
    try:
        import django

        django.setup()
        from django.db import connections

        # The pool opens its connections now, after the setting: each logs its statements.
        measured, application = _served(action, count)
        start = LOG.stat().st_size
        _mark("db_cost begin")
        for environ in measured:
            request_cost.serve(application, environ)
        _mark("db_cost end")
        connections.close_all()
    finally:
        for setting in settings:
            _admin(url, f'ALTER DATABASE "{name}" RESET {setting}')
    time.sleep(0.5)  # the server writes its log asynchronously to us
    with LOG.open("rb") as log:
        log.seek(start)
        text = log.read().decode(errors="replace")
    if settings.get("session_preload_libraries") == "auto_explain":
        # The markers' own sessions do not load auto_explain: the requests' plans are between the log
        # lines of the two markers' connections (their "connection authorized" lines).
        text = text.split("db_cost begin", 1)[1].rsplit("db_cost end", 1)[0]
        return name, text.splitlines()
    text = text.split("SELECT 'db_cost begin'", 1)[1].split("SELECT 'db_cost end'", 1)[0]
    return name, _joined(text)


def plans(action: str, count: int) -> None:
    """The plan of every statement `count` requests of the action sent, as the server ran it (auto_explain:
    rows, time and buffers of each node), from the server's log."""
    name, lines = _logged(action, count, _PLAN_SETTINGS)
    shown = 0
    for line in lines:
        if f"@{name} LOG:  duration:" in line and "plan:" in line:
            shown += 1
            print(f"--- {line.split(' LOG:  ', 1)[1]}")
        elif shown and (line.startswith(("\t", " ")) or not re.match(r"\d{4}-\d\d-\d\d ", line)):
            print(line.replace("\t", "  ", 1))
    print(f"{action}: {shown} plans from {count} requests; load average {os.getloadavg()[0]:.1f}")


def statements(action: str, count: int) -> None:
    name, entries = _logged(action, count)
    kinds: collections.Counter[str] = collections.Counter()
    took: collections.defaultdict[str, float] = collections.defaultdict(float)
    for line in entries:
        found = _LINE.search(line)
        if not found or found.group(2) != name or not found.group(5).strip():
            continue
        what = found.group(4).split()[0]
        sql = " ".join(found.group(5).split())[:160]
        key = f"{what:8} {sql}"
        kinds[key] += 1
        took[key] += float(found.group(3))
    total = sum(kinds.values())
    print(f"{action}: {total / count:.1f} messages logged per request ({count} requests); "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    for key, seen in kinds.most_common():
        print(f"  {seen / count:5.2f} x  {took[key] / seen * 1000:7.1f} us  {key}")


def repeat(action: str, times: int) -> None:
    """Each read statement one request of the action sent, run again `times` times alone (prepared, with its
    logged values) on a connection of its own with the app's options: the server's CPU per run, warm."""
    import psycopg
    from django.conf import settings

    name, entries = _logged(action, 1)
    options = settings.DATABASES["default"]["OPTIONS"].get("options", "")
    reads = []
    for at, line in enumerate(entries):
        found = _LINE.search(line)
        if not found or found.group(2) != name or not found.group(4).startswith(("execute", "statement")):
            continue
        sql = found.group(5)
        if not sql.lstrip().upper().startswith(("SELECT", "(SELECT")):
            continue  # a write would change the data it is measured on
        values = []
        if at + 1 < len(entries) and "DETAIL:  parameters: " in entries[at + 1]:
            listed = entries[at + 1].split("parameters: ", 1)[1]
            values = [None if v == "NULL" else v[1:-1].replace("''", "'")
                      for v in re.findall(r"\$\d+ = (NULL|'(?:[^']|'')*')", listed)]  # fmt: skip
        reads.append((re.sub(r"\$\d+", "%s", sql.replace("%", "%%")), values))
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True, options=options) as connection:
        pid = connection.info.backend_pid
        for sql, values in reads:
            for _ in range(20):  # prepared, planned, cached
                connection.execute(sql, values, prepare=bool(values)).fetchall()
            used = cpu_seconds(pid)
            for _ in range(times):
                rows = connection.execute(sql, values, prepare=bool(values)).fetchall()
            used = cpu_seconds(pid) - used
            print(
                f"{used / times * 1e6:8.1f} us server CPU per run, {len(rows):4} rows  {' '.join(sql.split())[:100]}"
            )
    print(f"{action}: options {options!r}; load average {os.getloadavg()[0]:.1f}")


def _joined(text: str) -> list[str]:
    """Log entries, a statement's continuation lines joined to its first."""
    entries: list[str] = []
    for line in text.splitlines():
        if re.match(r"\d{4}-\d\d-\d\d ", line) or not entries:
            entries.append(line)
        else:
            entries[-1] += " " + line.strip()
    return entries


def cpu_seconds(pid: int) -> float:
    """CPU time a process on this machine has run, in nanosecond steps (the scheduler's own count:
    /proc/<pid>/stat's ticks are 10 ms apart, more than a statement costs); 0 when it is gone."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9
    except OSError:
        return 0.0


def _backends() -> list[int]:
    import psycopg

    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as connection:
        rows = connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return [pid for (pid,) in rows]


def cpu(actions: str, count: int, rounds: int) -> None:
    request_cost._configure()
    import django

    django.setup()
    results: collections.defaultdict[str, list[tuple[float, float]]] = collections.defaultdict(list)
    backends: set[int] = set()  # how many server processes the pool had (it may grow to two at the start)
    for _ in range(rounds):
        for action in actions.split(","):
            measured, application = _served(action, count)
            pids = _backends()
            server = sum(map(cpu_seconds, pids))
            app = time.process_time()
            for environ in measured:
                request_cost.serve(application, environ)
            app = time.process_time() - app
            server = sum(map(cpu_seconds, pids)) - server
            results[action].append((app * 1000 / count, server * 1000 / count))
            backends.add(len(pids))
    load = os.getloadavg()[0]
    for action, runs in results.items():
        apps = ", ".join(f"{a:.3f}" for a, _ in runs)
        servers = ", ".join(f"{s:.3f}" for _, s in runs)
        print(f"{action}: CPU per request, app {apps} ms; database {servers} ms ({count} requests a round)")
    print(f"server processes of the pool: {', '.join(map(str, sorted(backends)))}; load average {load:.1f}")


if __name__ == "__main__":
    if sys.argv[1] == "statements":
        statements(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1] == "plans":
        plans(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1] == "repeat":
        repeat(sys.argv[2], int(sys.argv[3]))
    else:
        cpu(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else 3)
