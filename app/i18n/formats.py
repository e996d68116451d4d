"""Dates and numbers the way the current language writes them (Babel's locale data).

English keeps ISO dates (2026-05-01 09:00 UTC: unambiguous to every reader of English) and plain numbers, as
bulkmail always showed them; other languages get their own date order and separators (01.05.2026 09:00 UTC,
12.345, 45,3 %). Times are UTC, as everywhere in bulkmail."""

import re
from datetime import UTC, datetime

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_decimal, format_percent

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


def percent(value: float, digits: int = 1) -> str:
    """A share given in percent (45.3 for 45.3 %) with exactly `digits` decimals: English as bulkmail always wrote
    it (45.3 %), other languages by their own percent pattern (German 45,3 %, with a no-break space)."""
    language = current()
    decimals = "." + "0" * digits if digits else ""
    if language == DEFAULT:
        return f"{format_decimal(value, format='0' + decimals, locale=language)} %"
    pattern = Locale.parse(language).percent_formats[None].pattern.split(";")[0]  # German: "#,##0 %"
    with_decimals = re.sub(r"0(?=[^0-9#,.]*$)", "0" + decimals, pattern, count=1)
    return format_percent(value / 100, format=with_decimals, locale=language)
