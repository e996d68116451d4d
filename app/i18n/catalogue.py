"""The translations of each language, read from locale/LANG/LC_MESSAGES/messages.po when first needed.

The .po file is the only copy of the catalogue: it is compiled in memory (Babel), so there is no .mo to build or
to let go stale. English is the msgids themselves."""

import gettext as stdlib_gettext
from functools import cache
from io import BytesIO
from pathlib import Path

from app.paths import LOCALE

DOMAIN = "messages"


def po_path(language: str) -> Path:
    return LOCALE / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(language: str) -> stdlib_gettext.NullTranslations:
    """The language's catalogue (fuzzy and empty entries fall back to English); English has none."""
    path = po_path(language)
    if language == "en" or not path.is_file():
        return stdlib_gettext.NullTranslations()
    from babel.messages.mofile import write_mo  # only when a translated page is first shown
    from babel.messages.pofile import read_po

    with path.open("rb") as f:
        catalog = read_po(f, locale=language)
    buffer = BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return stdlib_gettext.GNUTranslations(buffer)
