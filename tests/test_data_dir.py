"""The default SQLite database lives in one fixed data directory, so every `bulkmail` command finds the
same one whatever directory it is run from; an explicit BULKMAIL_DATABASE_URL still wins, and a
./bulkmail.db left by the old default is pointed out, not silently ignored."""

import os
import subprocess
import sys
from pathlib import Path

EMAIL = "owner@example.test"


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BULKMAIL_", "XDG_"))}
    return {**env, "HOME": str(home), "BULKMAIL_NEW_USER_PASSWORD": "a long passphrase", **extra}


def _bulkmail(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    cwd.mkdir(parents=True, exist_ok=True)
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)  # fmt: skip


def test_commands_run_from_two_directories_share_one_database(tmp_path: Path):
    home = tmp_path / "home"
    env = _env(home)
    expected = home / ".local" / "share" / "bulkmail" / "bulkmail.db"

    help_text = _bulkmail(tmp_path / "a", {**env, "COLUMNS": "300", "TERMINAL_WIDTH": "300"}, "--help").stdout
    assert f"sqlite:///{expected}" in help_text, help_text

    first = _bulkmail(tmp_path / "a", env, "user", "create", "--email", EMAIL)
    assert first.returncode == 0, first.stderr
    again = _bulkmail(tmp_path / "b", env, "user", "create", "--email", EMAIL)
    assert again.returncode != 0 and f"a user {EMAIL} already exists" in again.stderr, "the same database"
    assert expected.is_file()
    assert not (tmp_path / "a" / "bulkmail.db").exists() and not (tmp_path / "b" / "bulkmail.db").exists()


def test_the_data_dir_and_an_explicit_database_url_are_honoured(tmp_path: Path):
    data = tmp_path / "data"
    r = _bulkmail(tmp_path / "a", _env(tmp_path / "home", BULKMAIL_DATA_DIR=str(data)), "user", "create",
                  "--email", EMAIL)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert (data / "bulkmail.db").is_file()
    explicit = tmp_path / "elsewhere.db"
    env = _env(tmp_path / "home", BULKMAIL_DATA_DIR=str(data), BULKMAIL_DATABASE_URL=f"sqlite:///{explicit}")
    r = _bulkmail(tmp_path / "b", env, "user", "create", "--email", EMAIL)
    assert r.returncode == 0, r.stderr  # a database of its own: no such user there yet
    assert explicit.is_file()


def test_a_database_left_by_the_old_default_is_pointed_out(tmp_path: Path):
    old = tmp_path / "a" / "bulkmail.db"
    old.parent.mkdir()
    old.write_bytes(b"")
    data = tmp_path / "data"
    r = _bulkmail(tmp_path / "a", _env(tmp_path / "home", BULKMAIL_DATA_DIR=str(data)), "lists")
    assert r.returncode == 0, r.stderr
    notice = " ".join(r.stderr.split())
    assert f"{old} is a database of an older bulkmail" in notice
    assert f"mv {old} {data / 'bulkmail.db'}" in notice and f"BULKMAIL_DATABASE_URL=sqlite:///{old}" in notice
