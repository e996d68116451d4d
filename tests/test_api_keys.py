import os
import subprocess
import sys
import time

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from app.models import ApiKey
from app.settings import Settings
from tests.conftest import make_api_key

# Any /api/v1 route will do: these checks run before the route.
READ_PATH = "/api/v1/lists"


def test_requests_without_a_valid_key_get_401(anon_client: TestClient) -> None:
    r = anon_client.get(READ_PATH)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    r = anon_client.get(READ_PATH, headers={"Authorization": "Bearer bm_not-a-key"})
    assert r.status_code == 401


def test_read_key_reads_but_cannot_write(anon_client: TestClient, engine: Engine) -> None:
    key = make_api_key(engine, "read")
    auth = {"Authorization": f"Bearer {key}"}
    assert anon_client.get(READ_PATH, headers=auth).status_code == 200
    r = anon_client.post(READ_PATH, headers=auth, json={"name": "x"})
    assert r.status_code == 403
    assert "read-only" in r.json()["detail"]


def test_keys_are_stored_hashed_and_revocation_takes_effect(
    anon_client: TestClient, engine: Engine, settings: Settings
) -> None:
    key = make_api_key(engine, "write")
    auth = {"Authorization": f"Bearer {key}"}
    assert anon_client.get(READ_PATH, headers=auth).status_code == 200
    used = time.monotonic()
    with Session(engine) as s:
        row = s.exec(select(ApiKey)).one()
        assert key not in (row.key_hash, row.prefix) and row.last_used_at is not None
        row_id = row.id
    env = {**os.environ, "BULKMAIL_DATABASE_URL": engine.url.render_as_string(hide_password=False)}
    out = subprocess.run(
        [sys.executable, "-m", "app", "apikey", "revoke", str(row_id)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    # revoked by another process: this one trusts its verification of the key for api_key_cache_seconds
    time.sleep(max(0.0, settings.api_key_cache_seconds - (time.monotonic() - used)))
    assert anon_client.get(READ_PATH, headers=auth).status_code == 401


def test_revocation_in_the_same_process_takes_effect_at_once(anon_client: TestClient, engine: Engine) -> None:
    from app.apikeys import revoke_api_key

    key = make_api_key(engine, "write")
    auth = {"Authorization": f"Bearer {key}"}
    assert anon_client.get(READ_PATH, headers=auth).status_code == 200
    with Session(engine) as s:
        revoke_api_key(s, s.exec(select(ApiKey)).one().id)
        s.commit()
    assert anon_client.get(READ_PATH, headers=auth).status_code == 401


def test_cli_creates_a_key_that_works(anon_client: TestClient, engine: Engine) -> None:
    env = {**os.environ, "BULKMAIL_DATABASE_URL": engine.url.render_as_string(hide_password=False)}
    out = subprocess.run(
        [sys.executable, "-m", "app", "apikey", "create", "--name", "CMS", "--scope", "write"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    key = out.stdout.strip().rsplit(" ", 1)[-1]
    assert key.startswith("bm_")
    assert anon_client.get(READ_PATH, headers={"Authorization": f"Bearer {key}"}).status_code == 200
    listed = subprocess.run(
        [sys.executable, "-m", "app", "apikey", "list"], env=env, capture_output=True, text=True, timeout=60
    ).stdout
    assert "CMS" in listed and key not in listed


def test_list_api_keys_for_the_settings_page(anon_client: TestClient, engine: Engine) -> None:
    from app.apikeys import list_api_keys, revoke_api_key

    old, new = make_api_key(engine, "read"), make_api_key(engine, "write")
    anon_client.get(READ_PATH, headers={"Authorization": f"Bearer {new}"})
    with Session(engine) as s:
        rows = list_api_keys(s)
        assert [r.scope for r in rows] == ["write", "read"] and rows[0].last_used_at is not None
        assert all(old not in (r.prefix, r.key_hash) for r in rows)
        revoke_api_key(s, rows[1].id)
        s.commit()
        assert [r.scope for r in list_api_keys(s, include_revoked=False)] == ["write"]
