"""Shared fixtures. Every test that touches the database runs twice: on SQLite and on PostgreSQL."""

import contextlib
import io
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, make_url, text
from sqlmodel import Session, SQLModel

import app.db
from app.apikeys import create_api_key
from app.db import make_engine
from app.logs import configure
from app.main import create_app
from app.migrate import upgrade
from app.settings import Settings
from tests.support.receiver import Receiver

pytest_plugins = ["tests.support.mailstack_fixture"]

# loopback only: any DNS question a test (or a `bulkmail` it starts) asks goes to a port where nothing
# answers, unless the test starts its own DNS server (tests/support/dns_server.py)
os.environ.setdefault("BULKMAIL_DNS_SERVER", "127.0.0.1:9")

POSTGRES_URL = os.environ.get("BULKMAIL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BACKENDS = ["sqlite", "postgresql"]


def pytest_configure(config: pytest.Config) -> None:
    """Commands run by the tests (the CLI in process, `serve` in a child) keep their default database in
    a data directory of this test run's own, never in the user's (~/.local/share/bulkmail)."""
    if "BULKMAIL_DATA_DIR" not in os.environ:
        os.environ["BULKMAIL_DATA_DIR"] = tempfile.mkdtemp(prefix="bulkmail-test-data-")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (faster than migrating each time)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # closing the last connection checkpoints the WAL into the file we copy
    assert not path.with_name(path.name + "-wal").exists()
    return path


@pytest.fixture(scope="session")
def postgres_migrated() -> Iterator[str]:
    """A PostgreSQL database of this test session's own, created beside the one configured (so
    concurrent test runs on one server don't trample each other), migrated once, dropped at the end."""
    name = f"bulkmail_test_{os.getpid()}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {name}"))
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    for cached in [u for u in app.db._engines if u == url]:
        app.db._engines.pop(cached).dispose()
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


def _truncate_postgres(url: str) -> None:
    engine = make_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A clean, migrated database for this test."""
    if request.param == "sqlite":
        target = tmp_path / "bulkmail.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), target)
        return f"sqlite:///{target}"
    url = request.getfixturevalue("postgres_migrated")
    _truncate_postgres(url)
    return url


@contextlib.contextmanager
def fresh_database(backend: str, tmp_path: Path, name: str = "fresh") -> Iterator[str]:
    """The URL of a database with no tables at all (PostgreSQL: made beside the configured one, dropped after)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path}/{name}.db"
        return
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    database = f"bulkmail_{name}_test_{os.getpid()}"
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {database}"))
    url = make_url(POSTGRES_URL).set(database=database).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        for cached in [u for u in app.db._engines if u == url]:
            app.db._engines.pop(cached).dispose()
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no tables at all."""
    with fresh_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,
        data_dir=tmp_path / "data",  # uploads land in the test's own folder
        database_url=db_url,
        secret_key="test-secret-key",
        base_url="http://testserver",
        embedded_worker=False,
        scheduler=False,
        bounce_address="noreply@example.test",
    )


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    engine = app.db.get_engine(settings)
    yield engine
    app.db._engines.pop(settings.database_url, None)
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as s:
        yield s


def make_api_key(engine: Engine, scope: str = "write") -> str:
    with Session(engine) as s:
        _, plaintext = create_api_key(s, f"test {scope}", scope)  # type: ignore[arg-type]
        s.commit()
    return plaintext


@pytest.fixture
def anon_client(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    """A client without credentials."""
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture
def client(anon_client: TestClient, engine: Engine) -> TestClient:
    """A client that sends a write-scoped API key with every request."""
    anon_client.headers["Authorization"] = f"Bearer {make_api_key(engine)}"
    return anon_client


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """Everything every logger writes, as bulkmail's processes write it (JSON), at DEBUG."""
    stream = io.StringIO()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    configure(Settings(_env_file=None, log_format="json"), stream=stream, level=logging.DEBUG)
    yield stream
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in handlers:
        root.addHandler(h)
    root.setLevel(level)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A local webhook receiver (tests/support/receiver.py), stopped afterwards."""
    r = Receiver()
    yield r
    if r._server is not None:
        r.stop()
