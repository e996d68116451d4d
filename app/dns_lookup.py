"""The one DNS resolver bulkmail uses (MX grouping for pacing, the preflight's SPF/DKIM/DMARC checks):
the system's, or the server BULKMAIL_DNS_SERVER names (host or host:port), with a short timeout so a
slow resolver never stalls a worker."""

from functools import lru_cache

import dns.resolver

from app.settings import Settings

TIMEOUT_SECONDS = 3.0


def resolver(settings: Settings) -> dns.resolver.Resolver:
    return _resolver(settings.dns_server)


@lru_cache(maxsize=8)
def _resolver(server: str | None) -> dns.resolver.Resolver:
    """One resolver per server, made once: the system's reads /etc/resolv.conf when it is made, and every
    MX lookup and preflight check asks through it (its queries do not change it, so threads share it)."""
    if server is None:
        r = dns.resolver.Resolver()
    else:
        host, sep, port = server.rpartition(":")
        if not sep or ":" in host:  # a bare host, or an IPv6 address without a port
            host, port = server, ""
        r = dns.resolver.Resolver(configure=False)
        r.nameservers = [host]
        if port:
            r.port = int(port)
    r.lifetime = TIMEOUT_SECONDS
    return r
