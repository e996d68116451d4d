"""Settings changed on the web settings page, kept in the `stored_setting` table and laid over the
environment's Settings, so a change takes effect in every process without editing env vars.

`live_settings(base, engine)` is the one source of the effective settings for every caller: the
request dependency (`SettingsDep`), the worker, the scheduler and the CLI. It is cached: a process
re-reads the table at most every `settings_cache_seconds`, and at once after it saved a change itself.

Only the keys in EDITABLE are ever read back from the table (the same table holds the generated
secret key, which must never be overlaid). Secrets are stored like any other value but never
rendered back by the web page."""

import logging
import threading
import time
from collections import OrderedDict
from typing import Any

from pydantic import SecretStr, TypeAdapter, ValidationError
from sqlalchemy import Engine, select
from sqlmodel import Session, col

from app.logs import keep_settings_out
from app.models import StoredSetting, utcnow
from app.settings import Settings

log = logging.getLogger(__name__)

RELAY_KEYS = (
    "smtp_host",
    "smtp_port",
    "smtp_security",
    "smtp_username",
    "smtp_password",
    "smtp_cafile",
    "smtp_verify",
    "smtp_rate",
    "bounce_address",
)
MAILBOX_KEYS = (
    "mailbox_protocol",
    "mailbox_host",
    "mailbox_port",
    "mailbox_security",
    "mailbox_user",
    "mailbox_password",
    "mailbox_folder",
    "mailbox_cafile",
    "mailbox_verify",
)
POLICY_KEYS = ("hard_bounce_threshold", "soft_bounce_threshold", "soft_bounce_window_days", "sweep_interval_minutes")
GUARD_KEYS = (
    "guard_complaint_warn_percent",
    "guard_complaint_pause_percent",
    "guard_bounce_warn_percent",
    "guard_bounce_pause_percent",
    "guard_min_messages",
)
TRACKING_KEYS = ("tracking",)
EDITABLE = RELAY_KEYS + MAILBOX_KEYS + POLICY_KEYS + GUARD_KEYS + TRACKING_KEYS
SECRETS = frozenset({"smtp_password", "mailbox_password"})

# bounds the Settings class leaves open but a sender must respect
_BOUNDS: dict[str, tuple[float, float]] = {
    "smtp_port": (1, 65535),
    "mailbox_port": (1, 65535),
    "smtp_rate": (0, 100_000),
    "hard_bounce_threshold": (1, 100),
    "soft_bounce_threshold": (1, 100),
    "soft_bounce_window_days": (1, 3650),
    "sweep_interval_minutes": (0, 7 * 24 * 60),
    "guard_complaint_warn_percent": (0, 100),
    "guard_complaint_pause_percent": (0, 100),
    "guard_bounce_warn_percent": (0, 100),
    "guard_bounce_pause_percent": (0, 100),
    "guard_min_messages": (1, 100_000),
}
# a guard's warning comes before its pause
_WARN_BELOW_PAUSE = (
    ("guard_complaint_warn_percent", "guard_complaint_pause_percent"),
    ("guard_bounce_warn_percent", "guard_bounce_pause_percent"),
)


