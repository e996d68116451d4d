"""A real OpenID Connect provider on loopback (oidc-provider) for the sign-in tests, and bulkmail's settings
that use it."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from app.settings import Settings
from app.users.oidc import CALLBACK_PATH
from tests.support.network import free_port
from tests.support.oidc_provider import CLIENT_ID, CLIENT_SECRET, OidcProvider

ROLE_MAP = {"bulkmail-admins": "admin", "marketing": "marketer", "readers": "viewer"}


@pytest.fixture
def provider(tmp_path: Path) -> Iterator[OidcProvider]:
    """The provider, with bulkmail's client registered for the test client's address and for a live server's
    (on `provider.live_port`)."""
    root = tmp_path / "provider"
    root.mkdir()
    live_port = free_port()
    uris = [f"http://testserver{CALLBACK_PATH}", f"http://127.0.0.1:{live_port}{CALLBACK_PATH}"]
    with OidcProvider(root, uris, live_port) as started:
        yield started


def with_provider(settings: Settings, provider: OidcProvider, **more: object) -> Settings:
    """`settings` signing in through `provider`, with the groups claim mapped by ROLE_MAP."""
    return settings.model_copy(
        update={
            "oidc_issuer": provider.issuer,
            "oidc_client_id": CLIENT_ID,
            "oidc_client_secret": SecretStr(CLIENT_SECRET),
            "oidc_name": "Example Org",
            "oidc_scopes": "openid email profile groups",
            "oidc_roles_claim": "groups",
            "oidc_roles": ROLE_MAP,
            **more,
        }
    )
