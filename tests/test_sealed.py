"""Secrets sealed for the database open with the installation's key and with no other."""

import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from app.sealed import KEY_FILE, SealBroken, new_seal_key, seal, unseal
from app.settings import Settings


def test_a_sealed_secret_opens_with_the_key_file_kept_outside_the_database(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url="sqlite://")
    sealed = seal(settings, "JBSWY3DPEHPK3PXP")
    assert "JBSWY3DPEHPK3PXP" not in sealed
    assert unseal(settings, sealed) == "JBSWY3DPEHPK3PXP"
    key_file = tmp_path / "data" / KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600  # readable by this user only
    # another process of the same installation reads the same file
    assert unseal(Settings(data_dir=tmp_path / "data", database_url="sqlite://"), sealed) == "JBSWY3DPEHPK3PXP"


def test_another_installations_key_cannot_open_it_and_says_what_to_set(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path / "a", database_url="sqlite://", seal_key=SecretStr(new_seal_key()))
    sealed = seal(first, "private key")
    other = Settings(data_dir=tmp_path / "b", database_url="sqlite://")
    with pytest.raises(SealBroken, match="BULKMAIL_SEAL_KEY"):
        unseal(other, sealed)
    with pytest.raises(SealBroken):
        unseal(first, sealed[:-4] + "AAAA")  # altered