class SettingsInvalid(ValueError):
    """Values that cannot be saved; `errors` maps each field to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))


def validate_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """Each value converted to its Settings type (so "587" becomes 587); raises SettingsInvalid."""
    errors: dict[str, str] = {}
    out: dict[str, Any] = {}
    for key, raw in changes.items():
        if key not in EDITABLE:
            errors[key] = "not a setting that can be changed here"
            continue
        value = None if isinstance(raw, str) and raw.strip() == "" and key not in SECRETS else raw
        try:
            annotation = Settings.model_fields[key].annotation
            assert annotation is not None  # every Settings field is annotated
            value = TypeAdapter(annotation).validate_python(value)
        except ValidationError as exc:
            errors[key] = exc.errors()[0]["msg"]
            continue
        bounds = _BOUNDS.get(key)
        if bounds and value is not None and not bounds[0] <= value <= bounds[1]:
            errors[key] = f"must be between {bounds[0]:g} and {bounds[1]:g}"
            continue
        out[key] = value
    for warn, pause in _WARN_BELOW_PAUSE:
        if warn in out and pause in out and out[warn] > out[pause]:
            errors[warn] = "must not be above the pause threshold"
    if errors:
        raise SettingsInvalid(errors)
    return out


def _stored(value: Any) -> Any:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def stored_values(engine: Engine) -> dict[str, Any]:
    with Session(engine) as session:
        rows = session.execute(select(StoredSetting).where(col(StoredSetting.key).in_(EDITABLE))).scalars()
        return {r.key: r.value for r in rows}


def _overlay(base: Settings, stored: dict[str, Any]) -> Settings:
    """`base` with the values saved on the settings page laid over it."""
    if not stored:
        return base
    try:
        update = validate_changes(stored)
    except SettingsInvalid as exc:  # a value saved by an older version that no longer validates: skip it
        update = validate_changes({k: v for k, v in stored.items() if k not in exc.errors})
    live = base.model_copy(update=update)
    keep_settings_out(live)  # the passwords saved on the settings page
    return live


# bumped by every save in this process, so its own caches never serve the values from before it
_saved_generation = 0


class LiveSettings:
    """The effective settings of one (environment settings, engine) pair, cached."""

    def __init__(self, base: Settings, engine: Engine) -> None:
        self.base, self.engine = base, engine
        # a plain read: on SQLite it never queues behind the sending worker's write transaction
        self._reader = engine.execution_options(sqlite_read_only=True)
        self._stored: dict[str, Any] | None = None
        self._value = base
        self._expires = 0.0
        self._generation = -1

    def fresh(self) -> Settings | None:
        """The cached value while it is fresh, else None; never touches the database."""
        if self._generation == _saved_generation and time.monotonic() < self._expires:
            return self._value
        return None

    def last(self) -> Settings | None:
        """The value last read, even expired; None before the first read and after a save in this process."""
        return self._value if self._generation == _saved_generation else None

    @staticmethod
    def generation() -> int:
        """Counts the saves made in this process: a read begun before a save is no answer after it."""
        return _saved_generation

    def get(self) -> Settings:
        """The effective settings, re-read when stale. If the database cannot be read, the last known
        value stands (a request that needs no database must not fail for this)."""
        value = self.fresh()
        if value is not None:
            return value
        generation = _saved_generation
        try:
            stored = stored_values(self._reader)
        except Exception:
            log.warning("could not read the saved settings; using the last known ones", exc_info=True)
            return self._value
        if stored != self._stored:  # validate only what changed
            self._value, self._stored = _overlay(self.base, stored), stored
        self._generation = generation
        self._expires = time.monotonic() + self.base.settings_cache_seconds
        return self._value


_live: OrderedDict[tuple[int, int], LiveSettings] = OrderedDict()
_live_lock = threading.Lock()
_LIVE_KEPT = 16  # (base, engine) pairs: a process has one or two; tests and worker restarts make more


def live_for(base: Settings, engine: Engine) -> LiveSettings:
    """The process's one cache for this pair (the entry holds both, so their ids stay theirs)."""
    key = (id(base), id(engine))
    with _live_lock:
        live = _live.get(key)
        if live is None:
            live = _live[key] = LiveSettings(base, engine)
            while len(_live) > _LIVE_KEPT:
                _live.popitem(last=False)
        else:
            _live.move_to_end(key)
        return live


def live_settings(base: Settings, engine: Engine) -> Settings:
    """The effective settings: `base` (the environment) with what the settings page saved laid over it."""
    return live_for(base, engine).get()


def save_settings(engine: Engine, changes: dict[str, Any]) -> dict[str, Any]:
    """Validate and store the changes (all or nothing); returns what was stored."""
    values = validate_changes(changes)
    now = utcnow()
    with Session(engine) as session:
        for key, value in values.items():
            row = session.get(StoredSetting, key) or StoredSetting(key=key)
            row.value, row.updated_at = _stored(value), now
            session.add(row)
        session.commit()
    global _saved_generation
    _saved_generation += 1
    return values
