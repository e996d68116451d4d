"""The container: its entrypoint run directly (the image cannot be built on every machine), against a data
directory and a real database; and the Dockerfile's and compose file's layout."""

import os
import subprocess
import sys
import time
from pathlib import Path

import yaml
from sqlalchemy import create_engine

from app.migrate import current, head
from tests.support.network import free_port
from tests.support.pgcluster import PgCluster

ROOT = Path(__file__).resolve().parent.parent
ENTRYPOINT = ROOT / "scripts" / "container-entrypoint"
BIN = Path(sys.executable).parent  # where `bulkmail` is installed


def _env(database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "BULKMAIL_DATABASE_URL": database_url,
            "BULKMAIL_DATA_DIR": str(data_dir), **extra}  # fmt: skip


def _run(env: dict[str, str], *command: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(ENTRYPOINT), *command], env=env, capture_output=True, text=True, timeout=timeout)


def test_the_entrypoint_upgrades_an_empty_database_then_runs_the_command(empty_db_url: str, tmp_path: Path) -> None:
    done = _run(_env(empty_db_url, tmp_path / "data"), "bulkmail", "version")
    assert done.returncode == 0, done.stderr
    answers, upgraded, version = done.stdout.splitlines()
    assert answers.endswith("answers") and upgraded.startswith(f"database at revision {head()}")
    assert version == __import__("app").__version__
    engine = create_engine(empty_db_url)
    assert current(engine) == head()
    engine.dispose()
    assert (tmp_path / "data").is_dir()
    # anything but a bulkmail command runs as given, with no database step
    shell = _run(_env("postgresql+psycopg://nobody@127.0.0.1:9/none", tmp_path), "sh", "-c", "echo plain")
    assert (shell.returncode, shell.stdout) == (0, "plain\n")


def test_the_entrypoint_waits_for_postgresql_to_start(tmp_path: Path) -> None:
    with PgCluster() as cluster:
        cluster.stop()  # as when the containers start together: PostgreSQL is not up yet
        started = time.monotonic()
        proc = subprocess.Popen([str(ENTRYPOINT), "bulkmail", "version"], env=_env(cluster.url(), tmp_path),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
        time.sleep(3)
        assert proc.poll() is None, proc.communicate()  # still waiting
        cluster.start()
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert f"database at revision {head()}" in out and time.monotonic() - started >= 3


def test_the_entrypoint_gives_up_when_the_database_never_answers(tmp_path: Path) -> None:
    nowhere = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/bulkmail"
    done = _run(_env(nowhere, tmp_path, BULKMAIL_DB_WAIT_SECONDS="2"), "bulkmail", "serve")
    assert done.returncode == 1
    assert "did not answer within 2 s" in done.stderr and "OperationalError" in done.stderr


def test_a_data_directory_the_container_user_cannot_write_is_named(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o500)
    as_user: list[str] = []
    if os.geteuid() == 0:  # root writes anywhere: run as nobody, as the image runs as its own user
        data.chmod(0o700)
        tmp_path.chmod(0o755)
        as_user = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    env = _env("sqlite:///unused.db", data)
    done = subprocess.run([*as_user, str(ENTRYPOINT), "bulkmail", "serve"], env=env, capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert done.returncode == 1
    assert f"the data directory {data} cannot be written by uid" in done.stderr and "chown" in done.stderr


def _dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile's instructions: (INSTRUCTION, arguments), continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_the_image_runs_serve_as_its_own_user_with_the_data_directory_a_volume() -> None:
    steps = _dockerfile()
    args = {name: value for name, value in steps}  # the last of each
    assert args["FROM"] == "debian:bookworm-slim"
    user = args["USER"]
    assert user not in ("root", "0")
    assert yaml.safe_load(args["VOLUME"]) == ["/data"] and "BULKMAIL_DATA_DIR=/data" in args["ENV"]
    assert any(name == "RUN" and f"chown {user}:{user} /data" in value for name, value in steps)
    assert yaml.safe_load(args["CMD"]) == ["bulkmail", "serve", "--host", "0.0.0.0", "--port", "8000"]
    assert "/healthz" in args["HEALTHCHECK"]
    [entrypoint] = yaml.safe_load(args["ENTRYPOINT"])
    assert entrypoint == f"/opt/bulkmail/{ENTRYPOINT.relative_to(ROOT)}" and os.access(ENTRYPOINT, os.X_OK)
    for name, value in steps:  # everything copied exists in the checkout
        if name == "COPY":
            assert (ROOT / value.split()[0]).exists(), value
    # the USER line comes after every step that needs root
    assert [name for name, _ in steps].index("USER") > max(i for i, (name, _) in enumerate(steps) if name == "RUN")


def test_compose_runs_postgresql_the_web_service_and_a_separate_worker() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "web", "worker"}
    web, worker = services["web"], services["worker"]
    assert worker["command"] == ["bulkmail", "worker"]
    assert web["environment"]["BULKMAIL_EMBEDDED_WORKER"] == "false"  # the worker sends, not the web service
    for service in (web, worker):
        assert service["environment"]["BULKMAIL_DATABASE_URL"].startswith("postgresql+psycopg://")
        assert "BULKMAIL_SEAL_KEY" in service["environment"] and "bulkmail-data:/data" in service["volumes"]
    assert web["depends_on"]["postgres"]["condition"] == "service_healthy"
