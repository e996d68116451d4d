"""Users of the web pages: accounts and passwords, roles, invitations, sessions, the second factor, and the
audit log of every change."""

from app.users.accounts import (
    MIN_PASSWORD,
    FirstUserExists,
    SignIn,
    UserInvalid,
    authenticate,
    create_first_admin,
    create_user,
    lock_for,
    users_exist,
)

__all__ = [
    "MIN_PASSWORD",
    "FirstUserExists",
    "SignIn",
    "UserInvalid",
    "authenticate",
    "create_first_admin",
    "create_user",
    "lock_for",
    "users_exist",
]
