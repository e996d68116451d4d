from fastapi.testclient import TestClient

from app import __version__
from app.main import create_app
from app.settings import Settings


def test_healthz_reports_database_and_version(client: TestClient, settings: Settings) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["version"] == __version__
    assert body["database"] == settings.database_url.split(":")[0].split("+")[0]


def test_healthz_is_503_when_database_unreachable() -> None:
    settings = Settings(
        _env_file=None,
        database_url="postgresql+psycopg://nobody@127.0.0.1:1/none",
        embedded_worker=False,
        scheduler=False,
    )
    with TestClient(create_app(settings)) as c:
        r = c.get("/healthz")
    assert r.status_code == 503
    assert r.json()["database"].startswith("unreachable")


def test_openapi_docs_are_served(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    assert "/healthz" in client.get("/openapi.json").json()["paths"]
