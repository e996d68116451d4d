"""Sign-in through the organisation's identity provider: OpenID Connect's authorization code flow with PKCE
(Authlib), beside passwords.

`start` makes the provider's authorization URL and what the browser's signed session keeps until the
browser comes back (state, nonce, PKCE verifier, where to go after, until when). `finish` checks the answer
against it — the state, the provider's `iss` where it sends one, the code exchanged with the verifier and the
client secret, the ID token's signature, issuer, audience, expiry and nonce — and then decides who signs in:

* who: the provider's (issuer, `sub`). A user seen before is found by it, whatever their address is now.
  Otherwise an account with the same e-mail address is linked to that identity, but only when the provider
  says the address is verified (`email_verified: true`): an address alone would let whoever can set it at
  the provider take the account. A linked account keeps its password. Otherwise a new account without a
  password is made (`oidc_create_users`), or the sign-in is refused.
* the role: mapped from the claim (`oidc_roles_claim`, looked for in the ID token, then at the userinfo
  endpoint) at every sign-in through the provider; of several mapped values the highest role wins. A user
  whose claim maps to no role is refused, and signed out of every browser: the provider took their access.

Every sign-in and every refusal goes to the audit log. The client secret goes to the provider's token
endpoint and nowhere else: never into a page, the audit log or a log line."""

import hmac
import importlib
import importlib.util
import logging
import re
import threading
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from authlib.common.errors import AuthlibBaseError
from authlib.deprecate import AuthlibDeprecationWarning
from authlib.integrations.base_client import BaseApp, OAuth2Mixin, OpenIDMixin
from joserfc.errors import JoseError
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from app.addresses import InvalidAddress, normalise
from app.i18n import gettext as _
from app.logs import keep_out
from app.models import User
from app.role_names import ROLES, Role
from app.settings import Settings
from app.users.accounts import UserInvalid, create_user, user_by_email
from app.users.audit import ANONYMOUS, Actor, record
from app.users.sessions import end_all_sessions

with warnings.catch_warnings():
    # Authlib talks to the provider through httpx2 where it is installed, else through httpx (bulkmail's
    # HTTP client) with a deprecation notice that would be a line on stderr, outside the log, at every start
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import OAuth2Client

# the failures to reach the provider, of whichever of the two Authlib uses
_HTTP_ERRORS: tuple[type[Exception], ...] = tuple(
    importlib.import_module(name).HTTPError for name in ("httpx", "httpx2") if importlib.util.find_spec(name)
)

log = logging.getLogger(__name__)

CALLBACK_PATH = "/login/oidc/callback"
SESSION_KEY = "oidc"  # the pending sign-in in the browser's signed session
ROUTE = f"GET {CALLBACK_PATH}"
PENDING_SECONDS = 600  # from the redirect to the provider until the browser is back
METADATA_SECONDS = 3600  # the discovery document is read again after this long
TIMEOUT_SECONDS = 10.0  # each request to the provider
MAX_CLAIM_VALUES = 1000  # of the roles claim; the audit log keeps the first AUDITED_VALUES
AUDITED_VALUES = 20
_ERROR_CODE = re.compile(r"^[a-z_]{1,40}$")
_ENDPOINTS = ("authorization_endpoint", "token_endpoint", "jwks_uri")  # what the flow cannot do without


class _Client(OAuth2Mixin, OpenIDMixin, BaseApp):
    """Authlib's OpenID Connect client over httpx, without a web framework: the flow's state is kept by the
    caller (in the browser's signed session), not by Authlib."""

    client_cls = OAuth2Client


class SignInRefused(Exception):
    """The sign-in through the provider did not happen; `message` says why, for the page."""

    def __init__(
        self, reason: str, message: str, detail: dict[str, Any] | None = None, actor: Actor = ANONYMOUS
    ) -> None:
        self.reason, self.message, self.detail, self.actor = reason, message, detail or {}, actor
        super().__init__(f"{reason}: {message}")


def configured(settings: Settings) -> bool:
    return bool(settings.oidc_issuer)


def provider_name(settings: Settings) -> str:
    """What the sign-in button calls the provider."""
    return settings.oidc_name or urlsplit(settings.oidc_issuer).hostname or settings.oidc_issuer


def callback_url(settings: Settings) -> str:
    """The redirect URI to register at the provider."""
    return settings.base_url.rstrip("/") + CALLBACK_PATH


