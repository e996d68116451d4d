"""Address validation, normalisation and the dedupe key.

The dedupe key (`email_key`) is `local@domain` with
- the domain lower-cased and IDNA-encoded (`Jörg@BÜCHER.de` -> `jörg@xn--bcher-kva.de`), because
  domains are case-insensitive and the same host can be written in Unicode or ACE form;
- the local part lower-cased. RFC 5321 lets a mailbox treat `Bob` and `bob` as different people, but
  no mailbox provider a marketer sends to does, and the same person typed twice with different
  capitals is by far the commoner case. Sub-addresses (`bob+news@`) and Gmail dots are *not*
  folded: those are distinct addresses the owner chose on purpose.

The address we send to (`Address.email`) keeps the local part exactly as given (its case may matter to
the receiving server) and writes the domain in lower-case ACE form, which every relay accepts
without SMTPUTF8.

Validation is flanker's parser plus the checks a bulk sender needs that flanker leaves out: a real
dotted host name (no address literals, no single-label hosts, LDH labels), the RFC 5321 length
limits, and no stray spaces. Plain ASCII addresses take a strict regular-expression fast path;
anything else (display names, quotes, Unicode) goes through flanker."""

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import idna
from flanker.addresslib import address as flanker_address

from app.i18n import N_
from app.i18n import gettext as _

if TYPE_CHECKING:  # dnspython loads only for the MX check
    import dns.resolver

# Local parts that reach a function rather than a person (RFC 2142 and common practice).
ROLE_LOCAL_PARTS = frozenset(
    {
        "abuse", "admin", "administrator", "billing", "compliance", "contact", "devnull", "dns", "ftp",
        "help", "hostmaster", "info", "inoc", "ispfeedback", "ispsupport", "list", "list-request",
        "mailer-daemon", "marketing", "news", "noc", "no-reply", "noreply", "null", "office", "phish",
        "postmaster", "privacy", "registrar", "root", "sales", "security", "spam", "support", "sysadmin",
        "tech", "undisclosed-recipients", "unsubscribe", "usenet", "uucp", "webmaster", "www",
    }
)  # fmt: skip

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
# 1-63 characters, a letter or digit at each end; matched without backtracking (possessive, then a look back
# at the last character): an import matches a million of these
_LABEL = r"[A-Za-z0-9][A-Za-z0-9-]{0,62}+(?<!-)"
_TLD = r"(?:[A-Za-z]{2,63}|[Xx][Nn]--[A-Za-z0-9-]{1,59})"
_HOST = re.compile(rf"^(?:{_LABEL}\.)+{_TLD}$")
_FAST = re.compile(rf"^{_ATOM}(?:\.{_ATOM})*+@(?:{_LABEL}\.)+{_TLD}$")
_MAX_LOCAL = 64
_NO_DOMAIN = N_('"%(raw)s" is not a valid address: "%(domain)s" is not a valid domain name')
_MAX_ADDRESS = 254
# _FAST with normalise's length checks (ASCII only, so characters are bytes): one match says a row's address
# is plain, and `plain_address_sql` then gives its normal form
_PLAIN = re.compile(rf"(?=[^@]{{1,{_MAX_LOCAL}}}@)(?=.{{1,{_MAX_ADDRESS}}}\Z){_FAST.pattern[1:-1]}")
is_plain = _PLAIN.fullmatch
# what str.strip() removes (every character whose isspace() is true), for SQL that strips as Python does
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + ("\u2028\u2029\u202f\u205f\u3000")
)


class InvalidAddress(ValueError):
    """The message names the problem and quotes the input, e.g. `"bob@@example.com" is not a valid address`."""


@dataclass(frozen=True)
class Address:
    email: str
    key: str
    is_role: bool
    display_name: str = ""


@lru_cache(maxsize=65536)
def _ace(domain: str) -> str:
    """Lower-case ACE form of a host name; raises idna.IDNAError for a name that cannot be one."""
    if domain.isascii():
        return domain.lower()
    return idna.encode(domain, uts46=True).decode("ascii")


def _is_role(local: str) -> bool:
    return local.lower().split("+", 1)[0] in ROLE_LOCAL_PARTS


def _build(raw: str, local: str, domain: str, display_name: str = "") -> Address:
    if domain.startswith("["):
        raise InvalidAddress(
            _('"%(raw)s" is not a valid address: address literals such as %(domain)s are not accepted', raw=raw, domain=domain)
        )  # fmt: skip
    try:
        host = _ace(domain)
    except idna.IDNAError:
        raise InvalidAddress(_(_NO_DOMAIN, raw=raw, domain=domain)) from None
    if not _HOST.match(host):
        raise InvalidAddress(_(_NO_DOMAIN, raw=raw, domain=domain))
    if len(local.encode()) > _MAX_LOCAL:
        raise InvalidAddress(
            _('"%(raw)s" is not a valid address: the part before @ is longer than %(n)s bytes', raw=raw, n=_MAX_LOCAL)
        )
    email = f"{local}@{host}"
    if len(email.encode()) > _MAX_ADDRESS:
        raise InvalidAddress(_('"%(raw)s" is not a valid address: longer than %(n)s bytes', raw=raw, n=_MAX_ADDRESS))
    return Address(email=email, key=f"{local.lower()}@{host}", is_role=_is_role(local), display_name=display_name)


