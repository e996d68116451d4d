"""Signed tokens for VERP return paths, unsubscribe links, preference-page links and signup confirmation
links.

A token is `<kind><id in base36>-<mac>`: lower-case letters, digits and one hyphen, so it survives
MTAs that lower-case local parts and fits in `noreply+TOKEN@domain`. The mac is an HMAC-SHA256
of kind and id, truncated to 60 bits: enough that nobody can forge one, short enough for a local part."""

import functools
import hashlib
import hmac
import re
from typing import Literal, NamedTuple

TokenKind = Literal["d", "u", "c", "t", "k", "v"]
KINDS: dict[str, str] = {
    "d": "delivery return path (VERP)",
    "u": "unsubscribe, by delivery",
    "c": "unsubscribe, by contact (test sends outside the ledger)",
    "t": "transactional message return path (VERP): a signup's confirmation or welcome",
    "k": "confirm a signup, by its confirmation message",
    "v": "view a sent message in the browser, by delivery",
}
_TOKEN = re.compile(r"^([ductkv])([0-9a-z]{1,13})-([a-z2-7]{12})$")


class Token(NamedTuple):
    kind: TokenKind
    ident: int


def base36(n: int) -> str:
    """N in lower-case base 36, as tokens write ids and days."""
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


_B32 = "abcdefghijklmnopqrstuvwxyz234567"
_B32_PAIRS = [a + b for a in _B32 for b in _B32]  # 10 bits -> two base32 characters


@functools.lru_cache(maxsize=8)
def _pads(secret: bytes) -> tuple["hashlib._Hash", "hashlib._Hash"]:
    """HMAC-SHA256's inner and outer hashes with the key already absorbed (RFC 2104), copied per
    token: the key's two blocks are hashed once per secret instead of once per token."""
    key = secret if len(secret) <= 64 else hashlib.sha256(secret).digest()
    key = key.ljust(64, b"\0")
    return hashlib.sha256(bytes(b ^ 0x36 for b in key)), hashlib.sha256(bytes(b ^ 0x5C for b in key))


def _mac(secret: bytes, kind: str, ident: int) -> str:
    """The first 60 bits of the HMAC in lower-case base32 (RFC 4648 alphabet): the first 12
    characters `base64.b32encode(digest[:10]).lower()` gives, without its slow pure-Python encoder."""
    inner, outer = _pads(secret)
    inner = inner.copy()
    inner.update(f"{kind}:{ident}".encode())
    outer = outer.copy()
    outer.update(inner.digest())
    bits = int.from_bytes(outer.digest()[:8], "big") >> 4
    pairs = _B32_PAIRS
    return (
        pairs[bits >> 50]
        + pairs[(bits >> 40) & 1023]
        + pairs[(bits >> 30) & 1023]
        + pairs[(bits >> 20) & 1023]
        + pairs[(bits >> 10) & 1023]
        + pairs[bits & 1023]
    )


def sign(secret: bytes, label: str, ident: int) -> str:
    """The 60-bit mac of LABEL and IDENT every token here carries, for tokens of other shapes
    (app/tracking/tokens.py)."""
    return _mac(secret, label, ident)


def make_token(secret: bytes, kind: TokenKind, ident: int) -> str:
    if kind not in KINDS or ident < 0:
        raise ValueError(f"bad token kind or id: {kind!r} {ident!r}")
    return f"{kind}{base36(ident)}-{_mac(secret, kind, ident)}"


def parse_token(secret: bytes, token: str) -> Token | None:
    """The kind and id a token carries, or None when it is malformed or its mac is wrong."""
    m = _TOKEN.match(token.strip().lower())
    if m is None:
        return None
    kind, ident = m.group(1), int(m.group(2), 36)
    if not hmac.compare_digest(m.group(3), _mac(secret, kind, ident)):
        return None
    return Token(kind, ident)  # type: ignore[arg-type]  # _TOKEN matches only the TokenKind letters


class PreferencesToken(NamedTuple):
    contact_id: int
    issued_day: int  # days since 1970-01-01 (UTC)


_PREFERENCES = re.compile(r"^p([0-9a-z]{1,13})\.([0-9a-z]{1,6})-([a-z2-7]{12})$")


def make_preferences_token(secret: bytes, contact_id: int, issued_day: int) -> str:
    """A contact's link to their preference page, dated so it can expire: `p<id>.<day>-<mac>`, the mac
    over both (a day changed by hand makes the mac wrong)."""
    if contact_id < 0 or issued_day < 0:
        raise ValueError(f"bad preferences token values: {contact_id!r} {issued_day!r}")
    return f"p{base36(contact_id)}.{base36(issued_day)}-{_mac(secret, f'p.{issued_day}', contact_id)}"


def parse_preferences_token(secret: bytes, token: str) -> PreferencesToken | None:
    """The contact and issue day a preference link carries, or None when it is malformed or forged;
    whether it has expired is the caller's rule."""
    m = _PREFERENCES.match(token.strip().lower())
    if m is None:
        return None
    contact_id, day = int(m.group(1), 36), int(m.group(2), 36)
    if not hmac.compare_digest(m.group(3), _mac(secret, f"p.{day}", contact_id)):
        return None
    return PreferencesToken(contact_id, day)


def verp_address(bounce_address: str, token: str) -> str:
    """noreply@domain + token -> noreply+token@domain."""
    local, _, domain = bounce_address.rpartition("@")
    return f"{local}+{token}@{domain}"
