"""Roles: what each may do, and which must sign in with a second factor.

* admin: everything, and the settings, the users, the API keys and the audit log;
* marketer: lists, contacts, campaigns, bounces, suppressions (read and change);
* viewer: reads what a marketer reads, changes nothing.

The API keys keep their own scopes (read | write)."""

from sqlalchemy import select
from sqlmodel import Session, col

from app.i18n import N_, translate
from app.i18n import gettext as _
from app.i18n.labels import label
from app.models import RolePolicy
from app.role_names import ROLES

# what each role may do, as the role menus say it (translated where it is shown: role_choices)
LABELS: dict[str, str] = {
    "admin": N_("admin: settings, users, API keys, and everything a marketer does"),
    "marketer": N_("marketer: lists, contacts, campaigns, bounces, suppressions"),
    "viewer": N_("viewer: reads, changes nothing"),
}


def role_choices() -> list[tuple[str, str]]:
    """Each role and what it may do, in the current language, for a role menu."""
    return [(role, translate(LABELS[role])) for role in ROLES]


class Forbidden(PermissionError):
    """The user's role may not do this; the message says why."""


def may_write(role: str) -> bool:
    """Whether the role may change lists, contacts, campaigns, bounces and suppressions."""
    return role in ("admin", "marketer")


def may_administer(role: str) -> bool:
    """Whether the role may see and change the settings, the users, the API keys and the audit log."""
    return role == "admin"


def check_write(role: str) -> None:
    if not may_write(role):
        raise Forbidden(
            _("your role (%(role)s) may only read: ask an administrator for the marketer role", role=label(role))
        )


def check_administer(role: str) -> None:
    if not may_administer(role):
        raise Forbidden(
            _("your role (%(role)s) may not open the settings, users, API keys or audit log", role=label(role))
        )


def totp_required(session: Session, role: str) -> bool:
    row = session.get(RolePolicy, role)
    return bool(row and row.require_totp)


def totp_policy(session: Session) -> dict[str, bool]:
    """Role -> whether its users must use a second factor, for every role."""
    rows = session.execute(select(RolePolicy).where(col(RolePolicy.role).in_(ROLES))).scalars().all()
    found = {r.role: r.require_totp for r in rows}
    return {role: found.get(role, False) for role in ROLES}


def set_totp_policy(session: Session, required: set[str]) -> dict[str, bool]:
    """Require a second factor of exactly the `required` roles. The caller commits."""
    unknown = required - set(ROLES)
    if unknown:
        raise ValueError(_("require_totp: no role %(roles)s", roles=", ".join(sorted(unknown))))
    for role in ROLES:
        row = session.get(RolePolicy, role) or RolePolicy(role=role)
        row.require_totp = role in required
        session.add(row)
    session.flush()
    return totp_policy(session)