def plain_address(text: str) -> tuple[str, str, bool] | None:
    """`(email, key, is_role)` of a plain ASCII address (no display name, no quotes, already stripped)
    that passes every check `normalise` makes, in a fraction of its time: an import calls this once a
    row. None for anything else, which `normalise` then accepts or rejects with its reason."""
    if _PLAIN.fullmatch(text) is None:
        return None
    local, _, domain = text.rpartition("@")
    host = domain.lower()
    return f"{local}@{host}", f"{local.lower()}@{host}", local.lower().split("+", 1)[0] in ROLE_LOCAL_PARTS


def plain_address_sql(text: str, postgresql: bool) -> tuple[str, str, str]:
    """`plain_address` in SQL: the expressions for email, key and is_role of TEXT, a column whose value
    `is_plain` accepted (ASCII, one @), so an import can normalise a million rows set-based."""
    roles = ", ".join(f"'{r}'" for r in sorted(ROLE_LOCAL_PARTS))
    if postgresql:
        local = f"split_part({text}, '@', 1)"
        return (
            f"{local} || '@' || lower(split_part({text}, '@', 2) COLLATE \"C\")",
            f'lower({text} COLLATE "C")',
            f"split_part(lower({local} COLLATE \"C\"), '+', 1) IN ({roles})",
        )
    at = f"instr({text}, '@')"
    # "+" cannot be in the domain: the local part up to a "+", or else up to the "@"
    base = f"substr({text}, 1, coalesce(nullif(instr({text}, '+'), 0), {at}) - 1)"
    return (
        f"substr({text}, 1, {at}) || lower(substr({text}, {at} + 1))",
        f"lower({text})",
        f"lower({base}) IN ({roles})",
    )


def normalise(raw: str) -> Address:
    """Validate one address (`bob@example.com` or `Bob <bob@example.com>`) and return its normal form."""
    text = raw.strip()
    if not text:
        raise InvalidAddress(_("empty address"))
    plain = plain_address(text)
    if plain is not None:
        return Address(*plain)
    if _FAST.match(text):
        local, domain = text.rsplit("@", 1)
        return _build(raw, local, domain)
    if "@" not in text:
        raise InvalidAddress(_('"%(raw)s" is not a valid address: it has no @', raw=raw))
    named = "<" in text
    # flanker reads `a b@c.com` as display name "a" plus b@c.com; a bare address may not contain spaces
    if not named and not text.startswith('"') and re.search(r"\s", text):
        raise InvalidAddress(_('"%(raw)s" is not a valid address: it contains a space', raw=raw))
    try:
        parsed = flanker_address.parse(text, addr_spec_only=not named)
    except Exception:  # flanker raises assorted errors on garbage; all mean "not an address"
        parsed = None
    if parsed is None or getattr(parsed, "addr_type", "") != "email":
        raise InvalidAddress(_('"%(raw)s" is not a valid address', raw=raw))
    return _build(raw, parsed.mailbox, parsed.hostname, parsed.display_name or "")


def email_key(address: str) -> str:
    """The dedupe key of an address (see the module docstring). Never raises: input that is not a
    valid address still gets a stable key (lower-cased, domain ACE-encoded when possible) so bounce
    records for odd addresses can be matched exactly."""
    text = address.strip()
    if "<" in text:
        try:
            return normalise(text).key
        except InvalidAddress:
            pass
    local, at, domain = text.rpartition("@")
    if not at:
        return text.lower()
    try:
        host = _ace(domain)
    except idna.IDNAError:
        host = domain.lower()
    return f"{local.lower()}@{host}"


def has_mx(resolver: "dns.resolver.Resolver", domain: str) -> bool:
    """False only when DNS says the domain cannot take mail: it does not exist, or has no MX and no
    A/AAAA (RFC 5321 implicit MX). A resolver failure on our side counts as "has MX", so an outage
    of our DNS never rejects a whole import."""
    import dns.exception
    import dns.resolver

    for rdtype in ("MX", "A", "AAAA"):
        try:
            resolver.resolve(domain, rdtype)
            return True
        except dns.resolver.NXDOMAIN:
            return False
        except dns.resolver.NoAnswer:
            continue
        except dns.exception.DNSException:
            return True
    return False
