"""The preflight's DNS questions, through the project's resolver (BULKMAIL_DNS_SERVER): an absent
name or record is an empty answer; a server that does not answer is DnsUnavailable, never a 'missing'."""

from typing import Any

import dns.exception
import dns.resolver
import dns.reversename


class DnsUnavailable(Exception):
    pass


def _answers(resolver: dns.resolver.Resolver, name: str, rdtype: str) -> list[Any]:
    try:
        return list(resolver.resolve(name, rdtype, search=False))
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except (dns.exception.Timeout, dns.resolver.NoNameservers) as exc:
        raise DnsUnavailable(f"no DNS answer for {name} {rdtype} (timeout or server failure)") from exc
    except dns.exception.DNSException as exc:
        raise DnsUnavailable(f"no DNS answer for {name} {rdtype}: {type(exc).__name__}") from exc


def txt(resolver: dns.resolver.Resolver, name: str) -> list[str]:
    """Each TXT record as one string (its character-strings joined, as SPF, DKIM and DMARC read them)."""
    return [b"".join(r.strings).decode("utf-8", "replace") for r in _answers(resolver, name, "TXT")]


def addresses(resolver: dns.resolver.Resolver, name: str) -> list[str]:
    return [r.address for t in ("A", "AAAA") for r in _answers(resolver, name, t)]


def ptr(resolver: dns.resolver.Resolver, ip: str) -> list[str]:
    name = dns.reversename.from_address(ip).to_text()
    return [r.target.to_text(omit_final_dot=True).lower() for r in _answers(resolver, name, "PTR")]