_cache: dict[tuple[str, ...], tuple[float, _Client]] = {}
_cache_lock = threading.Lock()


def _client(settings: Settings) -> _Client:
    """The client of these settings, with the discovery document and keys it has read (for an hour)."""
    secret = settings.oidc_client_secret.get_secret_value() if settings.oidc_client_secret else ""
    keep_out(secret)  # whoever made these settings: the secret is *** in any line this process writes
    key = (settings.oidc_issuer, settings.oidc_client_id, secret, settings.oidc_scopes)
    now = time.monotonic()
    with _cache_lock:
        found = _cache.get(key)
        if found is not None and now - found[0] < METADATA_SECONDS:
            return found[1]
        client = _Client(
            framework=None,
            name="oidc",
            client_id=settings.oidc_client_id,
            client_secret=secret,
            server_metadata_url=settings.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration",
            client_kwargs={"scope": settings.oidc_scopes, "code_challenge_method": "S256", "timeout": TIMEOUT_SECONDS},
        )
        _cache.clear()  # one provider at a time: settings changed, the old client goes
        _cache[key] = (now, client)
        return client


def _unreachable(settings: Settings, exc: Exception) -> SignInRefused:
    # the exception's class only: a provider's error page or a URL with a code is no line for the log
    log.warning("identity provider %s: %s", settings.oidc_issuer, type(exc).__name__)
    return SignInRefused(
        "unreachable",
        _(
            "%(name)s cannot be reached now: try again in a minute, or sign in with your password",
            name=provider_name(settings),
        ),
        {"problem": type(exc).__name__},
    )


def _metadata(settings: Settings, client: _Client) -> dict[str, Any]:
    """The provider's discovery document; its issuer must be the one configured (OpenID Connect Discovery 4.3)."""
    try:
        metadata: dict[str, Any] = client.load_server_metadata()
    except _HTTP_ERRORS + (ValueError,) as exc:
        raise _unreachable(settings, exc) from None
    if str(metadata.get("issuer", "")).rstrip("/") != settings.oidc_issuer.rstrip("/"):
        problem = "its discovery document names another issuer"
    elif missing := [k for k in _ENDPOINTS if not isinstance(metadata.get(k), str)]:
        problem = f"its discovery document has no {', '.join(missing)}"
    else:
        return metadata
    log.warning("identity provider %s: %s", settings.oidc_issuer, problem)
    raise SignInRefused(
        "issuer",
        _("%(name)s is not set up right: ask an administrator", name=provider_name(settings)),
        {"problem": problem},
    )


@dataclass(frozen=True)
class Start:
    url: str  # the provider's authorization endpoint with this sign-in's parameters
    pending: dict[str, Any] = field(repr=False)  # for the browser's signed session, until it is back


def start(settings: Settings, target: str, now: float | None = None) -> Start:
    """Begin a sign-in through the provider. Raises SignInRefused when it cannot be reached."""
    client = _client(settings)
    _metadata(settings, client)
    try:
        made = client.create_authorization_url(redirect_uri=callback_url(settings))
    except _HTTP_ERRORS + (RuntimeError,) as exc:
        raise _unreachable(settings, exc) from None
    until = (now if now is not None else time.time()) + PENDING_SECONDS
    pending = {
        "state": made["state"],
        "nonce": made["nonce"],
        "verifier": made["code_verifier"],
        "next": target,
        "until": until,
    }
    return Start(made["url"], pending)


@dataclass(frozen=True)
class SignedIn:
    user_id: int
    email: str
    role: str
    target: str  # where the browser was going before it signed in


def finish(
    engine: Engine, settings: Settings, pending: Any, params: Mapping[str, str], now: float | None = None
) -> SignedIn:
    """Complete the sign-in the browser comes back with (`pending` from its session, `params` from the
    callback's query). Records the sign-in or the refusal in the audit log. Raises SignInRefused."""
    try:
        target, claims = _verified_claims(settings, pending, params, now if now is not None else time.time())
        signed_in, detail = _sign_in(engine, settings, claims, target)
    except SignInRefused as refused:
        actor = refused.actor
        object_id = str(actor.id) if actor.id is not None else None
        detail = {"reason": refused.reason, **refused.detail}
        record(engine, actor, "login.oidc.refused", ROUTE, "user" if object_id else None, object_id, 403, detail)
        raise
    actor = Actor("user", signed_in.user_id, signed_in.email)
    record(engine, actor, "login.oidc", ROUTE, "user", str(signed_in.user_id), 303, detail)
    return signed_in


