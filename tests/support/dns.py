"""Name resolution in tests without a DNS query leaving the machine."""

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from ipaddress import ip_address
from typing import Any

import pytest

_real_getaddrinfo = socket.getaddrinfo


@contextmanager
def fake_dns(answers: dict[str, list[str]]) -> Iterator[dict[str, int]]:
    """socket.getaddrinfo answers each name in ANSWERS with the next address of its list, the last one
    again once the list is used up (change the dict to change the answers, as a rebinding DNS server
    would); IP literals and `localhost` resolve as usual (no query); any other name does not resolve.
    Every caller in the process sees it, httpx included; `lookups` counts the answers given per name."""

    lookups: dict[str, int] = {}

    def getaddrinfo(host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0) -> list:  # noqa: A002
        name = host.decode() if isinstance(host, bytes) else host
        if name in answers:
            ip = ip_address(answers[name][0] if len(answers[name]) == 1 else answers[name].pop(0))
            lookups[name] = lookups.get(name, 0) + 1
            number = int(port or 0)
            if ip.version == 4:
                return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (str(ip), number))]
            return [(socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (str(ip), number, 0, 0))]
        if name == "localhost":  # /etc/hosts
            return _real_getaddrinfo(host, port, family, type, proto, flags)
        return _real_getaddrinfo(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket, "getaddrinfo", getaddrinfo)
        yield lookups
