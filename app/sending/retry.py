"""The retry schedule for deferred (4xx) deliveries: fixed offsets from the first attempt."""

from datetime import datetime, timedelta


def next_attempt_at(first_attempt_at: datetime, attempts: int, retry_minutes: list[int]) -> datetime | None:
    """When to try again after `attempts` tries (counting the one just made), or None when the
    schedule is used up and the delivery expires.

    Offsets count from the first attempt, not the previous one, so a slow relay does not stretch
    the schedule: with [15, 30, ...] the second try is 15 minutes after the first, the third 30."""
    if attempts < 1 or attempts > len(retry_minutes):
        return None
    return first_attempt_at + timedelta(minutes=retry_minutes[attempts - 1])
