"""The users page's rules: list the users and the open invitations, change a role, deactivate (which signs
the user out everywhere at once) and reactivate, reset a lost second factor. There is always at least one
active administrator."""

from typing import Any, Literal

from sqlalchemy import Engine, func, select
from sqlmodel import Session, col

from app.i18n import gettext as _
from app.keyset import after_id
from app.models import User, UserInvite, utcnow
from app.role_names import ROLES
from app.users.roles import totp_required
from app.users.sessions import end_all_sessions
from app.users.totp import turn_off


class UserChangeRefused(ValueError):
    """The change would break a rule (e.g. leave no administrator); the message says which."""


def users_by_id(cursor: str | None) -> Any:
    return after_id(select(User), User.id, cursor)


def open_invites(session: Session) -> list[UserInvite]:
    """Invitations not used and not expired, newest first (few: they expire within days)."""
    return list(
        session.execute(
            select(UserInvite)
            .where(col(UserInvite.used_at).is_(None), col(UserInvite.expires_at) > utcnow())
            .order_by(col(UserInvite.id).desc())
            .limit(100)
        )
        .scalars()
        .all()
    )


def _get(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise LookupError(_("there is no user %(id)s", id=user_id))
    return user


def _other_active_admins(session: Session, user_id: int) -> int:
    return int(
        session.execute(
            select(func.count())
            .select_from(User)
            .where(col(User.role) == "admin", col(User.deactivated_at).is_(None), col(User.id) != user_id)
        ).scalar_one()
    )


def change_role(session: Session, user_id: int, role: str) -> User:
    """The caller commits. The new role applies from the user's next request."""
    if role not in ROLES:
        raise UserChangeRefused(_("role: choose one of %(choices)s", choices=", ".join(ROLES)))
    user = _get(session, user_id)
    if user.role == "admin" and role != "admin" and not _other_active_admins(session, user_id):
        raise UserChangeRefused(
            _("%(email)s is the only active administrator: make another one first", email=user.email)
        )
    user.role = role
    session.add(user)
    session.flush()
    return user


def deactivate(session: Session, user_id: int, by_user_id: int) -> User:
    """The user can no longer sign in, and every session of theirs ends now. The caller commits."""
    user = _get(session, user_id)
    if user_id == by_user_id:
        raise UserChangeRefused(_("you cannot deactivate yourself"))
    if user.role == "admin" and not _other_active_admins(session, user_id):
        raise UserChangeRefused(_("%(email)s is the only active administrator", email=user.email))
    if user.deactivated_at is None:
        user.deactivated_at = utcnow()
        session.add(user)
    end_all_sessions(session, user_id)
    session.flush()
    return user


def reactivate(session: Session, user_id: int) -> User:
    user = _get(session, user_id)
    user.deactivated_at = None
    user.failed_logins, user.locked_until = 0, None
    session.add(user)
    session.flush()
    return user


def reset_second_factor(session: Session, user_id: int) -> User:
    """For a lost phone: the second factor goes, and so do the user's sessions; if their role requires
    one, they enrol again at their next sign-in. The caller commits."""
    user = _get(session, user_id)
    turn_off(session, user_id)
    end_all_sessions(session, user_id)
    session.flush()
    return user


SignInStep = Literal["done", "code", "enrol"]


def sign_in_step(engine: Engine, user_id: int) -> SignInStep:
    """After the password: `code` when the user has a second factor, `enrol` when their role requires one
    they have not set up yet, else `done`."""
    with Session(engine) as session:
        user = _get(session, user_id)
        if user.totp_secret is not None:
            return "code"
        return "enrol" if totp_required(session, user.role) else "done"