def _verified_claims(
    settings: Settings, pending: Any, params: Mapping[str, str], now: float
) -> tuple[str, dict[str, Any]]:
    """The state matched, the code exchanged, the ID token checked: its claims (with the userinfo
    endpoint's where the roles claim or the address is not in it)."""
    name = provider_name(settings)
    if not isinstance(pending, dict) or not all(
        isinstance(pending.get(k), str) for k in ("state", "nonce", "verifier")
    ):
        raise SignInRefused("state", _("this sign-in was not started in this browser: sign in again"))
    if not isinstance(pending.get("until"), int | float) or pending["until"] < now:
        raise SignInRefused("expired", _("the time for signing in at %(name)s ran out: sign in again", name=name))
    if not hmac.compare_digest(pending["state"].encode(), params.get("state", "").encode()):
        raise SignInRefused(
            "state", _("this answer from %(name)s belongs to another sign-in: sign in again", name=name)
        )
    if error := params.get("error"):  # an error code of RFC 6749 4.1.2.1, or "other": no text from a URL kept
        code = error if _ERROR_CODE.match(error) else "other"
        raise SignInRefused("provider", _("%(name)s did not sign you in: sign in again", name=name), {"error": code})
    client = _client(settings)
    metadata = _metadata(settings, client)
    if "iss" in params and params["iss"] != metadata["issuer"]:  # RFC 9207: an answer from another provider
        raise SignInRefused("issuer", _("this answer does not come from %(name)s: sign in again", name=name))
    if not params.get("code"):
        raise SignInRefused("code", _("%(name)s sent no authorization code: sign in again", name=name))
    try:
        token = client.fetch_access_token(
            redirect_uri=callback_url(settings), code=params["code"], code_verifier=pending["verifier"]
        )
        id_token = client.parse_id_token(token, nonce=pending["nonce"])
    except _HTTP_ERRORS as exc:
        raise _unreachable(settings, exc) from None
    except (AuthlibBaseError, JoseError, ValueError, RuntimeError) as exc:
        raise _did_not_check_out("token", name, exc) from None
    if id_token is None:
        raise SignInRefused("token", _("%(name)s sent no identity token: sign in again", name=name))
    claims = dict(id_token)
    if (_path(claims, settings.oidc_roles_claim) is None or "email" not in claims) and metadata.get(
        "userinfo_endpoint"
    ):
        try:
            info = client.userinfo(token=token)
        except _HTTP_ERRORS as exc:
            raise _unreachable(settings, exc) from None
        except (AuthlibBaseError, ValueError) as exc:
            raise _did_not_check_out("userinfo", name, exc) from None
        if info.get("sub") != claims.get("sub"):  # OpenID Connect Core 5.3.2
            raise SignInRefused("userinfo", _("%(name)s's answer did not check out: sign in again", name=name))
        claims = {**info, **claims}
    target = pending.get("next")
    return (target if isinstance(target, str) else "/"), claims


def _did_not_check_out(reason: str, name: str, exc: Exception) -> SignInRefused:
    """The code exchange, the ID token or the userinfo answer failed a check: which one (an error code such as
    invalid_grant or invalid_claim, and the claim) for the audit log, never the exception's text."""
    error = str(getattr(exc, "error", "") or "")
    problem = {"problem": error if _ERROR_CODE.match(error) else type(exc).__name__}
    claim = getattr(exc, "claim", None) or getattr(exc, "claim_name", None)
    if isinstance(claim, str) and _ERROR_CODE.match(claim):
        problem["claim"] = claim
    return SignInRefused(reason, _("%(name)s's answer did not check out: sign in again", name=name), problem)


def _path(claims: Mapping[str, Any], name: str) -> Any:
    value: Any = claims
    for part in name.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def claim_values(claims: Mapping[str, Any], name: str) -> list[str]:
    """The values of the roles claim: a list of strings, or one string."""
    value = _path(claims, name)
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value[:MAX_CLAIM_VALUES] if isinstance(v, str)]
    return []


