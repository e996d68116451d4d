"""Invitations: an administrator names an address, a role and the invitee's language; bulkmail mails a one-time
link that expires; the invitee chooses a password and is a user. Only the link token's hash is kept. The mail,
the invitation's page and the user's pages speak the language chosen (none: the installation's, then the
browser's)."""

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import Engine, select, update
from sqlmodel import Session, col

from app import i18n
from app.addresses import InvalidAddress, normalise
from app.i18n import LANGUAGES, supported
from app.i18n import gettext as _
from app.i18n.formats import when
from app.i18n.labels import label
from app.models import User, UserInvite, utcnow
from app.role_names import ROLES, Role
from app.sending.notice import NoticeNotSent, send_notice
from app.settings import Settings
from app.users.accounts import UserInvalid, check_password, create_user, user_by_email


class InviteInvalid(LookupError):
    """The link is unknown, used already, or expired; the message says which."""


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invite_url(settings: Settings, token: str) -> str:
    return f"{settings.base_url.rstrip('/')}/invite/{token}"


def invite(
    engine: Engine, settings: Settings, email: str, role: str, invited_by: User, language: str = ""
) -> UserInvite:
    """Record the invitation and mail the link in LANGUAGE ("": the installation's). Raises UserInvalid (naming
    the field) for bad input and NoticeNotSent when the relay does not take the mail (then no invitation is
    kept)."""
    try:
        address = normalise(email).email
    except InvalidAddress as exc:
        raise UserInvalid("email", str(exc)) from exc
    if role not in ROLES:
        raise UserInvalid("role", _("choose one of %(choices)s", choices=", ".join(ROLES)))
    if language and supported(language) != language:
        raise UserInvalid("language", _("choose one of %(choices)s", choices=", ".join(LANGUAGES)))
    token = secrets.token_urlsafe(32)
    now = utcnow()
    expires = now + timedelta(hours=settings.invite_valid_hours)
    with Session(engine, expire_on_commit=False) as session:
        if user_by_email(session, address) is not None:
            raise UserInvalid("email", _("a user %(email)s already exists", email=address))
        row = UserInvite(
            email=address,
            role=role,
            token_hash=_hash(token),
            invited_by=invited_by.id,
            created_at=now,
            expires_at=expires,
            language=language or None,
        )
        session.add(row)
        session.commit()
    with i18n.speaking(language, settings.default_language):
        subject = _("Your invitation to bulkmail")
        text = _(
            "%(inviter)s invites you to bulkmail as %(role)s.\n\nChoose your password here:\n\n  %(url)s\n\n"
            "The link works once, until %(expires)s.\nIf you did not expect this, ignore this message.\n",
            inviter=invited_by.email, role=label(role), url=invite_url(settings, token), expires=when(expires),
        )  # fmt: skip
    try:
        send_notice(settings, address, subject, text)
    except NoticeNotSent:
        with Session(engine) as session:
            gone = session.get(UserInvite, row.id)
            if gone is not None:
                session.delete(gone)
                session.commit()
        raise
    return row


def _usable(row: UserInvite | None, now: datetime) -> UserInvite:
    if row is None:
        raise InviteInvalid(_("this invitation link is not known: ask an administrator for a new one"))
    if row.used_at is not None:
        raise InviteInvalid(_("this invitation link was used already: sign in, or ask an administrator for a new one"))
    if row.expires_at <= now:
        raise InviteInvalid(_("this invitation link has expired: ask an administrator for a new one"))
    return row


def open_invite(engine: Engine, token: str, now: datetime | None = None) -> UserInvite:
    """The invitation a link carries, while it can be used. Raises InviteInvalid."""
    with Session(engine, expire_on_commit=False) as session:
        row = session.execute(select(UserInvite).where(col(UserInvite.token_hash) == _hash(token))).scalars().first()
        return _usable(row, now or utcnow())


def accept_invite(engine: Engine, token: str, password: str, now: datetime | None = None) -> User:
    """Make the user the invitation names, with the chosen password; the link is used up. Raises
    InviteInvalid or UserInvalid (naming the field)."""
    now = now or utcnow()
    check_password(password)
    with Session(engine, expire_on_commit=False) as session:
        row = _usable(
            session.execute(select(UserInvite).where(col(UserInvite.token_hash) == _hash(token))).scalars().first(), now
        )
        # the claim is one conditional update: two submissions at once make one user
        claimed = session.execute(
            update(UserInvite)
            .where(col(UserInvite.id) == row.id, col(UserInvite.used_at).is_(None))
            .values(used_at=now)
        )
        if not claimed.rowcount:  # type: ignore[attr-defined]
            raise InviteInvalid(_("this invitation link was used already: sign in"))
        role: Role = next((r for r in ROLES if r == row.role), "viewer")
        user = create_user(session, row.email, password, role=role)
        user.language = row.language  # the language the invitation spoke
        row.user_id = user.id
        session.add(row)
        session.commit()
        return user
