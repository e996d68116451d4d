"""CPU seconds of the processes a benchmark step runs, read from /proc (Linux): the machine is shared, so
wall time depends on who else runs; the CPU a step needs does not.

`ServerCPU(database)`: the PostgreSQL backends serving DATABASE (the server runs on this machine) while
the block runs. `group_cpu(pgid)`: a process group's CPU so far (a server started with start_new_session)."""

import os
import threading
from pathlib import Path

import psycopg

TICK = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int, children: bool = False) -> float:
    """User + system seconds of a live process (with its waited-for children's); 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    ticks = int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if children else 0)
    return ticks / TICK


def group_cpu(pgid: int) -> float:
    """User + system seconds of every live process of the group, with their waited-for children."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            total += (int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])) / TICK
    return total


class ServerCPU:
    """The CPU the PostgreSQL backends of one database use during the block: polled every POLL s from
    pg_stat_activity and /proc, the last reading of each backend counted (one that lives shorter than a
    poll is missed; an import's backends live as long as it)."""

    POLL = 0.1

    def __init__(self, admin_dsn: str, database: str) -> None:
        self.admin_dsn, self.database = admin_dsn, database
        self.seen: dict[int, float] = {}
        self.start: dict[int, float] = {}
        self.seconds = 0.0
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _read(self, conn: psycopg.Connection) -> dict[int, float]:
        pids = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [self.database]
        ).fetchall()
        return {pid: process_cpu(pid) for (pid,) in pids}

    def _poll(self) -> None:
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            self.start = self._read(conn)  # backends already there count from now
            self._ready.set()
            while not self._stop.wait(self.POLL):
                for pid, cpu in self._read(conn).items():
                    if cpu:
                        self.seen[pid] = cpu
            for pid, cpu in self._read(conn).items():
                if cpu:
                    self.seen[pid] = cpu

    def __enter__(self) -> "ServerCPU":
        self._thread.start()
        self._ready.wait(30)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.seconds = sum(cpu - self.start.get(pid, 0.0) for pid, cpu in self.seen.items())
