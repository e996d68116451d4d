"""Web users: argon2 password hashes, sign-in with a growing lock-out after repeated failures, roles,
deactivation."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, func, select, text
from sqlmodel import Session, col

from app.addresses import InvalidAddress, normalise
from app.db import is_postgresql
from app.i18n import LANGUAGES, supported
from app.i18n import gettext as _
from app.models import User, utcnow
from app.role_names import ROLES, Role
from app.sending.schedule import zone_names

FREE_FAILURES = 5
FIRST_LOCK = timedelta(seconds=30)
MAX_LOCK = timedelta(hours=1)
MIN_PASSWORD = 10
# the hash of an account that signs in only through the identity provider: no password matches it
NO_PASSWORD = "!"

_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Verified against when the user does not exist, so an unknown address takes as long as a wrong
    password. Made on first use: a hash takes 64 MB and most of a second, which every `bulkmail`
    command (an import too) would otherwise pay at start."""
    return _hasher.hash("no such user: dummy password")


class UserInvalid(ValueError):
    def __init__(self, field: str, message: str) -> None:
        self.field, self.detail = field, message
        super().__init__(f"{field}: {message}")


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserInvalid("password", _("use at least %(count)s characters", count=MIN_PASSWORD))


def create_user(session: Session, email: str, password: str | None, role: Role = "admin") -> User:
    """The caller commits. Without a password (None) the user signs in only through the identity provider.
    Raises UserInvalid naming the field."""
    if role not in ROLES:
        raise UserInvalid("role", _("choose one of %(choices)s", choices=", ".join(ROLES)))
    try:
        address = normalise(email).email
    except InvalidAddress as exc:
        raise UserInvalid("email", str(exc)) from exc
    if password is not None:
        check_password(password)
    if user_by_email(session, address) is not None:
        raise UserInvalid("email", _("a user %(email)s already exists", email=address))
    user = User(email=address, password_hash=NO_PASSWORD if password is None else _hasher.hash(password), role=role)
    session.add(user)
    session.flush()
    return user


def set_language(session: Session, user_id: int, language: str) -> None:
    """The language of the user's pages ("" for the browser's); the caller commits."""
    if language and supported(language) != language:
        raise UserInvalid("language", _("choose one of %(choices)s", choices=", ".join(LANGUAGES)))
    user = session.get(User, user_id)
    if user is not None:
        user.language = language or None


def set_time_zone(session: Session, user_id: int, time_zone: str) -> None:
    """The IANA zone the user types and reads send times in ("" for UTC); the caller commits."""
    if time_zone and time_zone not in zone_names():
        raise UserInvalid(
            "time_zone", _("%(zone)s is not a time zone; choose one such as Europe/Berlin", zone=time_zone)
        )
    user = session.get(User, user_id)
    if user is not None:
        user.time_zone = time_zone or None


def user_by_email(session: Session, email: str) -> User | None:
    return session.execute(select(User).where(func.lower(User.email) == email.strip().lower())).scalars().first()


class FirstUserExists(LookupError):
    """The first-run page is gone: a user exists."""


def users_exist(engine: Engine) -> bool:
    with Session(engine) as session:
        return session.execute(select(col(User.id)).limit(1)).first() is not None


def create_first_admin(engine: Engine, email: str, password: str) -> User:
    """The first user, an administrator, only while there is none (raises FirstUserExists after that).
    Two tries at once make one user: SQLite's write lock and PostgreSQL's table lock serialise them."""
    with Session(engine, expire_on_commit=False) as session:
        if is_postgresql(engine):
            session.execute(text(f"LOCK TABLE {User.__tablename__} IN SHARE ROW EXCLUSIVE MODE"))
        if session.execute(select(col(User.id)).limit(1)).first() is not None:
            raise FirstUserExists(_("a user exists already: sign in"))
        user = create_user(session, email, password, role="admin")
        session.commit()
        return user


def lock_for(failures: int) -> timedelta:
    """30 s after the 5th failure in a row, doubling with each further failure, at most an hour."""
    if failures < FREE_FAILURES:
        return timedelta(0)
    return min(FIRST_LOCK * 2 ** (failures - FREE_FAILURES), MAX_LOCK)


@dataclass(frozen=True)
class SignIn:
    user_id: int | None
    error: str | None = None


def authenticate(engine: Engine, email: str, password: str, now: datetime | None = None) -> SignIn:
    """Check the password; count failures and lock the account for a while after too many."""
    now = now or utcnow()
    with Session(engine, expire_on_commit=False) as session:
        user = user_by_email(session, email)
        if user is None:
            _verify(_dummy_hash(), password)
            return SignIn(None, _("wrong e-mail address or password"))
        if user.locked_until is not None and user.locked_until > now:
            wait = int((user.locked_until - now).total_seconds()) + 1
            return SignIn(None, _("too many failed sign-ins: try again in %(seconds)s seconds", seconds=wait))
        if not _verify(user.password_hash, password):
            user.failed_logins += 1
            lock = lock_for(user.failed_logins)
            user.locked_until = now + lock if lock else None
            session.add(user)
            session.commit()
            if lock:
                return SignIn(
                    None,
                    _(
                        "wrong password; too many failed sign-ins: try again in %(seconds)s seconds",
                        seconds=int(lock.total_seconds()),
                    ),
                )
            return SignIn(None, _("wrong e-mail address or password"))
        if user.deactivated_at is not None:
            return SignIn(None, _("this account is deactivated: ask an administrator"))
        if user.failed_logins or user.locked_until or _hasher.check_needs_rehash(user.password_hash):
            if _hasher.check_needs_rehash(user.password_hash):
                user.password_hash = _hasher.hash(password)
            user.failed_logins, user.locked_until = 0, None
            session.add(user)
            session.commit()
        return SignIn(user.id)


def _verify(password_hash: str, password: str) -> bool:
    if password_hash == NO_PASSWORD:  # as long as a wrong password takes: no telling which accounts have none
        _verify(_dummy_hash(), password)
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
