"""Which mailbox provider receives a domain's mail, so that a provider's domains are paced as one:
gmail.com, googlemail.com and every Google-hosted domain share Google's limits, likewise Microsoft
(Outlook.com and Office 365) and Yahoo (with AOL).

Known consumer domains come from a table; any other domain is looked up by its MX records in the
background (through app.dns_lookup, so BULKMAIL_DNS_SERVER applies). A lookup never holds up sending:
until its answer arrives the domain is paced on its own, and a failed lookup leaves it so."""

import logging
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

import dns.exception
import dns.resolver

from app.dns_lookup import resolver
from app.settings import Settings

log = logging.getLogger(__name__)

GOOGLE, MICROSOFT, YAHOO = "google", "microsoft", "yahoo"
PROVIDERS = (GOOGLE, MICROSOFT, YAHOO)

DOMAINS: dict[str, str] = {
    **dict.fromkeys(("gmail.com", "googlemail.com", "google.com"), GOOGLE),
    **dict.fromkeys(
        (
            "outlook.com",
            "hotmail.com",
            "live.com",
            "msn.com",
            "passport.com",
            "outlook.de",
            "outlook.fr",
            "hotmail.de",
            "hotmail.fr",
            "hotmail.co.uk",
            "hotmail.it",
            "hotmail.es",
            "live.de",
            "live.fr",
            "live.co.uk",
            "live.nl",
            "windowslive.com",
        ),
        MICROSOFT,
    ),
    **dict.fromkeys(
        (
            "yahoo.com",
            "yahoo.de",
            "yahoo.fr",
            "yahoo.co.uk",
            "yahoo.co.jp",
            "yahoo.it",
            "yahoo.es",
            "ymail.com",
            "rocketmail.com",
            "aol.com",
            "aol.de",
            "aim.com",
            "verizon.net",
        ),
        YAHOO,
    ),
}

# the end of an MX host name -> its provider (aspmx.l.google.com, x.mail.protection.outlook.com,
# mta5.am0.yahoodns.net, mx-aol.mail.gm0.yahoodns.net)
MX_SUFFIXES: tuple[tuple[str, str], ...] = (
    (".google.com", GOOGLE),
    (".googlemail.com", GOOGLE),
    (".protection.outlook.com", MICROSOFT),
    (".outlook.com", MICROSOFT),
    (".hotmail.com", MICROSOFT),
    (".yahoodns.net", YAHOO),
)

# special-use names (RFC 2606, RFC 6761, RFC 6762) have no MX in the DNS: never asked about
SPECIAL_USE_SUFFIXES = (
    ".test",
    ".example",
    ".invalid",
    ".localhost",
    ".local",
    ".example.com",
    ".example.net",
    ".example.org",
)

CACHE_SIZE = 100_000
LOOKUP_THREADS = 2
MAX_PENDING = 1_000  # lookups waiting at once; more domains wait for a later message


def provider_of_mx(hosts: list[str]) -> str | None:
    for host in hosts:
        name = "." + host.lower().rstrip(".")
        for suffix, provider in MX_SUFFIXES:
            if name.endswith(suffix):
                return provider
    return None


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].lower()


def provider_label(address: str, providers: "ProviderMap | None") -> str:
    """The provider receiving an address's mail as the metrics name it: google, microsoft, yahoo, or other
    (a label per domain would grow without bound). Never waits for a lookup."""
    domain = domain_of(address)
    found = providers.key(domain) if providers is not None else DOMAINS.get(domain)
    return found if found in PROVIDERS else "other"


class ProviderMap:
    """Domain -> pacing key (a provider's name, or the domain itself). Thread-safe; bounded."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._known: OrderedDict[str, str] = OrderedDict()
        self._pending: set[str] = set()
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None

    def key(self, domain: str) -> str:
        provider = DOMAINS.get(domain)
        if provider is not None:
            return provider
        with self._lock:
            found = self._known.get(domain)
            if found is not None:
                self._known.move_to_end(domain)
                return found
            if ("." + domain).endswith(SPECIAL_USE_SUFFIXES) or not domain:
                return domain
            if domain not in self._pending and len(self._pending) < MAX_PENDING:
                self._pending.add(domain)
                if self._executor is None:
                    self._executor = ThreadPoolExecutor(LOOKUP_THREADS, thread_name_prefix="mx-lookup")
                self._executor.submit(self._look_up, domain)
        return domain

    def _look_up(self, domain: str) -> None:
        try:
            answer = resolver(self.settings).resolve(domain, "MX")
            hosts = [str(r.exchange) for r in answer]
        except (dns.exception.DNSException, OSError, ValueError) as exc:
            log.debug("MX lookup of %s failed (%s); it is paced on its own", domain, type(exc).__name__)
            hosts = []
        with self._lock:
            self._pending.discard(domain)
            self._known[domain] = provider_of_mx(hosts) or domain
            while len(self._known) > CACHE_SIZE:
                self._known.popitem(last=False)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
