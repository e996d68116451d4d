"""The container image, built from the Dockerfile by a real Docker daemon and run: on SQLite in its volume, and
on PostgreSQL as a web service with a separate worker (compose.yaml's shape, on the host's network)."""

import json
import secrets
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from tests.conftest import fresh_database
from tests.support.container_image import Docker, build, daemon
from tests.support.network import free_port
from tests.support.polling import wait_for

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
TAG = "bulkmail:test"


@pytest.fixture(scope="module")
def docker() -> Iterator[Docker]:
    with daemon() as docker:
        build(docker, ROOT, TAG)
        yield docker


@pytest.fixture
def names(docker: Docker) -> Iterator[list[str]]:
    """Containers and volumes a test makes, removed after it (named at random: runs never collide)."""
    made: list[str] = []
    yield made
    for name in made:
        docker.run("rm", "-f", "-v", name, check=False)
        docker.run("volume", "rm", "-f", name, check=False)


def _health(port: int) -> dict | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
            return json.loads(answer.read())
    except OSError:
        return None


def _start(docker: Docker, names: list[str], *args: str) -> str:
    name = f"bulkmail-test-{secrets.token_hex(4)}"
    names.append(name)
    docker.run("run", "-d", "--name", name, "--network=host", *args)
    return name


def _serve(port: int) -> list[str]:
    # loopback only: the container shares the host's network
    return [TAG, "bulkmail", "serve", "--host", "127.0.0.1", "--port", str(port)]


def test_the_image_serves_sqlite_from_its_volume_as_its_own_user(docker: Docker, names: list[str]) -> None:
    volume = f"bulkmail-test-data-{secrets.token_hex(4)}"
    names.append(volume)
    port = free_port()
    web = _start(docker, names, "-v", f"{volume}:/data", *_serve(port))
    health = wait_for(lambda: _health(port), 120, "the container's /healthz")
    assert health["status"] == "ok" and health["database"] == "sqlite"
    assert docker.run("exec", web, "id", "-u").stdout.strip() == "10001"
    owners = docker.run("exec", web, "stat", "-c", "%u %a %n", "/data", "/data/bulkmail.db").stdout.splitlines()
    assert owners == ["10001 700 /data", "10001 644 /data/bulkmail.db"]
    logged = docker.run("logs", web)
    logs = logged.stdout + logged.stderr
    lines = [line for line in logs.splitlines() if line.startswith("{")]
    assert lines and all(json.loads(line)["level"] for line in lines)  # JSON lines
    # nothing at start-up tries to write beside the installed code (it belongs to root)
    assert "Permission denied" not in logs
    # a backup from a second container on the same volume, while the first one serves
    done = docker.run("run", "--rm", "-v", f"{volume}:/data", TAG, "bulkmail", "backup", "/data/b.backup", check=False)
    assert done.returncode == 0, done.stderr
    assert docker.run("exec", web, "test", "-s", "/data/b.backup", check=False).returncode == 0


def test_the_image_runs_web_and_a_worker_on_postgresql(docker: Docker, names: list[str], tmp_path: Path) -> None:
    with fresh_database("postgresql", tmp_path, "container") as url:
        seal = docker.run("run", "--rm", TAG, "python", "-c",
                          "from app.sealed import new_seal_key; print(new_seal_key())").stdout.split()[-1]  # fmt: skip
        common = ["-e", f"BULKMAIL_DATABASE_URL={url}", "-e", f"BULKMAIL_SEAL_KEY={seal}"]
        port = free_port()
        _start(docker, names, *common, "-e", "BULKMAIL_EMBEDDED_WORKER=false", "-e", "BULKMAIL_SCHEDULER=false",
               *_serve(port))  # fmt: skip
        _start(docker, names, *common, TAG, "bulkmail", "worker")
        health = wait_for(lambda: _health(port), 120, "the web container's /healthz")
        assert health["database"] == "postgresql"
        engine = create_engine(url)
        try:

            def worker_beats() -> bool:
                try:
                    with engine.connect() as conn:
                        return bool(conn.execute(text("SELECT count(*) FROM worker_heartbeat")).scalar())
                except DBAPIError:  # the schema is not there yet
                    return False

            wait_for(worker_beats, 120, "the worker container's heartbeat", interval=1)
        finally:
            engine.dispose()
        for name in names:
            subprocess.run([docker.binary, "rm", "-f", name], env=docker.env, capture_output=True)
