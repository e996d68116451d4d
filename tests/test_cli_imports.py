"""Every `bulkmail` command loads only what it uses: the web service, Alembic and the models cost seconds of
start-up that `bulkmail --help`, `bulkmail lists` or `bulkmail sweep` would otherwise wait for."""

import os
import subprocess
import sys
from pathlib import Path

# Runs a command in-process, then names the heavy packages it loaded.
PROBE = """
import sys
from app.cli import main
sys.argv = ["bulkmail", *sys.argv[1:]]
try:
    main()
except SystemExit as exc:
    assert not exc.code, exc.code
print(" ".join(m for m in ("fastapi", "uvicorn", "alembic", "app.models", "app.web") if m in sys.modules))
"""


def _loaded(tmp_path: Path, *args: str) -> tuple[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BULKMAIL_")}
    env |= {"HOME": str(tmp_path), "BULKMAIL_DATA_DIR": str(tmp_path / "data")}
    out = subprocess.run([sys.executable, "-c", PROBE, *args], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    *printed, loaded = out.stdout.splitlines()
    return "\n".join(printed), loaded


def test_help_loads_no_service_migrations_or_models(tmp_path: Path) -> None:
    printed, loaded = _loaded(tmp_path, "--help")
    assert "sweep" in printed and "lists" in printed
    assert loaded == ""


def test_a_command_on_an_up_to_date_database_loads_neither_the_web_service_nor_alembic(tmp_path: Path) -> None:
    first, loaded = _loaded(tmp_path, "lists")
    assert first == "no lists yet: bulkmail import FILE --list NAME creates one"
    assert "alembic" in loaded.split(), "a new database is migrated"
    again, loaded = _loaded(tmp_path, "lists")
    assert again == first
    assert loaded == "app.models", "the models, and no more"
