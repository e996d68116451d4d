"""The one gettext for pages, subscriber pages and subscriber mail, in the language of the request.

Marking text here (``_("...")`` in Python, ``{{ _("...") }}`` in templates) is what puts it in the message
catalogue (``bulkmail i18n update`` extracts it); placeholders are named (``_("Hello %(name)s", name=x)``) so a
translation may reorder them. The API's problem+json texts stay English: they are for programs, not people.

The language is per request: a middleware starts every request in the browser's language (Accept-Language, else the
installation's, BULKMAIL_DEFAULT_LANGUAGE), the signed-in user's choice or a subscriber page's contact then overrides it
with ``use``. A background job has no request: it writes to each person inside ``speaking(their language)``."""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from app.i18n.catalogue import translations

DEFAULT = "en"
# the languages with a complete catalogue, and how each names itself on a language menu
LANGUAGES = {"en": "English", "de": "Deutsch"}


@dataclass
class _Choice:
    # A holder, not the language itself: a dependency that runs in a worker thread sees a copy of the request's
    # context, so it changes the holder's field, which the request's own context shares.
    language: str


_choice: ContextVar[_Choice | None] = ContextVar("language", default=None)


def supported(language: str | None) -> str | None:
    """The supported language a tag names (``de-AT`` → ``de``), or None."""
    if not language:
        return None
    base = language.strip().replace("_", "-").split("-")[0].lower()
    return base if base in LANGUAGES else None


def from_accept_language(header: str | None) -> str | None:
    """The first supported language of an Accept-Language header, by the browser's preference (q), or None."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((header or "").split(",")[:20]):  # a header is untrusted: only its first tags
        tag, _sep, params = part.partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        language = supported(tag)
        if language is not None and quality > 0:
            ranked.append((-quality, position, language))
    return min(ranked)[2] if ranked else None


def begin(language: str | None, fallback: str = DEFAULT) -> None:
    """Start a request (or a task) in this language (FALLBACK when it is not supported)."""
    _choice.set(_Choice(supported(language) or supported(fallback) or DEFAULT))


@contextmanager
def speaking(language: str | None, fallback: str = DEFAULT) -> Iterator[None]:
    """Run a block in this language (FALLBACK when it is not supported), then go back to the language before:
    what a background job writes to one person (a mail) speaks theirs, with no request to carry it."""
    token = _choice.set(_Choice(supported(language) or supported(fallback) or DEFAULT))
    try:
        yield
    finally:
        _choice.reset(token)


def use(language: str | None) -> None:
    """Switch the current request to this language, when it is a supported one (else keep the current one)."""
    chosen = supported(language)
    if chosen is None:
        return
    choice = _choice.get()
    if choice is None:
        _choice.set(_Choice(chosen))
    else:
        choice.language = chosen


def current() -> str:
    choice = _choice.get()
    return DEFAULT if choice is None else choice.language


def translate(message: str) -> str:
    """The message in the current language, placeholders unfilled (what the templates' _() formats itself)."""
    return translations(current()).gettext(message)


def translate_plural(singular: str, plural: str, n: int) -> str:
    return translations(current()).ngettext(singular, plural, n)


def gettext(message: str, **variables: object) -> str:
    """The message in the current language, with its placeholders filled."""
    text = translate(message)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, n: int, **variables: object) -> str:
    """The singular or plural form of a message for the count n (``%(num)d`` in it is n)."""
    return translate_plural(singular, plural, n) % {"num": n, **variables}


def N_(message: str) -> str:
    """Marks text for the catalogue where it is defined (a module constant), to be translated where it is shown."""
    return message


_ = gettext