def mapped_role(values: list[str], mapping: Mapping[str, str]) -> Role | None:
    """The highest role any of the values maps to; None when none maps to one."""
    found = {mapping[v] for v in values if v in mapping}
    return next((role for role in ROLES if role in found), None)


def _by_identity(session: Session, issuer: str, subject: str) -> User | None:
    return (
        session.execute(select(User).where(col(User.oidc_issuer) == issuer, col(User.oidc_subject) == subject))
        .scalars()
        .first()
    )


def _sign_in(
    engine: Engine, settings: Settings, claims: dict[str, Any], target: str
) -> tuple[SignedIn, dict[str, Any]]:
    name = provider_name(settings)
    issuer, subject = settings.oidc_issuer, claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise SignInRefused("token", _("%(name)s's answer did not check out: sign in again", name=name))
    email = claims.get("email") if isinstance(claims.get("email"), str) else None
    verified = claims.get("email_verified") is True
    values = claim_values(claims, settings.oidc_roles_claim)
    role = mapped_role(values, settings.oidc_roles)
    detail: dict[str, Any] = {}
    with Session(engine, expire_on_commit=False) as session:
        user = _by_identity(session, issuer, subject)
        if user is None and email:
            user = user_by_email(session, email)
            if user is not None:
                actor = Actor("user", user.id, user.email)
                if user.oidc_subject is not None and user.oidc_issuer == issuer:
                    raise SignInRefused(
                        "taken",
                        _("the account %(email)s signs in as someone else at %(name)s: ask an administrator", email=user.email, name=name),
                        actor=actor,
                    )  # fmt: skip
                if not verified:
                    raise SignInRefused(
                        "unverified",
                        _("an account %(email)s exists, and %(name)s does not say this address is verified: ask an administrator", email=user.email, name=name),
                        actor=actor,
                    )  # fmt: skip
                detail["account"] = "linked"
        actor = Actor("user", user.id, user.email) if user is not None else Actor("anonymous", None, email or subject)
        if user is not None and user.deactivated_at is not None:
            raise SignInRefused("deactivated", _("this account is deactivated: ask an administrator"), actor=actor)
        if role is None:
            if user is not None and user.oidc_subject is not None:
                end_all_sessions(session, user.id)  # type: ignore[arg-type]  # a stored user
                session.commit()
            raise SignInRefused(
                "no_role",
                _("your account at %(name)s has no role in bulkmail: ask an administrator to add you to its group", name=name),
                {"claim": values[:AUDITED_VALUES]},
                actor,
            )  # fmt: skip
        if user is None:
            user = _new_user(session, settings, email, role, actor)
            detail["account"] = "created"
        elif email and verified and email.lower() != user.email.lower():
            _follow_address(session, user, email)
        if user.role != role:  # the provider's groups changed since the last sign-in (or a linked account's)
            detail["was"], user.role = user.role, role
        user.oidc_issuer, user.oidc_subject = issuer, subject
        session.add(user)
        try:
            session.commit()
        except IntegrityError:  # the same person's first sign-in in two browsers at once
            raise SignInRefused(
                "busy", _("you are signing in elsewhere at this moment: try again"), actor=actor
            ) from None
        assert user.id is not None  # stored
        return SignedIn(user.id, user.email, role, target), {"role": role, **detail}


def _new_user(session: Session, settings: Settings, email: str | None, role: Role, actor: Actor) -> User:
    name = provider_name(settings)
    if not email:
        raise SignInRefused(
            "no_email",
            _("%(name)s did not tell bulkmail your e-mail address: ask an administrator", name=name),
            actor=actor,
        )
    if not settings.oidc_create_users:
        raise SignInRefused(
            "unknown", _("there is no bulkmail account for %(email)s: ask an administrator to invite you", email=email), actor=actor
        )  # fmt: skip
    try:
        return create_user(session, email, None, role)
    except UserInvalid as exc:
        raise SignInRefused(
            "no_email", _("bulkmail cannot use the address %(name)s gave: %(problem)s", name=name, problem=exc.detail), actor=actor
        ) from None  # fmt: skip


def _follow_address(session: Session, user: User, email: str) -> None:
    """The provider says the user's address changed (and is verified): take it, unless another account has it."""
    try:
        address = normalise(email).email
    except InvalidAddress:
        return
    if user_by_email(session, address) is None:
        user.email = address
