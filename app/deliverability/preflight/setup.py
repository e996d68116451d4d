"""What the preflight checks: one way of sending (From, envelope, DKIM key, relay) and a sample message.
Built here from the settings and a campaign; a sending identity can build the same."""

import ipaddress
import smtplib
from dataclasses import dataclass

import dns.resolver
from cryptography.hazmat.primitives import serialization

from app.deliverability.preflight import lookups
from app.sending.dkim_sign import DkimSigner
from app.settings import Settings
from app.tls import client_context

GREETING_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class DkimKey:
    selector: str
    domain: str  # d=
    public_key: bytes  # SubjectPublicKeyInfo, DER: what the p= of the record must hold


@dataclass(frozen=True)
class SendingSetup:
    from_domain: str
    envelope_domain: str  # of the Return-Path (the bounce address)
    dkim: DkimKey | None  # None: messages go out unsigned
    relay_host: str
    relay_addresses: tuple[str, ...]  # what receivers see the mail come from, as far as DNS tells
    helo_name: str | None  # the name the relay greets with; None when it could not be read
    message: bytes  # a sample message as sent (headers and body, signed)


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].strip().rstrip(">").lower()


def settings_signer(settings: Settings) -> DkimSigner | None:
    """The settings' signer; None when DKIM is off or half configured (the DKIM check then names the settings)."""
    try:
        return DkimSigner.from_settings(settings)
    except ValueError:
        return None


def dkim_key(signer: DkimSigner | None) -> DkimKey | None:
    """The key messages are signed with, as the DKIM record must publish it."""
    if signer is None:
        return None
    private = serialization.load_pem_private_key(signer.key, password=None)
    der = private.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return DkimKey(signer.selector.decode(), signer.domain.decode().lower(), der)


def relay_addresses(resolver: dns.resolver.Resolver, host: str) -> tuple[str, ...]:
    try:
        return (str(ipaddress.ip_address(host)),)
    except ValueError:
        pass
    try:
        return tuple(lookups.addresses(resolver, host))
    except lookups.DnsUnavailable:
        return ()


def relay_greeting_name(settings: Settings) -> str | None:
    """The host name in the relay's 220 greeting: the name it most likely says HELO with to receivers."""
    try:
        if settings.smtp_security == "tls":
            context = client_context(settings.smtp_cafile, settings.smtp_verify)
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(timeout=GREETING_TIMEOUT_SECONDS, context=context)
        else:
            smtp = smtplib.SMTP(timeout=GREETING_TIMEOUT_SECONDS)
        try:
            code, text = smtp.connect(settings.smtp_host, settings.smtp_port)
        finally:
            smtp.close()
    except (OSError, smtplib.SMTPException):  # refused, timed out, TLS failed, no greeting
        return None
    words = text.decode("utf-8", "replace").split()
    return words[0].lower().rstrip(".") if code == 220 and words else None


def for_sending(
    settings: Settings,
    resolver: dns.resolver.Resolver,
    *,
    from_address: str,
    bounce_address: str,
    signer: DkimSigner | None,
    message: bytes,
) -> SendingSetup:
    """The setup of one campaign: its From, the bounce address and DKIM key of its identity (or the settings'),
    and the relay SETTINGS name (app.sending.relays.settings_for: the campaign's heaviest relay)."""
    return SendingSetup(
        from_domain=domain_of(from_address),
        envelope_domain=domain_of(bounce_address),
        dkim=dkim_key(signer),
        relay_host=settings.smtp_host,
        relay_addresses=tuple(map(str, settings.sending_addresses)) or relay_addresses(resolver, settings.smtp_host),
        helo_name=settings.sending_helo_name or relay_greeting_name(settings),
        message=message,
    )
