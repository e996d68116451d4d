"""A real authoritative DNS server (Debian's NSD) on 127.0.0.1 and a free port, serving zones a test
writes: the preflight's SPF, DKIM, DMARC and PTR lookups go to it, never to the internet.

    with DnsServer(tmp_path, {"example.test": records}) as dns:
        settings = Settings(dns_server=dns.address, ...)

`python -m tests.support.mailstack install` installs nsd (and SpamAssassin) with Postfix and Dovecot."""

import shutil
import time
from pathlib import Path

import dns.exception
import dns.message
import dns.query

from tests.support.daemon import Daemon
from tests.support.network import free_port

NSD = "/usr/sbin/nsd"


class DnsServer(Daemon):
    def __init__(self, root: Path, zones: dict[str, list[str]]) -> None:
        """ZONES: origin -> resource records in zone-file syntax, relative to the origin ("@ TXT ..."),
        e.g. {"example.test": ['@ TXT "v=spf1 ip4:127.0.0.1 -all"']}; an SOA and NS are added."""
        if shutil.which(NSD) is None:
            raise RuntimeError("nsd is not installed: python -m tests.support.mailstack install")
        self.root = root / "nsd"
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.zones = zones

    def _write(self) -> Path:
        conf = [
            "server:",
            f"  ip-address: 127.0.0.1@{self.port}",
            f"  port: {self.port}",
            '  username: ""',
            '  chroot: ""',
            f'  zonesdir: "{self.root}"',
            f'  pidfile: "{self.root}/nsd.pid"',
            f'  xfrdfile: "{self.root}/xfrd.state"',
            f'  zonelistfile: "{self.root}/zone.list"',
            '  database: ""',
            "  server-count: 1",
            "  verbosity: 1",
            "  hide-version: yes",
            "remote-control:",
            "  control-enable: no",
        ]
        for origin, records in self.zones.items():
            zone = [
                f"$ORIGIN {origin}.",
                "$TTL 60",
                f"@ SOA ns.{origin}. hostmaster.{origin}. 1 3600 600 86400 60",
                f"@ NS ns.{origin}.",
                "ns A 127.0.0.1",
                *records,
            ]
            (self.root / f"{origin}.zone").write_text("\n".join(zone) + "\n")
            conf += ["zone:", f"  name: {origin}", f'  zonefile: "{origin}.zone"']
        path = self.root / "nsd.conf"
        path.write_text("\n".join(conf) + "\n")
        return path

    def start(self) -> "DnsServer":
        conf = self._write()
        self.spawn([NSD, "-d", "-c", str(conf)], "nsd.log")
        origin = next(iter(self.zones))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if (log := self.ended("nsd.log")) is not None:
                raise RuntimeError(f"nsd ended: {log}")
            try:
                dns.query.udp(dns.message.make_query(f"{origin}.", "SOA"), "127.0.0.1", timeout=0.5, port=self.port)
                return self
            except (dns.exception.Timeout, OSError):
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"nsd did not answer on {self.address}")

    def serve(self, zones: dict[str, list[str]]) -> None:
        """Serve other zones from now on (NSD restarted on the same port)."""
        self.stop()
        self.zones = zones
        self.start()
