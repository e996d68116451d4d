"""Extracting the marked text of the code and the templates into the catalogue, and checking a translation.

`bulkmail i18n update` writes locale/messages.pot and merges it into every language's .po (new text
untranslated, text gone dropped); `bulkmail i18n check` (and the test suite) fails while any text lacks a
translation or a translation's placeholders differ from its text's."""

import re
from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from app import __version__
from app.i18n.catalogue import DOMAIN, po_path
from app.paths import LOCALE, ROOT

TEMPLATE = LOCALE / f"{DOMAIN}.pot"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
# where marked text lives: the Python of the service and the Jinja2 templates
SOURCES = [
    (ROOT / "app", [("**.py", "python")]),
    (ROOT / "templates", [("**.html", "jinja2.ext:babel_extract")]),
]
PLACEHOLDER = re.compile(r"%(?:\((\w+)\))?[#0 +-]*\d*(?:\.\d+)?([sdifr%])")


def extract() -> Catalog:
    """Every marked message of the code and the templates, with where it is used."""
    catalog = Catalog(
        project="bulkmail", version=__version__, copyright_holder="bulkmail", domain=DOMAIN, charset="utf-8"
    )
    for folder, methods in SOURCES:
        for filename, lineno, message, comments, context in extract_from_dir(
            folder, methods, keywords=KEYWORDS, strip_comment_tags=True
        ):
            where = (Path(folder, filename).relative_to(ROOT).as_posix(), lineno)
            catalog.add(message, None, [where], auto_comments=comments, context=context)
    return catalog


def update(languages: list[str]) -> None:
    """Write the template and bring every language's catalogue in line with it."""
    template = extract()
    LOCALE.mkdir(exist_ok=True)
    with TEMPLATE.open("wb") as f:
        write_po(f, template, width=120, omit_header=False, sort_output=True)
    for language in languages:
        path = po_path(language)
        if path.is_file():
            with path.open("rb") as f:
                catalog = read_po(f, locale=language)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            catalog = Catalog(locale=language, domain=DOMAIN, charset="utf-8")
        catalog.project, catalog.version, catalog.copyright_holder = template.project, template.version, "bulkmail"
        catalog.update(template)
        with path.open("wb") as f:
            write_po(f, catalog, width=120, ignore_obsolete=True, sort_output=True)


def _strings(value: object) -> list[str]:
    """A message's text or translation as a list (a plural has several)."""
    items = value if isinstance(value, tuple | list) else (value,)
    return [item if isinstance(item, str) else "" for item in items]


def placeholders(text: str) -> list[str]:
    return sorted(f"{name or ''}{kind}" for name, kind in PLACEHOLDER.findall(text) if kind != "%")


@dataclass(frozen=True)
class Problem:
    msgid: str
    where: str
    what: str


def problems(language: str, path: Path | None = None) -> list[Problem]:
    """What keeps a language's catalogue (its .po, or the one at PATH) from covering the code: text without a
    (confirmed) translation, or a translation whose placeholders are not the text's."""
    with (path or po_path(language)).open("rb") as f:
        catalog = read_po(f, locale=language)
    found: list[Problem] = []
    for message in extract():
        if not message.id:
            continue
        ids = _strings(message.id)
        where = ", ".join(f"{path}:{line}" for path, line in message.locations[:3])
        translated = catalog.get(message.id, context=message.context)
        strings = [] if translated is None else _strings(translated.string)
        if translated is None or translated.fuzzy or not strings or not all(strings):
            found.append(Problem(ids[0], where, "no translation"))
            continue
        allowed = {tuple(placeholders(i)) for i in ids}  # a plural may leave %(num)s out of its singular
        for string in strings:
            if tuple(placeholders(string)) not in allowed:
                found.append(Problem(ids[0], where, f"placeholders differ: {string!r}"))
    return found
