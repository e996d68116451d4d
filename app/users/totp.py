"""Two-factor sign-in with TOTP (RFC 6238, the authenticator apps' codes): enrolment with a QR code
drawn here as SVG (no third party sees the secret), recovery codes shown once and kept as SHA-256, and
a check that accepts each code once. The secret is kept sealed (app/sealed.py): the database alone does
not give anyone the codes."""

import hashlib
import hmac
import logging
import re
import secrets
import time
from datetime import datetime

import pyotp
import qrcode
import qrcode.image.svg
from sqlalchemy import Engine, delete, select
from sqlmodel import Session, col

from app.i18n import gettext as _
from app.models import RecoveryCode, User, utcnow
from app.sealed import SealBroken, seal, unseal
from app.settings import Settings
from app.users.accounts import lock_for

log = logging.getLogger(__name__)

ISSUER = "bulkmail"
RECOVERY_CODES = 10
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read off paper without mistakes
_DIGITS = re.compile(r"^\d{6}$")


class CodeInvalid(ValueError):
    """The code is wrong, used already, or not a code at all; the message says which, for the form."""


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The otpauth:// URI as an inline SVG QR code."""
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    text = image.to_string().decode()
    return text[text.index("<svg") :]


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def _normal(code: str) -> str:
    return re.sub(r"[\s-]", "", code).lower()


def _new_recovery_code() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"


def matching_step(secret: str, code: str, last_step: int | None, now: float | None = None) -> int | None:
    """The time step whose code `code` is (this one, or one either side for a clock that is a little off),
    if it is later than the last one used."""
    code = code.strip().replace(" ", "")
    if not _DIGITS.match(code):
        return None
    totp = pyotp.TOTP(secret)
    step_now = int((now if now is not None else time.time()) // totp.interval)
    for step in (step_now - 1, step_now, step_now + 1):
        if hmac.compare_digest(totp.generate_otp(step), code) and (last_step is None or step > last_step):
            return step
    return None


def enrol(engine: Engine, settings: Settings, user_id: int, secret: str, code: str) -> list[str]:
    """Turn the second factor on once the user proved their app has the secret; returns the recovery codes
    (the only time they are shown). Enrolling again replaces the secret and the codes."""
    step = matching_step(secret, code, None)
    if step is None:
        raise CodeInvalid(_("that code does not match: type the 6 digits your app shows now"))
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODES)]
    with Session(engine) as session:
        user = session.get(User, user_id)
        if user is None:
            raise CodeInvalid(_("no such user"))
        user.totp_secret, user.totp_last_step = seal(settings, secret), step
        session.add(user)
        session.execute(delete(RecoveryCode).where(col(RecoveryCode.user_id) == user_id))
        session.add_all(RecoveryCode(user_id=user_id, code_hash=_hash(_normal(c))) for c in codes)
        session.commit()
    return codes


def check_second_factor(
    engine: Engine, settings: Settings, user_id: int, code: str, now: datetime | None = None
) -> str:
    """Accept a current TOTP code or an unused recovery code, each only once; returns which ("totp" or
    "recovery code"). Wrong codes count towards the same growing lock-out as wrong passwords, so the six
    digits cannot be guessed by trying. Raises CodeInvalid."""
    now = now or utcnow()
    with Session(engine) as session:
        user = session.get(User, user_id, with_for_update=engine.dialect.name == "postgresql")
        if user is None or user.totp_secret is None:
            raise CodeInvalid(_("two-factor sign-in is not set up for this account"))
        if user.locked_until is not None and user.locked_until > now:
            wait = int((user.locked_until - now).total_seconds()) + 1
            raise CodeInvalid(_("too many wrong codes: try again in %(seconds)s seconds", seconds=wait))
        try:
            secret = unseal(settings, user.totp_secret)
        except SealBroken as exc:  # the operator's problem, not the user's: no lock-out, and said in the log
            log.error("two-factor sign-in of user %s: %s", user_id, exc)
            raise CodeInvalid(
                _("two-factor sign-in cannot be checked on this server now: ask an administrator")
            ) from None
        used = _use_code(session, user, secret, code)
        if used is None:
            user.failed_logins += 1
            lock = lock_for(user.failed_logins)
            user.locked_until = now + lock if lock else None
            session.add(user)
            session.commit()
            raise CodeInvalid(_("wrong or already used code: type the 6 digits your app shows now, or a recovery code"))
        user.failed_logins, user.locked_until = 0, None
        session.add(user)
        session.commit()
        return used


def _use_code(session: Session, user: User, secret: str, code: str) -> str | None:
    assert user.id is not None  # a stored user
    step = matching_step(secret, code, user.totp_last_step)
    if step is not None:
        user.totp_last_step = step
        return "totp"
    row = (
        session.execute(
            select(RecoveryCode).where(
                col(RecoveryCode.user_id) == user.id,
                col(RecoveryCode.code_hash) == _hash(_normal(code)),
                col(RecoveryCode.used_at).is_(None),
            )
        )
        .scalars()
        .first()
    )
    if row is None:
        return None
    row.used_at = utcnow()
    session.add(row)
    return "recovery code"


def recovery_codes_left(session: Session, user_id: int) -> int:
    rows = session.execute(
        select(col(RecoveryCode.id)).where(col(RecoveryCode.user_id) == user_id, col(RecoveryCode.used_at).is_(None))
    ).all()
    return len(rows)


def turn_off(session: Session, user_id: int) -> None:
    """Remove the user's second factor (an administrator's reset for a lost phone). The caller commits."""
    user = session.get(User, user_id)
    if user is not None:
        user.totp_secret, user.totp_last_step = None, None
        session.add(user)
    session.execute(delete(RecoveryCode).where(col(RecoveryCode.user_id) == user_id))
