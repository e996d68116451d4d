"""The preflight's real servers: NSD serving a test zone, Debian's SpamAssassin, an SMTP relay that greets
as relay.example.test; and a DKIM key. Every test starts from a zone where everything is right."""

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from app.settings import Settings
from tests.sending.sink import Sink, SinkServer
from tests.support.dns_server import DnsServer
from tests.support.spamd import Spamd

SELECTOR = "bm"
RELAY = "relay.example.test"


def new_key() -> tuple[bytes, str]:
    """(private key PEM, the p= of its DNS record)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    spki = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return pem, base64.b64encode(spki).decode()


def txt(value: str) -> str:
    """A TXT record's data in zone-file syntax, split into 255-byte strings as DNS needs."""
    return " ".join(f'"{value[i : i + 255]}"' for i in range(0, len(value), 255))


def good_zones(p: str) -> dict[str, dict[str, str]]:
    """origin -> {owner and type: data}: SPF, DKIM and DMARC aligned, the relay's forward and reverse names."""
    return {
        "example.test": {
            "@ TXT": txt("v=spf1 ip4:127.0.0.1 -all"),
            f"{SELECTOR}._domainkey TXT": txt(f"v=DKIM1; k=rsa; p={p}"),
            "_dmarc TXT": txt("v=DMARC1; p=quarantine; rua=mailto:dmarc@example.test"),
            "relay A": "127.0.0.1",
        },
        "127.in-addr.arpa": {"1.0.0 PTR": f"{RELAY}."},
    }


def records(zones: dict[str, dict[str, str]]) -> dict[str, list[str]]:
    return {origin: [f"{k} {v}" for k, v in rrs.items()] for origin, rrs in zones.items()}


class Zone:
    """The test zone: change `zones` and call publish() to serve the change."""

    def __init__(self, server: DnsServer, p: str) -> None:
        self.server, self.p, self.zones = server, p, good_zones(p)

    def publish(self) -> None:
        self.server.serve(records(self.zones))


@pytest.fixture(scope="module")
def dkim_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    pem, p = new_key()
    path = tmp_path_factory.mktemp("dkim") / "bm.pem"
    path.write_bytes(pem)
    return path, p


@pytest.fixture(scope="module")
def spamd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Spamd]:
    with Spamd(tmp_path_factory.mktemp("spamd")) as server:
        yield server


@pytest.fixture
def zone(tmp_path: Path, dkim_key: tuple[Path, str]) -> Iterator[Zone]:
    with DnsServer(tmp_path, records(good_zones(dkim_key[1]))) as server:
        yield Zone(server, dkim_key[1])


@pytest.fixture
def relay() -> Iterator[SinkServer]:
    with SinkServer(Sink(), greeting_name=RELAY) as server:
        yield server


@pytest.fixture
def settings(settings: Settings, zone: Zone, relay: SinkServer, spamd: Spamd, dkim_key: tuple[Path, str]) -> Settings:
    """The suite's settings, sending news from example.test through the relay, DNS from the test zone."""
    return settings.model_copy(
        update=dict(
            dns_server=zone.server.address,
            smtp_host="127.0.0.1",
            smtp_port=relay.port,
            smtp_security="none",
            dkim_selector=SELECTOR,
            dkim_domain="example.test",
            dkim_private_key_file=str(dkim_key[0]),
            spamassassin_host="127.0.0.1",
            spamassassin_port=spamd.port,
            bounce_address="noreply@example.test",
        )  # fmt: skip
    )
