"""Idempotency-Key against a real `bulkmail serve` (uvicorn, not the test client): a retry sent the
moment the first response arrives gets that stored response back, never 409 "still running"."""

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from app.settings import Settings
from tests.conftest import make_api_key
from tests.support.serve import serving

CLIENTS = 50
PAIRS_PER_CLIENT = 24  # 1,200 first-request-then-retry pairs per run


@pytest.fixture
def served(settings: Settings, engine: Engine, tmp_path: Path) -> Iterator[str]:
    env = {
        **os.environ,
        "BULKMAIL_DATABASE_URL": settings.database_url,
        "BULKMAIL_SECRET_KEY": "serve-test",
        "BULKMAIL_UPLOAD_DIR": str(tmp_path),
        "BULKMAIL_EMBEDDED_WORKER": "false",
        "BULKMAIL_SCHEDULER": "false",
        "BULKMAIL_API_RATE_PER_SECOND": "0",
    }
    with serving(env, tmp_path) as (_, base):
        yield base


async def _client(base: str, token: str, n: int) -> list[tuple[httpx.Response, httpx.Response]]:
    headers = {"Authorization": f"Bearer {token}"}
    pairs = []
    async with httpx.AsyncClient(base_url=f"{base}/api/v1", headers=headers, timeout=60) as api:
        for i in range(PAIRS_PER_CLIENT):
            key = {"Idempotency-Key": f"client-{n}-request-{i}"}
            body = {"name": f"list {n}-{i}"}
            first = await api.post("/lists", json=body, headers=key)
            retry = await api.post("/lists", json=body, headers=key)  # the moment the first answer is in
            pairs.append((first, retry))
    return pairs


async def _all_clients(base: str, token: str) -> list[tuple[httpx.Response, httpx.Response]]:
    results = await asyncio.gather(*(_client(base, token, n) for n in range(CLIENTS)))
    return [pair for pairs in results for pair in pairs]


def test_a_retry_right_after_the_first_response_gets_the_stored_response(served: str, engine: Engine) -> None:
    pairs = asyncio.run(_all_clients(served, make_api_key(engine)))

    assert len(pairs) == CLIENTS * PAIRS_PER_CLIENT
    assert [first.status_code for first, _ in pairs] == [201] * len(pairs)
    conflicts = [retry for _, retry in pairs if retry.status_code == 409]
    assert not conflicts, f"{len(conflicts)} of {len(pairs)} retries got 409: {conflicts[0].json()}"
    for first, retry in pairs:
        assert (retry.status_code, retry.content) == (first.status_code, first.content)
        assert retry.headers["idempotent-replayed"] == "true"
    assert len({first.json()["id"] for first, _ in pairs}) == len(pairs), "each key created one list"
