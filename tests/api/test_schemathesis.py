"""Schemathesis against the live OpenAPI document with a write key, on both databases: no 5xx, and every
response matches the schema (status code, content type, headers, body). A bounded number of examples
per operation here; bench/api/fuzz.py runs many more, valid and invalid."""

from pathlib import Path

from sqlalchemy import Engine

from app.main import create_app
from app.settings import Settings
from tests.api.fuzzing import EXCLUDED, fuzz
from tests.conftest import make_api_key


def test_no_server_errors_and_responses_match_the_schema(settings: Settings, engine: Engine, tmp_path: Path) -> None:
    app = create_app(settings.model_copy(update={"upload_dir": str(tmp_path), "api_rate_per_second": 0}))
    ran, failures = fuzz(app, make_api_key(engine), max_examples=15)
    assert ran >= 30 and len(EXCLUDED) == 3
    assert not failures, "\n\n".join(failures)
