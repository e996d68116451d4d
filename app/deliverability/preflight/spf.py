"""SPF of the envelope (Return-Path) domain: does it let the relay's addresses send? Evaluated by pyspf
(the reference implementation of RFC 7208), asking the project's resolver."""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import dns.exception
import dns.resolver
import spf

from app.deliverability.preflight.findings import Finding, ok, problem, skipped, warning
from app.deliverability.preflight.setup import SendingSetup

_resolver: ContextVar[dns.resolver.Resolver] = ContextVar("spf_resolver")


def _lookup(name: str, qtype: str, strict: bool = True, timeout: float = 30) -> list[tuple[tuple[str, str], Any]]:
    """pyspf's DNS hook (the shape of its own dnspython one), answered by our resolver."""
    found: list[tuple[tuple[str, str], Any]] = []
    try:
        for r in _resolver.get().resolve(name, qtype, search=False):
            if qtype in ("A", "AAAA"):
                found.append(((name, qtype), r.address))
            elif qtype == "MX":
                found.append(((name, qtype), (r.preference, r.exchange)))
            elif qtype == "PTR":
                found.append(((name, qtype), r.target.to_text(True)))
            elif qtype in ("TXT", "SPF"):
                found.append(((name, qtype), r.strings))
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        pass
    except dns.exception.DNSException as exc:
        raise spf.TempError(f"DNS {type(exc).__name__}") from exc
    return found


spf.DNSLookup = _lookup  # pyspf's one way to DNS: through BULKMAIL_DNS_SERVER, never the system's


@contextmanager
def _asking(resolver: dns.resolver.Resolver) -> Iterator[None]:
    token = _resolver.set(resolver)
    try:
        yield
    finally:
        _resolver.reset(token)


def check(setup: SendingSetup, resolver: dns.resolver.Resolver) -> list[Finding]:
    domain = setup.envelope_domain
    if not setup.relay_addresses:
        return [
            skipped(
                "spf",
                f"SPF of {domain} not checked: the relay {setup.relay_host} has no address in DNS, so the "
                "address receivers see cannot be known here",
            )
        ]
    found = []
    with _asking(resolver):
        for ip in setup.relay_addresses:
            result, explanation = spf.check2(i=ip, s=f"postmaster@{domain}", h=setup.helo_name or domain)
            found.append(_finding(domain, ip, setup.relay_host, result, explanation))
    return found


def _finding(domain: str, ip: str, relay: str, result: str, explanation: str) -> Finding:
    where = f"the relay {ip}" if relay == ip else f"{ip} (relay {relay})"
    mechanism = f"ip6:{ip}" if ":" in ip else f"ip4:{ip}"
    if result == "pass":
        return ok("spf", f"SPF of {domain} lets {where} send")
    if result == "none":
        return problem(
            "spf",
            f"{domain} (the envelope domain, from the bounce address) has no SPF record",
            f'publish a TXT record at {domain}: "v=spf1 {mechanism} -all" (or include: your relay provider\'s record)',
        )
    if result == "permerror":
        return problem(
            "spf",
            f"the SPF record of {domain} is invalid: {explanation}",
            f"correct the SPF record of {domain} (one v=spf1 record, at most 10 DNS-querying terms)",
        )
    if result == "temperror":
        return warning(
            "spf", f"SPF of {domain} could not be checked: {explanation}", "check again; if it persists, check DNS"
        )
    return problem(
        "spf",
        f"SPF of {domain} does not let {where} send (result: {result})",
        f"add {mechanism} (or include: your relay provider's record) to the SPF record of {domain}",
    )
