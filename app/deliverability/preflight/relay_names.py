"""PTR and HELO of the relay, where visible: each of its addresses has a PTR whose name resolves back to
it (forward-confirmed), and the name it greets with resolves to its address."""

import ipaddress

import dns.resolver

from app.deliverability.preflight import lookups
from app.deliverability.preflight.findings import Finding, ok, problem, skipped, warning
from app.deliverability.preflight.setup import SendingSetup


def check(setup: SendingSetup, resolver: dns.resolver.Resolver) -> list[Finding]:
    if not setup.relay_addresses:
        return [skipped("ptr", f"PTR and HELO not checked: the relay {setup.relay_host} has no address in DNS")]
    try:
        return [*(_ptr(resolver, ip) for ip in setup.relay_addresses), _helo(resolver, setup)]
    except lookups.DnsUnavailable as exc:
        return [warning("ptr", f"PTR and HELO could not be checked: {exc}", "check again; if it persists, DNS")]


def _ptr(resolver: dns.resolver.Resolver, ip: str) -> Finding:
    names = lookups.ptr(resolver, ip)
    if not names:
        return problem(
            "ptr",
            f"the relay's address {ip} has no PTR record: many receivers refuse mail from such addresses",
            f"ask whoever holds {ip} (the hosting or relay provider) to set its PTR to the relay's host name",
        )
    confirmed = [n for n in names if ip in lookups.addresses(resolver, n)]
    if not confirmed:
        return problem(
            "ptr",
            f"the PTR of {ip} names {names[0]}, which does not resolve back to {ip}",
            f"add an A/AAAA record {names[0]} → {ip}, or set the PTR to a name that resolves to it",
        )
    return ok("ptr", f"the PTR of {ip} is {confirmed[0]}, which resolves back to it")


def _helo(resolver: dns.resolver.Resolver, setup: SendingSetup) -> Finding:
    name = setup.helo_name
    if name is None:
        return skipped("helo", f"the relay {setup.relay_host} did not greet, so its HELO name is not known here")
    try:
        ipaddress.ip_address(name.strip("[]"))
        literal = True
    except ValueError:
        literal = False
    if literal or "." not in name:
        return problem(
            "helo",
            f"the relay greets as {name!r}, not as a fully qualified host name",
            "set the relay's host name (Postfix: myhostname, or smtp_helo_name) to the name its PTR gives",
        )
    resolved = lookups.addresses(resolver, name)
    if not set(resolved) & set(setup.relay_addresses):
        return problem(
            "helo",
            f"the relay greets as {name}, which does not resolve to its address {', '.join(setup.relay_addresses)}",
            f"add an A/AAAA record {name} → {setup.relay_addresses[0]}, or set the relay's HELO name "
            "(Postfix: smtp_helo_name) to the name its PTR gives",
        )
    return ok("helo", f"the relay greets as {name}, which resolves to its address")
