"""Audience tests: uploads go to the test's own directory."""

from pathlib import Path

import pytest

from app.settings import Settings

DATA = Path(__file__).resolve().parent.parent / "data" / "audience"


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"upload_dir": str(tmp_path / "uploads")})
