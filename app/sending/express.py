"""Sending one transactional message at once from the process that took the request, on a relay connection kept
open between requests (a new one costs TLS and AUTH: most of the time a message takes).

The ledger row was claimed by the transaction that made it (a lease under OWNER), so no worker takes it while
this runs; the relay's answer is recorded on it as a worker records a batch's (app.sending.ledger.record, by the
caller): sent, deferred on the retry schedule, or failed with its bounce. When the relay cannot be used now (refused, timed
out, unreachable) the row goes back to the queue at once, not as an attempt, and the sending workers, which
claim transactional rows first, take it with their relay failover and backoff."""

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from app.models import utcnow
from app.models.states import DeliveryState
from app.sending import ledger
from app.sending.compose import Envelope
from app.sending.ledger import Claimed, Outcome
from app.sending.pool import SETTINGS_RELAY
from app.sending.relay import ConnectionLost, NotSendable, RelayConnection, Reply
from app.sending.transactional_compose import TransactionalComposer
from app.settings import Settings

log = logging.getLogger(__name__)

OWNER = "api"  # the lease owner of a row its request is sending
IDLE_PER_RELAY = 4  # open connections kept per relay for the next requests


class Shelf:
    """Idle relay connections by relay (host, port, security, login), shared by the request threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: dict[tuple[object, ...], list[RelayConnection]] = {}

    @staticmethod
    def _key(s: Settings) -> tuple[object, ...]:
        password = s.smtp_password.get_secret_value() if s.smtp_password else None
        return (s.smtp_host, s.smtp_port, s.smtp_security, s.smtp_username, password, s.smtp_cafile, s.smtp_verify)

    @contextmanager
    def connection(self, s: Settings) -> Iterator[RelayConnection]:
        """An open connection if one is idle, else a new one (opened by its first send); kept afterwards while it
        stays open."""
        key = self._key(s)
        with self._lock:
            idle = self._idle.get(key, [])
            conn = idle.pop() if idle else RelayConnection(s)
        try:
            yield conn
        except BaseException:
            conn.close()
            raise
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if conn.smtp is not None and len(idle) < IDLE_PER_RELAY:
                idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            every = [c for idle in self._idle.values() for c in idle]
            self._idle.clear()
        for conn in every:
            conn.close()


SHELF = Shelf()


def deliver(relay: Settings, name: str | None, composer: TransactionalComposer, row: Claimed) -> Outcome:
    """Hand the claimed row's message to the relay; the outcome to record on the row (no database here)."""
    assert row.content is not None
    try:
        env = composer.compose(row.id, row.email, row.content)
        row.verp_token, row.message_id = env.verp_token, env.message_id
        result: Reply | Exception = _send(relay, env)
    except Exception as exc:  # a bug or an odd relay must not fail the request: the workers take the row
        log.exception("transactional message %s could not be sent at once", row.id)
        result = exc
    now = utcnow()
    if isinstance(result, Reply):
        return Outcome(row, result.kind, result.code, result.text, now, relay=name or SETTINGS_RELAY)
    if isinstance(result, NotSendable):
        return Outcome(row, DeliveryState.FAILED, None, str(result), now)
    # the relay cannot be used now: the workers take the row at once, with their failover and backoff
    log.warning("transactional message %s left to the sending workers: %s", row.id, result)
    return Outcome(row, ledger.RELEASED, at=now)


def _send(relay: Settings, env: Envelope) -> Reply | Exception:
    """The relay's reply, or what kept the message from it. A kept connection the relay closed meanwhile (its
    idle timeout) is replaced once."""
    for _ in range(2):
        with SHELF.connection(relay) as conn:
            reused = conn.smtp is not None
            result = conn.send_many([env])[0]
        if isinstance(result, ConnectionLost) and reused:
            continue
        assert result is not None  # one message: it has its result
        return result
    return ConnectionLost(-1, "the relay closed the connection")
