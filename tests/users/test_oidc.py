"""Sign-in through the organisation's identity provider, against a real OpenID Connect provider on loopback
(oidc-provider): the role comes from the groups claim at every sign-in, a user whose groups map to no role is
refused, an answer whose state or nonce is not this sign-in's is refused, an existing account is linked only
by a verified address, and the client secret is in no page, log line or audit entry."""

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, select
from sqlmodel import Session, col

from app.main import create_app
from app.models import AuditEntry, User
from app.settings import Settings
from app.users.accounts import NO_PASSWORD
from app.users.oidc import CALLBACK_PATH
from app.users.roles import set_totp_policy
from tests.support.network import free_port
from tests.support.oidc_provider import CLIENT_SECRET, OidcProvider, sign_in_at_provider
from tests.users.conftest import with_provider
from tests.users.support import PASSWORD, make_user_of
from tests.web.conftest import csrf_of

BACK_TO = f"http://testserver{CALLBACK_PATH}"
ALICE_PASSWORD = "alice at the provider"


@contextmanager
def bulkmail(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


def _begin(client: TestClient, target: str = "/") -> str:
    """Press "Sign in with Example Org": the provider's authorization URL."""
    r = client.get(f"/login/oidc?next={target}", follow_redirects=False)
    assert r.status_code == 303, r.text
    return r.headers["location"]


def _with_param(url: str, name: str, value: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query[name] = value
    return urlunsplit(parts._replace(query=urlencode(query)))


def sign_in_through(client: TestClient, username: str = "alice", password: str = ALICE_PASSWORD, target: str = "/"):  # type: ignore[no-untyped-def]
    """The whole round: bulkmail, the provider's login form, back to bulkmail's callback (its answer)."""
    back = sign_in_at_provider(_begin(client, target), username, password, BACK_TO)
    return client.get(back.removeprefix("http://testserver"), follow_redirects=False)


def _user(engine: Engine, email: str) -> User | None:
    with Session(engine) as s:
        return s.execute(select(User).where(col(User.email) == email)).scalars().first()


def _audit(engine: Engine) -> list[tuple[str, str, dict | None]]:  # type: ignore[type-arg]
    with Session(engine) as s:
        rows = s.execute(select(AuditEntry).order_by(col(AuditEntry.id))).scalars().all()
        return [(r.action, r.actor, r.detail) for r in rows]


def test_the_login_page_offers_the_provider_and_a_user_signs_in_with_the_role_of_their_group(
    settings: Settings, engine: Engine, provider: OidcProvider
) -> None:
    provider.set_user("alice", ALICE_PASSWORD, email="alice@example.test", email_verified=True,
                      groups=["staff", "marketing"])  # fmt: skip
    with bulkmail(with_provider(settings, provider)) as client:
        page = client.get("/login").text
        assert "Sign in with Example Org" in page
        authorization = _begin(client, "/lists")
        query = dict(parse_qsl(urlsplit(authorization).query))
        assert authorization.startswith(f"{provider.issuer}/auth?")
        assert query["code_challenge_method"] == "S256" and query["code_challenge"] and query["nonce"]
        assert query["redirect_uri"] == BACK_TO and query["client_id"] == "bulkmail"

        back = sign_in_at_provider(authorization, "alice", ALICE_PASSWORD, BACK_TO)
        r = client.get(back.removeprefix("http://testserver"), follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/lists"
        assert client.get("/lists").status_code == 200
        assert client.get("/settings").status_code == 403  # a marketer's
        # an account the provider made has no password: none signs in to it
        other = TestClient(client.app)
        token = csrf_of(other.get("/login").text)
        r = other.post("/login", data={"email": "alice@example.test", "password": ALICE_PASSWORD, "csrf_token": token})
        assert r.status_code == 400 and "wrong e-mail address or password" in r.text
    alice = _user(engine, "alice@example.test")
    assert alice is not None and alice.role == "marketer"
    assert (alice.oidc_issuer, alice.oidc_subject, alice.password_hash) == (provider.issuer, "alice", NO_PASSWORD)
    assert _audit(engine)[-1] == ("login.oidc", "alice@example.test", {"role": "marketer", "account": "created"})


def test_without_the_provider_the_login_page_has_no_button_and_its_routes_say_so(anon_client: TestClient) -> None:
    assert "Sign in with" not in anon_client.get("/login").text
    r = anon_client.get("/login/oidc")
    assert r.status_code == 404 and "not set up here" in r.text


def test_a_role_changed_at_the_provider_applies_at_the_next_sign_in_and_no_role_is_refused(
    settings: Settings, engine: Engine, provider: OidcProvider
) -> None:
    provider.set_user("alice", ALICE_PASSWORD, email="alice@example.test", email_verified=True, groups=["readers"])
    with bulkmail(with_provider(settings, provider)) as client:
        assert sign_in_through(client).status_code == 303
        assert _user(engine, "alice@example.test").role == "viewer"  # type: ignore[union-attr]
        other = TestClient(client.app)
        provider.set_user("alice", ALICE_PASSWORD, email="alice@example.test", email_verified=True,
                          groups=["readers", "bulkmail-admins"])  # fmt: skip
        assert sign_in_through(other).status_code == 303
        assert _user(engine, "alice@example.test").role == "admin"  # type: ignore[union-attr]  # the highest
        assert other.get("/settings").status_code == 200
        assert "signs in through the identity provider" in other.get("/users").text

        provider.set_user("alice", ALICE_PASSWORD, email="alice@example.test", email_verified=True, groups=["staff"])
        refused = sign_in_through(TestClient(client.app))
        assert refused.status_code == 403
        assert "has no role in bulkmail" in refused.text and "Back to sign-in" in refused.text
        # the provider took her access: her browsers are signed out too
        assert other.get("/settings", follow_redirects=False).headers["location"].startswith("/login")
        assert client.get("/", follow_redirects=False).headers["location"].startswith("/login")
    logins = [(action, detail) for action, actor, detail in _audit(engine) if actor == "alice@example.test"]
    assert logins == [
        ("login.oidc", {"role": "viewer", "account": "created"}),
        ("login.oidc", {"role": "admin", "was": "viewer"}),
        ("login.oidc.refused", {"reason": "no_role", "claim": ["staff"]}),
    ]


def test_a_first_sign_in_whose_groups_map_to_no_role_makes_no_account(
    settings: Settings, engine: Engine, provider: OidcProvider
) -> None:
    provider.set_user("bob", "bob at the provider", email="bob@example.test", email_verified=True, groups=[])
    with bulkmail(with_provider(settings, provider)) as client:
        r = sign_in_through(client, "bob", "bob at the provider")
        assert r.status_code == 403 and "has no role in bulkmail" in r.text
        assert client.get("/", follow_redirects=False).headers["location"].startswith("/login")
    assert _user(engine, "bob@example.test") is None
    assert _audit(engine)[-1] == ("login.oidc.refused", "bob@example.test", {"reason": "no_role", "claim": []})


def test_an_answer_with_another_state_is_refused_and_the_sign_in_is_used_up(
    settings: Settings, engine: Engine, provider: OidcProvider
) -> None:
    provider.set_user("alice", ALICE_PASSWORD, email="alice@example.test", email_verified=True, groups=["marketing"])
    with bulkmail(with_provider(settings, provider)) as client:
        back = sign_in_at_provider(_begin(client), "alice", ALICE_PASSWORD, BACK_TO)
        tampered = _with_param(back, "state", "state-of-another-sign-in")
        r = client.get(tampered.removeprefix("http://testserver"), follow_redirects=False)
        assert r.status_code == 403 and "belongs to another sign-in" in r.text
        # the genuine answer after it finds nothing to complete: a sign-in is tried once
        r = client.get(back.removeprefix("http://testserver"), follow_redirects=False)
        assert r.status_code == 403 and "not started in this browser" in r.text
        # nor does an answer reach a browser that never started a sign-in
        stranger = TestClient(client.app)
        back = sign_in_at_provider(_begin(client), "alice", ALICE_PASSWORD, BACK_TO)
        assert stranger.get(back.removeprefix("http://testserver"), follow_redirects=False).status_code == 403
        assert client.get("/", follow_redirects=False).headers["location"].startswith("/login")
    assert _user(engine, "alice@example.test") is None
    reasons = [detail["reason"] for action, _, detail in _audit(engine) if action == "login.oidc.refused"]  # type: ignore[index]
    assert reasons == ["state", "state", "state"]


def test_an_identity_token_with_another_nonce_is_refused(
    settings: Settings, engine: Engine, provider: OidcProvider
) -> None:
    """A code obtained with this sign-in's state and PKCE challenge but another nonce (a code injected
    from an authorization request someone else made): the ID token's nonce gives it away."""
    provider.set_user("alice", ALICE_PASSWORD, email="alice@example.test", email_verified=True, groups=["marketing"])
    with bulkmail(with_provider(settings, provider)) as client:
        authorization = _with_param(_begin(client), "nonce", "a-nonce-bulkmail-never-made")
        back = sign_in_at_provider(authorization, "alice", ALICE_PASSWORD, BACK_TO)
        r = client.get(back.removeprefix("http://testserver"), follow_redirects=False)
        assert r.status_code == 403 and "answer did not check out" in r.text
        assert client.get("/", follow_redirects=False).headers["location"].startswith("/login")
    assert _user(engine, "alice@example.test") is None
    assert _audit(engine)[-1] == (
        "login.oidc.refused",
        "",
        {"reason": "token", "problem": "invalid_claim", "claim": "nonce"},
    )


def test_an_existing_account_is_linked_by_a_verified_address_only(
    settings: Settings, engine: Engine, provider: OidcProvider
) -> None:
    make_user_of(engine, "viewer", "carol@example.test")
    provider.set_user("carol", "carol at the provider", email="Carol@example.test", email_verified=False,
                      groups=["marketing"])  # fmt: skip
    with bulkmail(with_provider(settings, provider)) as client:
        r = sign_in_through(client, "carol", "carol at the provider")
        assert r.status_code == 403 and "does not say this address is verified" in r.text
        assert _user(engine, "carol@example.test").oidc_subject is None  # type: ignore[union-attr]

        provider.set_user("carol", "carol at the provider", email="Carol@example.test", email_verified=True,
                          groups=["marketing"])  # fmt: skip
        assert sign_in_through(client, "carol", "carol at the provider").status_code == 303
        carol = _user(engine, "carol@example.test")
        assert carol is not None and (carol.role, carol.oidc_subject) == ("marketer", "carol")
        # her password still works, with the role the provider gave at her last sign-in there
        password = TestClient(client.app)
        token = csrf_of(password.get("/login").text)
        r = password.post("/login", data={"email": "carol@example.test", "password": PASSWORD, "csrf_token": token},
                          follow_redirects=False)  # fmt: skip
        assert r.status_code == 303
    assert _audit(engine)[-2][2] == {"role": "marketer", "was": "viewer", "account": "linked"}


def test_an_unknown_user_is_refused_when_accounts_are_not_made_at_sign_in(
    settings: Settings, engine: Engine, provider: OidcProvider
) -> None:
    provider.set_user("dave", "dave at the provider", email="dave@example.test", email_verified=True,
                      groups=["marketing"])  # fmt: skip
    with bulkmail(with_provider(settings, provider, oidc_create_users=False)) as client:
        r = sign_in_through(client, "dave", "dave at the provider")
        assert r.status_code == 403 and "no bulkmail account for dave@example.test" in r.text
    assert _user(engine, "dave@example.test") is None
    assert _audit(engine)[-1][2] == {"reason": "unknown"}


def test_the_client_secret_is_in_no_page_log_line_or_audit_entry(
    settings: Settings, engine: Engine, provider: OidcProvider, captured: io.StringIO
) -> None:
    provider.set_user(
        "alice", ALICE_PASSWORD, email="alice@example.test", email_verified=True, groups=["bulkmail-admins"]
    )
    pages = []
    with bulkmail(with_provider(settings, provider)) as client:
        pages.append(client.get("/login").text)
        r = sign_in_through(client)
        pages += [r.text, client.get("/").text, client.get("/settings").text, client.get("/audit").text]
        pages.append(client.get("/openapi.json").text)
    wrong = "a-wrong-client-secret-4711"
    with bulkmail(with_provider(settings, provider, oidc_client_secret=SecretStr(wrong))) as client:
        r = sign_in_through(client)
        assert r.status_code == 403 and "answer did not check out" in r.text  # the provider refused the client
        pages.append(r.text)
    logging.getLogger("app.users.oidc").warning("a careless line with %s in it", CLIENT_SECRET)
    everything = " ".join(pages) + captured.getvalue() + repr(_audit(engine))
    assert CLIENT_SECRET not in everything and wrong not in everything
    assert "a careless line with *** in it" in captured.getvalue()
    assert _audit(engine)[-1][2] == {"reason": "token", "problem": "invalid_client"}


def test_settings_name_what_the_provider_sign_in_still_needs() -> None:
    with pytest.raises(ValueError, match="BULKMAIL_OIDC_CLIENT_SECRET, BULKMAIL_OIDC_ROLES"):
        Settings(_env_file=None, oidc_issuer="https://login.example.org", oidc_client_id="bulkmail")
    with pytest.raises(ValueError, match="oidc_roles: owner is not a role"):
        Settings(_env_file=None, oidc_issuer="https://login.example.org", oidc_client_id="bulkmail",
                 oidc_client_secret="s3cret-value", oidc_roles={"staff": "owner"})  # fmt: skip


def test_a_role_that_requires_a_second_factor_asks_for_it_after_the_provider_too(
    settings: Settings, engine: Engine, provider: OidcProvider
) -> None:
    with Session(engine) as s:
        set_totp_policy(s, {"marketer"})
        s.commit()
    provider.set_user("alice", ALICE_PASSWORD, email="alice@example.test", email_verified=True, groups=["marketing"])
    with bulkmail(with_provider(settings, provider)) as client:
        r = sign_in_through(client)
        assert r.status_code == 303 and r.headers["location"] == "/login/enrol"
        assert client.get("/", follow_redirects=False).headers["location"].startswith("/login")


def test_an_address_changed_at_the_provider_follows_and_the_identity_stays(
    settings: Settings, engine: Engine, provider: OidcProvider
) -> None:
    provider.set_user("alice", ALICE_PASSWORD, email="alice@example.test", email_verified=True, groups=["marketing"])
    make_user_of(engine, "viewer", "taken@example.test")
    with bulkmail(with_provider(settings, provider)) as client:
        assert sign_in_through(client).status_code == 303
        provider.set_user("alice", ALICE_PASSWORD, email="alice.smith@example.test", email_verified=True,
                          groups=["marketing"])  # fmt: skip
        assert sign_in_through(client).status_code == 303
        assert _user(engine, "alice.smith@example.test").oidc_subject == "alice"  # type: ignore[union-attr]
        # an address another account has stays with that account: she keeps hers
        provider.set_user("alice", ALICE_PASSWORD, email="taken@example.test", email_verified=True,
                          groups=["marketing"])  # fmt: skip
        assert sign_in_through(client).status_code == 303
        assert _user(engine, "alice.smith@example.test").oidc_subject == "alice"  # type: ignore[union-attr]
        assert _user(engine, "taken@example.test").oidc_subject is None  # type: ignore[union-attr]


def test_a_provider_that_cannot_be_reached_gets_a_page_that_says_so(settings: Settings, captured: io.StringIO) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    s = settings.model_copy(update={"oidc_issuer": nowhere, "oidc_client_id": "bulkmail",
                                    "oidc_client_secret": SecretStr(CLIENT_SECRET), "oidc_roles": {"staff": "viewer"}})  # fmt: skip
    with bulkmail(s) as client:
        r = client.get("/login/oidc")
        assert r.status_code == 502 and "cannot be reached now" in r.text and "Traceback" not in r.text
    assert f"identity provider {nowhere}: ConnectError" in captured.getvalue()


def test_a_sign_in_the_provider_turned_down_and_an_account_tied_to_someone_else_are_refused(
    settings: Settings, engine: Engine, provider: OidcProvider
) -> None:
    provider.set_user("alice", ALICE_PASSWORD, email="alice@example.test", email_verified=True, groups=["marketing"])
    provider.set_user("mallory", "mallory's", email="mallory@example.test", email_verified=True, groups=["marketing"])
    with bulkmail(with_provider(settings, provider)) as client:
        state = dict(parse_qsl(urlsplit(_begin(client)).query))["state"]
        r = client.get(f"{CALLBACK_PATH}?error=access_denied&state={state}", follow_redirects=False)
        assert r.status_code == 403 and "Example Org did not sign you in" in r.text

        assert sign_in_through(client).status_code == 303
        provider.set_user("mallory", "mallory's", email="alice@example.test", email_verified=True, groups=["marketing"])
        r = sign_in_through(TestClient(client.app), "mallory", "mallory's")
        assert r.status_code == 403 and "signs in as someone else at Example Org" in r.text
    assert _user(engine, "alice@example.test").oidc_subject == "alice"  # type: ignore[union-attr]
    refusals = [detail for action, _, detail in _audit(engine) if action == "login.oidc.refused"]
    assert refusals == [{"reason": "provider", "error": "access_denied"}, {"reason": "taken"}]


def test_a_provider_whose_discovery_document_names_another_issuer_is_not_trusted(
    settings: Settings, engine: Engine, provider: OidcProvider
) -> None:
    elsewhere = provider.issuer.replace("127.0.0.1", "localhost")  # the same server, another issuer name
    with bulkmail(with_provider(settings, provider, oidc_issuer=elsewhere)) as client:
        r = client.get("/login/oidc", follow_redirects=False)
        assert r.status_code == 502 and "Example Org is not set up right: ask an administrator" in r.text
