"""DKIM: the record at selector._domainkey.domain exists and holds the key bulkmail signs with."""

import base64
import binascii

import dns.resolver

from app.deliverability.preflight import lookups
from app.deliverability.preflight.findings import Finding, ok, problem, warning
from app.deliverability.preflight.setup import DkimKey, SendingSetup
from app.deliverability.preflight.tags import parse_tags

SIGNING_SETTINGS = "BULKMAIL_DKIM_SELECTOR, BULKMAIL_DKIM_DOMAIN and BULKMAIL_DKIM_PRIVATE_KEY_FILE"


def record_to_publish(key: DkimKey) -> str:
    return f'"v=DKIM1; k=rsa; p={base64.b64encode(key.public_key).decode()}"'


def check(setup: SendingSetup, resolver: dns.resolver.Resolver) -> list[Finding]:
    key = setup.dkim
    if key is None:
        return [
            problem(
                "dkim",
                "messages are not DKIM-signed: Gmail, Yahoo and Outlook.com reject unsigned bulk mail",
                f"set {SIGNING_SETTINGS}, with the domain of the From address ({setup.from_domain})",
            )
        ]
    name = f"{key.selector}._domainkey.{key.domain}"
    publish = f"publish a TXT record at {name}: {record_to_publish(key)}"
    try:
        records = [r for r in lookups.txt(resolver, name) if "p=" in r]
    except lookups.DnsUnavailable as exc:
        return [warning("dkim", f"the DKIM record could not be checked: {exc}", "check again; if it persists, DNS")]
    if not records:
        return [problem("dkim", f"there is no DKIM record at {name}: receivers cannot verify the signature", publish)]
    if len(records) > 1:
        return [problem("dkim", f"{name} has {len(records)} DKIM records; receivers need exactly one", publish)]
    p = parse_tags(records[0]).get("p", "")
    if not p:
        return [problem("dkim", f"the DKIM record at {name} is revoked (empty p=)", publish)]
    if not _same_key(p, key.public_key):
        return [
            problem(
                "dkim",
                f"the DKIM record at {name} holds another key than the one messages are signed with: "
                "every signature fails",
                f"replace the record: {record_to_publish(key)} (or sign with the private key of the published one)",
            )
        ]
    return [ok("dkim", f"the DKIM record at {name} matches the signing key")]


def _same_key(p: str, ours: bytes) -> bool:
    """DER is canonical: the same SubjectPublicKeyInfo is the same bytes."""
    try:
        return base64.b64decode(p, validate=True) == ours
    except (binascii.Error, ValueError):
        return False
