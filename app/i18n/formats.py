"""Dates and numbers the way the current language writes them (Babel's locale data).

English keeps ISO dates (2026-05-01 09:00 UTC: unambiguous to every reader of English) and plain numbers, as
bulkmail always showed them; other languages get their own date order and separators (01.05.2026 09:00 UTC,
12.345). Times are UTC, as everywhere in bulkmail."""

from datetime import UTC, datetime

from babel.dates import format_date
from babel.numbers import format_decimal

from app.i18n import DEFAULT, current


def when(value: datetime) -> str:
    """A moment to the minute, in UTC."""
    value = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    language = current()
    if language == DEFAULT:
        return f"{value:%Y-%m-%d %H:%M} UTC"
    return f"{format_date(value, 'medium', locale=language)} {value:%H:%M} UTC"


def number(value: float, digits: int = 1) -> str:
    """A count or a rate with at most `digits` decimals: English as bulkmail always wrote it (12345.6), other
    languages with their own separators (12.345,6)."""
    language = current()
    pattern = ("0" if language == DEFAULT else "#,##0") + ("." + "#" * digits if digits else "")
    return format_decimal(value, format=pattern, locale=language)
