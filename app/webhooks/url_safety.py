"""Where a webhook may be sent: only to public addresses, unless the operator's allow-list says otherwise.

A URL's host is resolved once, every address it resolves to is checked, and the POST then goes to
exactly the checked address (the URL carries the IP; the Host header and TLS SNI carry the name), so
a DNS answer that changes between the check and the connection (DNS rebinding) cannot reach a
refused address. Registration runs the same check, so a bad URL is refused before it is stored.
IPv4 in the spellings resolvers accept (`0x7f000001`, `2130706433`, `127.1`, `0177.0.0.1`) and IPv4
embedded in IPv6 (mapped, 6to4, NAT64) are judged by the IPv4 address they mean."""

import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

ALLOW_SETTING = "BULKMAIL_WEBHOOK_ALLOWED_NETWORKS"

_SHARED = ip_network("100.64.0.0/10")  # carrier-grade NAT; Python counts it neither private nor global
_THIS_NETWORK = ip_network("0.0.0.0/8")  # connecting to 0.x reaches this host on Linux
_NAT64 = ip_network("64:ff9b::/96")
# an IPv4 address in any of inet_aton's spellings: 1 to 4 parts, each decimal, octal or hex
_IPV4_SPELLING = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}$", re.IGNORECASE)
_NUMERIC_LAST_LABEL = re.compile(r"(^|\.)(0x[0-9a-f]*|[0-9]+)$", re.IGNORECASE)
_HOST_NAME = re.compile(
    r"^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$"
)


class UnsafeTarget(ValueError):
    """A URL bulkmail will not send to; the message says why, in words fit for the API and the delivery log."""


@dataclass(frozen=True)
class AllowList:
    """The operator's exceptions: networks (CIDR or single addresses) and exact host names."""

    networks: tuple[IPNetwork, ...] = ()
    hosts: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> "AllowList":
        networks: list[IPNetwork] = []
        hosts: set[str] = set()
        for raw in entries:
            entry = raw.strip().lower().rstrip(".")
            try:
                networks.append(ip_network(entry, strict=False))
                continue
            except ValueError:
                pass
            if not _HOST_NAME.match(entry) or _NUMERIC_LAST_LABEL.search(entry):
                raise ValueError(f"{raw!r} is neither a network (10.0.0.0/8, 192.168.1.5, fd00::/8) nor a host name")
            hosts.add(entry)
        return cls(tuple(networks), frozenset(hosts))

    def allows(self, ip: IPAddress) -> bool:
        return any(ip in net for net in self.networks if net.version == ip.version)


@dataclass(frozen=True)
class Target:
    """Where to connect: `url` names the checked IP; send `host_header` as Host and `sni` as TLS server name."""

    url: str
    ip: IPAddress
    host_header: str
    sni: str | None


def _literal(host: str) -> IPAddress | None:
    """The address a host written as an IP means (any spelling a resolver takes), or None for a name."""
    try:
        return ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    if _IPV4_SPELLING.match(host):
        try:
            return IPv4Address(socket.inet_aton(host))
        except OSError:
            pass
    if _NUMERIC_LAST_LABEL.search(host):  # what resolvers would half-read as an address: refuse, don't guess
        raise UnsafeTarget(f"{host} is not a valid IP address")
    return None


def _embedded(ip: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 one stands for (mapped, 6to4, NAT64), else the address itself."""
    if isinstance(ip, IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
        if ip in _NAT64:
            return IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def refused_kind(ip: IPAddress) -> str | None:
    """Why an address is not a public one ("loopback", "private", ...), or None when it is."""
    ip = _embedded(ip)
    if ip.is_unspecified or ip in _THIS_NETWORK:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if ip in _SHARED:
        return "shared (carrier-grade NAT)"
    if ip.is_reserved or (isinstance(ip, IPv6Address) and ip.is_site_local):
        return "reserved"
    if ip.is_private:
        return "private"
    if not ip.is_global:
        return "reserved"
    return None


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address the system resolver gives for HOST (one lookup)."""
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        if exc.errno == socket.EAI_AGAIN:
            raise UnsafeTarget(f"the host name {host} could not be resolved just now") from None
        raise UnsafeTarget(f"the host name {host} does not resolve") from None
    except UnicodeError:
        raise UnsafeTarget(f"{host} is not a valid host name") from None
    found: list[IPAddress] = []
    for *_, sockaddr in answers:
        ip = ip_address(str(sockaddr[0]).split("%", 1)[0])
        if ip not in found:
            found.append(ip)
    if not found:
        raise UnsafeTarget(f"the host name {host} does not resolve")
    return found


def _check(ip: IPAddress, host: str, allow: AllowList) -> None:
    kind = refused_kind(ip)
    if kind is None or allow.allows(ip) or allow.allows(_embedded(ip)):
        return
    shown = f"{ip} ({_embedded(ip)})" if _embedded(ip) != ip else str(ip)
    article = "an" if kind[0] in "aeiou" else "a"
    said = (
        f"{host} resolves to {shown}, {article} {kind} address"
        if host != str(ip)
        else f"{shown} is {article} {kind} address"
    )
    raise UnsafeTarget(f"{said}; webhooks go only to public addresses unless {ALLOW_SETTING} lists it")


def target(url: str, allow: AllowList) -> Target:
    """Resolve URL's host once and check every address; the Target to connect to, or UnsafeTarget saying why."""
    import httpx  # here, not at the top: the settings import this module, and every command imports them

    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise UnsafeTarget("not a valid URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise UnsafeTarget("must be an absolute http:// or https:// URL")
    host = parsed.raw_host.decode("ascii").lower()
    bare = host.rstrip(".")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    literal = _literal(bare)
    if literal is not None:
        addresses = [literal]
        bare = str(literal)
    else:
        addresses = resolve(bare, port)
    if bare not in allow.hosts:
        for ip in addresses:  # all of them: a name with one public and one private answer is refused
            _check(ip, bare, allow)
    ip = addresses[0]
    sni = None if parsed.scheme == "http" or literal is not None else bare
    return Target(str(parsed.copy_with(host=str(ip))), ip, parsed.netloc.decode("ascii"), sni)
