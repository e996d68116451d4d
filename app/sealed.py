"""Secrets the database keeps for later use (TOTP seeds, DKIM private keys) are sealed with a key that is
not in the database: BULKMAIL_SEAL_KEY, or a key file created once in the data directory. A copy of the
database alone reveals none of them. Several machines sharing one PostgreSQL database must share the key,
so they set BULKMAIL_SEAL_KEY to the same value (`bulkmail` prints a clear error when a value was sealed
with another key)."""

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from app.logs import keep_out
from app.settings import Settings

KEY_FILE = "seal.key"
_cache: dict[str, Fernet] = {}


class SealBroken(Exception):
    """A sealed value that this installation's key cannot open: the key changed or the value was altered."""


def seal(settings: Settings, plain: str) -> str:
    return _fernet(settings).encrypt(plain.encode()).decode("ascii")


def unseal(settings: Settings, sealed: str) -> str:
    try:
        plain = _fernet(settings).decrypt(sealed.encode("ascii")).decode()
        keep_out(plain)  # a DKIM key, a relay's password, a TOTP seed: never in a log line
        return plain
    except (InvalidToken, ValueError) as e:
        raise SealBroken(
            "a stored secret cannot be opened with this installation's seal key: every machine sharing the "
            "database must set the same BULKMAIL_SEAL_KEY"
        ) from e


def _fernet(settings: Settings) -> Fernet:
    key = settings.seal_key.get_secret_value() if settings.seal_key is not None else _key_file(settings.data_dir)
    if key not in _cache:
        _cache[key] = Fernet(key.encode("ascii"))
    return _cache[key]


def _key_file(data_dir: Path) -> str:
    """The key in DATA_DIR/seal.key, created on first use readable by this user only."""
    path = data_dir / KEY_FILE
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    try:  # O_EXCL: a process that loses the race reads the winner's key
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(Fernet.generate_key().decode("ascii"))
    return path.read_text().strip()


def new_seal_key() -> str:
    """A value for BULKMAIL_SEAL_KEY."""
    return Fernet.generate_key().decode("ascii")
