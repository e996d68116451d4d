"""A real OpenID Connect provider on loopback: the npm package oidc-provider, run by tests/support/oidc/provider.mjs
(`npm ci` in that folder installs it; scripts/test does). A test gives its users, their passwords and claims,
and may change them between two sign-ins."""

import json
import re
import shutil
import time
from pathlib import Path
from typing import Any, Self
from urllib.parse import urljoin

import httpx

from tests.support.daemon import Daemon
from tests.support.network import free_port

FOLDER = Path(__file__).parent / "oidc"
CLIENT_ID = "bulkmail"
CLIENT_SECRET = "client-secret-of-bulkmail-at-the-provider"
LOG = "provider.log"


class OidcProvider(Daemon):
    def __init__(self, root: Path, redirect_uris: list[str], live_port: int = 0) -> None:
        self.root, self.redirect_uris = root, redirect_uris
        self.live_port = live_port  # where a live bulkmail may listen: a redirect URI is registered for it
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.users_file = root / "users.json"
        self.users: dict[str, dict[str, Any]] = {}

    def set_user(self, username: str, password: str, **claims: Any) -> None:
        """Add or change a user; the provider reads the file at each sign-in."""
        self.users[username] = {"password": password, "claims": claims}
        self.users_file.write_text(json.dumps(self.users))

    def start(self) -> Self:
        node = shutil.which("node")
        if node is None or not (FOLDER / "node_modules" / "oidc-provider").is_dir():
            raise RuntimeError(
                f"the test identity provider is not installed: run `npm ci` in {FOLDER} (scripts/test does)"
            )
        self.users_file.write_text(json.dumps(self.users))
        config = {
            "port": self.port,
            "issuer": self.issuer,
            "users_file": str(self.users_file),
            "clients": [{"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "redirect_uris": self.redirect_uris}],
        }
        (self.root / "config.json").write_text(json.dumps(config))
        self.spawn([node, str(FOLDER / "provider.mjs"), str(self.root / "config.json")], LOG)
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{self.issuer}/.well-known/openid-configuration", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if (ended := self.ended(LOG)) is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the test identity provider did not start: {ended or 'no answer'}")
            time.sleep(0.1)

    def log(self) -> str:
        return (self.root / LOG).read_text()


def sign_in_at_provider(authorization_url: str, username: str, password: str, back_to: str) -> str:
    """What a browser does at the provider, without one: follow its redirects to the login form, fill it in,
    and follow on until it sends the browser back to `back_to` (bulkmail's callback); returns that URL."""
    with httpx.Client(timeout=10) as http:
        r = http.get(authorization_url)
        for _ in range(10):
            location = r.headers.get("location")
            if location and location.startswith(back_to):
                return location
            if location:
                r = http.get(urljoin(str(r.url), location))
                continue
            action = re.search(r'<form method="post" action="([^"]+)"', r.text)
            if action is None:
                raise AssertionError(f"no login form at the provider: {r.status_code} {r.text[:300]}")
            r = http.post(urljoin(str(r.url), action.group(1)), data={"username": username, "password": password})
            if r.status_code == 401:
                raise AssertionError("the provider refused the password")
        raise AssertionError("the provider never sent the browser back")
