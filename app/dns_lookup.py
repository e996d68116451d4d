"""The one DNS resolver bulkmail uses (MX grouping for pacing, the preflight's SPF/DKIM/DMARC checks):
the system's, or the server BULKMAIL_DNS_SERVER names (host or host:port), with a short timeout so a
slow resolver never stalls a worker."""

import dns.resolver

from app.settings import Settings

TIMEOUT_SECONDS = 3.0


def resolver(settings: Settings) -> dns.resolver.Resolver:
    if settings.dns_server is None:
        r = dns.resolver.Resolver()
    else:
        host, sep, port = settings.dns_server.rpartition(":")
        if not sep or ":" in host:  # a bare host, or an IPv6 address without a port
            host, port = settings.dns_server, ""
        r = dns.resolver.Resolver(configure=False)
        r.nameservers = [host]
        if port:
            r.port = int(port)
    r.lifetime = TIMEOUT_SECONDS
    return r
