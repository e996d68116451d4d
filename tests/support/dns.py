"""Name resolution in tests without a DNS query leaving the machine."""

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from ipaddress import ip_address
from typing import Any

import pytest

_real_getaddrinfo = socket.getaddrinfo


@contextmanager
def fake_dns(answers: dict[str, str]) -> Iterator[dict[str, str]]:
    """socket.getaddrinfo answers each name in ANSWERS with its address (change the dict to change the
    answer, as a rebinding DNS server would); IP literals and `localhost` resolve as usual (no query);
    any other name does not resolve. Every caller in the process sees it, httpx included."""

    def getaddrinfo(host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0) -> list:  # noqa: A002
        name = host.decode() if isinstance(host, bytes) else host
        if name in answers:
            ip = ip_address(answers[name])
            number = int(port or 0)
            if ip.version == 4:
                return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (str(ip), number))]
            return [(socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (str(ip), number, 0, 0))]
        if name == "localhost":  # /etc/hosts
            return _real_getaddrinfo(host, port, family, type, proto, flags)
        return _real_getaddrinfo(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket, "getaddrinfo", getaddrinfo)
        yield answers
