"""DMARC: a policy exists for the From domain (Gmail and Yahoo require one of bulk senders), and the
From domain aligns with the DKIM d= and the envelope domain, relaxed or strict as the record says."""

from dataclasses import dataclass

import dns.resolver
from tld import get_fld

from app.deliverability.preflight import lookups
from app.deliverability.preflight.findings import Finding, ok, problem, warning
from app.deliverability.preflight.setup import SendingSetup
from app.deliverability.preflight.tags import parse_tags


@dataclass(frozen=True)
class Policy:
    where: str  # the name the record was found at
    policy: str  # none, quarantine, reject
    adkim: str  # r or s
    aspf: str


def organizational_domain(domain: str) -> str:
    """example.co.uk for news.example.co.uk (the Public Suffix List); the last two labels of a name
    under a suffix the list does not know (example.test)."""
    found = get_fld(domain, fix_protocol=True, fail_silently=True)
    return found if isinstance(found, str) else ".".join(domain.split(".")[-2:])


def find_policy(resolver: dns.resolver.Resolver, domain: str) -> Policy | None:
    """RFC 7489 §6.6.3: the From domain's record, else its organizational domain's (whose sp= applies)."""
    org = organizational_domain(domain)
    for name in dict.fromkeys((f"_dmarc.{domain}", f"_dmarc.{org}")):
        records = [r for r in lookups.txt(resolver, name) if r.replace(" ", "").lower().startswith("v=dmarc1")]
        if len(records) == 1:
            tags = parse_tags(records[0])
            p = tags.get("p", "").lower()
            if name != f"_dmarc.{domain}":
                p = tags.get("sp", p).lower()
            return Policy(name, p, tags.get("adkim", "r").lower(), tags.get("aspf", "r").lower())
    return None


def aligned(a: str, b: str, mode: str) -> bool:
    if mode == "s":
        return a == b
    return organizational_domain(a) == organizational_domain(b)


def _mode(mode: str) -> str:
    return "strict" if mode == "s" else "relaxed"


def check(setup: SendingSetup, resolver: dns.resolver.Resolver) -> list[Finding]:
    domain = setup.from_domain
    try:
        policy = find_policy(resolver, domain)
    except lookups.DnsUnavailable as exc:
        return [warning("dmarc", f"DMARC could not be checked: {exc}", "check again; if it persists, check DNS")]
    if policy is None:
        org = organizational_domain(domain)
        return [
            problem(
                "dmarc",
                f"{domain} (the From domain) has no DMARC policy: Gmail and Yahoo reject bulk mail without one",
                f'publish a TXT record at _dmarc.{org}: "v=DMARC1; p=none; rua=mailto:dmarc@{org}" '
                "(tighten p= once the reports show only your own mail)",
            )
        ]
    if policy.policy not in ("none", "quarantine", "reject"):
        return [
            problem(
                "dmarc",
                f"the DMARC record at {policy.where} has no valid p= (found {policy.policy or 'none given'})",
                f"set p=none, p=quarantine or p=reject in the record at {policy.where}",
            )
        ]
    found = [ok("dmarc", f"{domain} has a DMARC policy p={policy.policy} (at {policy.where})")]
    return found + _alignment(setup, policy)


def _alignment(setup: SendingSetup, policy: Policy) -> list[Finding]:
    domain, found = setup.from_domain, []
    dkim_ok = setup.dkim is not None and aligned(setup.dkim.domain, domain, policy.adkim)
    spf_ok = aligned(setup.envelope_domain, domain, policy.aspf)
    if setup.dkim is not None and not dkim_ok:
        found.append(
            problem(
                "alignment",
                f"the DKIM signature's d={setup.dkim.domain} is not aligned with the From domain {domain} "
                f"({_mode(policy.adkim)} alignment, adkim={policy.adkim})",
                f"sign with d={domain}"
                + ("" if policy.adkim == "s" else f" (or another domain under {organizational_domain(domain)})")
                + f", or send from an address at {setup.dkim.domain}",
            )
        )
    elif dkim_ok:
        found.append(ok("alignment", f"DKIM d={setup.dkim.domain if setup.dkim else ''} aligns with {domain}"))
    if not spf_ok:
        message = (
            f"the envelope domain {setup.envelope_domain} (of the bounce address) is not aligned with the From "
            f"domain {domain} ({_mode(policy.aspf)} alignment, aspf={policy.aspf})"
        )
        fix = f"use a bounce address at {domain}" + (
            "" if policy.aspf == "s" else f" or a subdomain of {organizational_domain(domain)}"
        )
        # DMARC passes on either aligned identifier; without an aligned DKIM signature nothing passes it
        found.append(warning("alignment", message, fix) if dkim_ok else problem("alignment", message, fix))
    else:
        found.append(ok("alignment", f"the envelope domain {setup.envelope_domain} aligns with {domain}"))
    return found
