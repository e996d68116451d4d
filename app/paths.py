"""Where the project's non-Python parts live (the checkout is installed editable), and where bulkmail
keeps its data by default."""

import os
from pathlib import Path

from platformdirs import user_data_dir

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
MIGRATIONS = ROOT / "migrations"
LOCALE = ROOT / "locale"


def default_data_dir() -> Path:
    """BULKMAIL_DATA_DIR, else the user's data directory (~/.local/share/bulkmail on Linux): one fixed
    place, so every command finds the same SQLite database whatever directory it is run from."""
    explicit = os.environ.get("BULKMAIL_DATA_DIR")
    return Path(explicit).expanduser().resolve() if explicit else Path(user_data_dir("bulkmail", appauthor=False))


def old_default_database(database_url: str, data_dir: Path) -> Path | None:
    """A ./bulkmail.db left by the old default (it followed the working directory), when this run uses
    the new default elsewhere: reported, never used or moved behind the user's back."""
    old = Path.cwd() / "bulkmail.db"
    new = data_dir / "bulkmail.db"
    if database_url != f"sqlite:///{new}" or not old.is_file():
        return None
    return None if new.exists() and old.samefile(new) else old
