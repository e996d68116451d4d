"""Several relays behind the worker: each message goes to one of the relays its campaign may use, shared by
weight (smooth weighted round-robin: weights 3:1 send exactly three messages through the first for each one
through the second), and moves to another relay when its relay cannot be reached or refuses.

Each relay has its own SenderPool (its connections, rate and backoff). A message its relay did not take
(the relay refused the connection, the login or the sender, dropped the line, answered 421, or is in its
backoff wait) comes back RELEASED: the router hands it to a relay it has not tried yet that is up; only when
none is left does the outcome reach the worker, which then waits as it does for the single relay. A row is
claimed once and moved inside this worker, so the ledger still sends it once."""

import logging
import queue
import threading
from dataclasses import dataclass

from sqlalchemy import Engine

from app.db import session_scope
from app.sending import relays
from app.sending.ledger import RELEASED, Outcome
from app.sending.pacing import Pacer
from app.sending.pool import Batch, Job, SenderPool
from app.sending.relays import RelayStatus
from app.settings import Settings

log = logging.getLogger(__name__)


@dataclass(eq=False)
class Member:
    relay_id: int
    name: str
    weight: int
    pool: SenderPool
    current: int = 0  # the round-robin's running score
    answered: bool = False  # it answered a message since its state was last reported
    reported: object = None  # the state last reported: ("down", since, problem) or "up"


class Leg(Batch):
    """A group of one batch's jobs handed to one relay; their outcomes come back through the router."""

    def __init__(self, router: "RelayRouter", member: Member, jobs: list[Job], tried: frozenset[int]) -> None:
        super().__init__(expected=len(jobs))
        self.router, self.member, self.tried = router, member, tried
        self.jobs = {job.row.id: job for job in jobs}

    def add(self, *outcomes: Outcome) -> None:
        self.router.settle(self, outcomes)


class RelayRouter:
    def __init__(self, members: list[Member]) -> None:
        self.members = members
        self._lock = threading.Lock()
        # moves are handed on by one thread of their own, so a sending thread never waits on another
        # relay's full queue (two relays failing at once would otherwise wait on each other)
        self._moves: queue.Queue[tuple[Member, list[Job], frozenset[int]] | None] = queue.Queue()
        self._mover = threading.Thread(target=self._move, name="relay-mover", daemon=True)
        self._mover.start()

    def submit(self, jobs: list[Job]) -> None:
        groups: dict[int, tuple[Member, list[Job]]] = {}
        for job in jobs:
            member = self._pick(job.composer.relay_ids, frozenset(), up_only=False)
            assert member is not None  # with nothing tried yet there is always one
            groups.setdefault(member.relay_id, (member, []))[1].append(job)
        for member, group in groups.values():
            self._hand(member, group, frozenset())

    def _hand(self, member: Member, jobs: list[Job], tried: frozenset[int]) -> None:
        leg = Leg(self, member, jobs, tried | {member.relay_id})
        member.pool.submit([Job(job.row, job.composer, leg) for job in jobs])

    def _pick(self, allowed: tuple[int, ...], tried: frozenset[int], up_only: bool) -> Member | None:
        """The next relay by weight among those the campaign may use (all when it names none that is
        enabled), not yet tried, and up (all of them down: any, so the message waits in its backoff)."""
        with self._lock:
            usable = [m for m in self.members if m.relay_id in allowed] or self.members
            usable = [m for m in usable if m.relay_id not in tried]
            up = [m for m in usable if m.pool.backoff.current() is None]
            choice = up or ([] if up_only else usable)
            if not choice:
                return None
            total = sum(m.weight for m in choice)
            for m in choice:
                m.current += m.weight
            best = max(choice, key=lambda m: m.current)
            best.current -= total
            return best

    def settle(self, leg: Leg, outcomes: tuple[Outcome, ...]) -> None:
        """A relay's outcomes: what it did not take moves on; the rest goes to the worker's batch."""
        if any(o.code is not None for o in outcomes):
            leg.member.answered = True
        failed = leg.relay_down is not None or bool(leg.campaign_errors)
        moving: dict[int, tuple[Member, list[Job]]] = {}
        passed: list[Outcome] = []
        for outcome in outcomes:
            job = leg.jobs[outcome.row.id]
            # what pacing released waits for its receiving domain: another relay must not take it meanwhile
            moves = failed and outcome.kind == RELEASED and not outcome.paced
            target = self._pick(job.composer.relay_ids, leg.tried, up_only=True) if moves else None
            if target is not None:
                moving.setdefault(target.relay_id, (target, []))[1].append(job)
            else:
                passed.append(outcome)
        if moving and leg.campaign_errors:
            # the relay refuses what another relay may take (its login, TLS, relaying, the sender): avoid
            # it for a while as if it were down, instead of pausing the campaign
            problem = next(iter(leg.campaign_errors.values()))
            leg.member.pool.backoff.failed(problem)
            leg.member.pool.unblock(list(leg.campaign_errors))
        for target, jobs in moving.values():
            log.info("moving %s messages from relay %s to %s", len(jobs), leg.member.name, target.name)
            self._moves.put((target, jobs, leg.tried))
        if not passed:
            return
        parent = next(iter(leg.jobs.values())).batch
        if failed and any(o.kind == RELEASED and not o.paced for o in passed):  # nowhere left: wait as for one relay
            parent.relay_down = parent.relay_down or leg.relay_down
            for campaign_id, problem in leg.campaign_errors.items():
                parent.campaign_errors.setdefault(campaign_id, problem)
        parent.add(*passed)

    def _move(self) -> None:
        while (move := self._moves.get()) is not None:
            self._hand(*move)

    def pace(self, pacer: Pacer | None) -> None:
        """The worker's one pacer holds back paused domains' messages on every relay."""
        for m in self.members:
            m.pool.pace(pacer)

    def wait_seconds(self) -> float:
        """0 while any relay is up; else how long until the first one is tried again."""
        return min(m.pool.wait_seconds() for m in self.members)

    def unblock(self, campaign_ids: list[int]) -> None:
        for m in self.members:
            m.pool.unblock(campaign_ids)

    def statuses(self) -> list[RelayStatus]:
        """Each relay whose state changed since the last call: down (since, why) or up again."""
        out = []
        for m in self.members:
            outage = m.pool.backoff.outage
            if outage is not None:
                state: object = ("down", outage.since, outage.problem)
                if state != m.reported:
                    out.append(RelayStatus(m.relay_id, outage.since, outage.problem))
            elif m.answered:
                m.answered, state = False, "up"
                if m.reported != "up":
                    out.append(RelayStatus(m.relay_id, None, None))
            else:
                continue
            m.reported = state
        return out

    def close(self) -> None:
        self._moves.put(None)
        self._mover.join(timeout=60)
        for m in self.members:
            m.pool.close()


def make_pool(settings: Settings, engine: Engine) -> SenderPool | RelayRouter:
    """The stored relays that are enabled, behind a router; none: the settings' relay, as before."""
    with session_scope(engine) as session:
        rows = relays.enabled_relays(session)
        members = [(r.id, r.name, r.weight, relays.connection_settings(settings, r)) for r in rows]
    if not members:
        return SenderPool(settings)
    return RelayRouter(
        [Member(i, name, weight, SenderPool(s, name=name)) for i, name, weight, s in members if i is not None]
    )
