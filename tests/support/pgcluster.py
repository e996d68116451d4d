"""A PostgreSQL cluster of a test's or benchmark's own (Debian's pg_createcluster) on a free loopback
port, so that it can be stopped and started mid-run: never the shared cluster on 5432."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.support.network import free_port


def _version() -> str:
    return max(os.listdir("/usr/lib/postgresql"), key=int)


class PgCluster:
    def __init__(self, name: str | None = None, port: int | None = None) -> None:
        self.version = _version()
        self.name = name or f"bmfault{os.getpid()}"
        self.port = port or free_port()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> None:
        result = subprocess.run(args, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed: {result.stdout}{result.stderr}")

    def create(self) -> PgCluster:
        """Create (trust on loopback, not started at boot) and start it."""
        if Path(f"/etc/postgresql/{self.version}/{self.name}").exists():
            self.drop()  # a leftover of a run that was killed
        self._run("pg_createcluster", self.version, self.name, "-p", str(self.port), "--start-conf=manual",
                  "-o", "fsync=off", "--", "--auth=trust")  # fmt: skip
        try:
            self.start()
        except BaseException:
            self.drop()
            raise
        return self

    def start(self) -> None:
        self._run("pg_ctlcluster", self.version, self.name, "start")

    def stop(self) -> None:
        """A fast shutdown: every client connection is cut at once, like a database restart."""
        self._run("pg_ctlcluster", self.version, self.name, "stop", "-m", "fast")

    def drop(self) -> None:
        self._run("pg_dropcluster", self.version, self.name, "--stop")

    def create_database(self, name: str) -> str:
        engine = create_engine(self.url(), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
        engine.dispose()
        return self.url(name)

    def __enter__(self) -> PgCluster:
        return self.create()

    def __exit__(self, *exc: object) -> None:
        self.drop()
