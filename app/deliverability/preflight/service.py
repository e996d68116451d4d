"""Run every check on a SendingSetup; a campaign's preflight (its setup built from the settings and a
sample message rendered for its first contact), kept for BULKMAIL_PREFLIGHT_CACHE_SECONDS."""

import hashlib
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import dns.resolver
from sqlalchemy import Engine
from sqlmodel import Session

from app.deliverability.preflight import dkim, dmarc, relay_names, size, spam, spf, unsubscribe
from app.deliverability.preflight import setup as sending_setup
from app.deliverability.preflight.findings import Finding
from app.dns_lookup import resolver as dns_resolver
from app.models import Campaign, SendingIdentity, utcnow
from app.secret_key import get_secret_key
from app.sending import identities, queries, relays
from app.settings import Settings

SAMPLE: tuple[str, str | None, str | None, dict[str, Any]] = (
    "someone@example.com",
    "Ann",
    "Example",
    {},
)  # the compose preview's stand-in for a list with no one
MAX_CACHED = 256


@dataclass(frozen=True)
class PreflightReport:
    checked_at: datetime
    findings: list[Finding]
    cached: bool = False
    sample_bytes: int = 0

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.status == "problem"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.status == "warning"]

    @property
    def ok(self) -> bool:
        return not self.problems


def run_checks(setup: sending_setup.SendingSetup, settings: Settings, resolver: dns.resolver.Resolver) -> list[Finding]:
    """Every check, in the order a receiver meets them: the connection, the signature, the message."""
    return [
        *relay_names.check(setup, resolver),
        *spf.check(setup, resolver),
        *dkim.check(setup, resolver),
        *dmarc.check(setup, resolver),
        *unsubscribe.check_headers(setup),
        *unsubscribe.check_visible_link(setup),
        *size.check(setup, settings.preflight_max_message_bytes),
        *spam.check(setup, settings),
    ]


def check_setup(setup: sending_setup.SendingSetup, settings: Settings) -> PreflightReport:
    findings = run_checks(setup, settings, dns_resolver(settings))
    return PreflightReport(utcnow(), findings, sample_bytes=len(setup.message))


@dataclass
class _Cache:
    lock: threading.Lock = field(default_factory=threading.Lock)
    reports: dict[str, tuple[float, PreflightReport]] = field(default_factory=dict)


_cache = _Cache()


def _key(engine: Engine, settings: Settings, campaign: Campaign) -> str:
    """Whatever changes a result: the campaign's content and the settings the checks read."""
    parts = (
        str(engine.url),
        campaign.id,
        campaign.from_address,
        campaign.reply_to,
        campaign.subject,
        campaign.html_template,
        campaign.text_template,
        campaign.template_language,
        campaign.layout_id,
        campaign.list_ids,
        campaign.identity_id,
        campaign.relay_ids,
        settings.bounce_address,
        settings.base_url,
        settings.dkim_selector,
        settings.dkim_domain,
        settings.dkim_private_key_file,
        settings.smtp_host,
        settings.smtp_port,
        settings.smtp_security,
        settings.dns_server,
        settings.spamassassin_host,
        settings.spamassassin_port,
        settings.preflight_max_message_bytes,
    )
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def kept_preflight(engine: Engine, settings: Settings, campaign: Campaign) -> PreflightReport | None:
    """The campaign's last preflight while it is younger than the cache time, without checking anything."""
    with _cache.lock:
        hit = _cache.reports.get(_key(engine, settings, campaign))
    if hit is None or time.monotonic() - hit[0] >= settings.preflight_cache_seconds:
        return None
    return replace(hit[1], cached=True)


def campaign_preflight(
    session: Session, engine: Engine, settings: Settings, campaign: Campaign, refresh: bool = False
) -> PreflightReport:
    """The campaign's preflight, kept for the cache time unless REFRESH. Raises RenderFailed when the
    templates fail for the sample contact."""
    kept = None if refresh else kept_preflight(engine, settings, campaign)
    if kept is not None:
        return kept
    contact = queries.first_contact(session, campaign.list_ids) or SAMPLE
    secret = get_secret_key(settings, engine)
    composer = identities.composer(session, campaign, settings, secret, sending_setup.settings_signer(settings))
    relay = relays.settings_for(session, settings, composer.relay_ids)
    session.rollback()  # only reads: no transaction (on SQLite, the write lock) during the DNS and spamd checks
    message = composer.message(*contact, contact_id=0)
    setup = sending_setup.for_sending(
        relay,
        dns_resolver(settings),
        from_address=campaign.from_address,
        bounce_address=composer.settings.bounce_address,  # the identity's, when the campaign has one
        signer=composer.signer,
        message=message,
    )
    report = check_setup(setup, settings)
    with _cache.lock:
        if len(_cache.reports) >= MAX_CACHED:
            _cache.reports.pop(next(iter(_cache.reports)))
        _cache.reports[_key(engine, settings, campaign)] = (time.monotonic(), report)
    return report


# what an identity's preflight sends itself: the parts every campaign sent as it shares (From domain, DKIM key,
# bounce address, relays, headers) on a short message with the unsubscribe link every campaign must carry
_IDENTITY_HTML = '<p>Hello {{ first_name }},</p><p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>'
_IDENTITY_TEXT = "Hello {{ first_name }},\n\nUnsubscribe: {{ unsubscribe_url }}\n"


def identity_preflight(
    session: Session, engine: Engine, settings: Settings, identity: SendingIdentity, refresh: bool = False
) -> PreflightReport:
    """A sending identity's preflight, on a sample message from it (kept like a campaign's)."""
    return campaign_preflight(session, engine, settings, identity_sample(identity), refresh)


def identity_sample(identity: SendingIdentity) -> Campaign:
    """The message an identity's preflight checks, as a campaign that is never stored."""
    return Campaign(
        name=identity.name,
        from_address=f"preflight@{identity.from_domain}",
        subject="Preflight",
        html_template=_IDENTITY_HTML,
        text_template=_IDENTITY_TEXT,
        list_ids=[],
        identity_id=identity.id,
    )
