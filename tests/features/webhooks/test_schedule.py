"""Which answers are retried, and when: about three days of attempts, a receiver's Retry-After honoured (within a
day), nothing after a final answer or the last attempt."""

from datetime import timedelta
from email.utils import format_datetime

import pytest

from app.core.database import utcnow
from app.features.webhooks.sending import (
    SCHEDULE,
    Attempt,
    Verdict,
    next_attempt_at,
    parse_retry_after,
    verdict_of,
)


def test_the_schedule_lasts_about_three_days() -> None:
    assert SCHEDULE[0] == timedelta(0)
    assert SCHEDULE[1:4] == (timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30))
    assert timedelta(days=3) <= sum(SCHEDULE, timedelta(0)) <= timedelta(days=3, hours=6)


def test_the_next_attempt_follows_the_schedule_with_a_little_jitter() -> None:
    now = utcnow()
    retry = Attempt(Verdict.RETRY, 10, status_code=503)
    for number in range(1, len(SCHEDULE)):
        at = next_attempt_at(retry, number=number, now=now)
        assert at is not None
        assert SCHEDULE[number] <= at - now <= SCHEDULE[number] * 1.1
    assert next_attempt_at(retry, number=len(SCHEDULE), now=now) is None
    assert next_attempt_at(Attempt(Verdict.FINAL, 10, status_code=404), number=1, now=now) is None
    assert next_attempt_at(Attempt(Verdict.DELIVERED, 10, status_code=200), number=1, now=now) is None


def test_retry_after_is_honoured_when_longer_up_to_a_day() -> None:
    now = utcnow()
    asked = Attempt(Verdict.RETRY, 10, status_code=429, retry_after=timedelta(hours=3))
    assert next_attempt_at(asked, number=1, now=now) == now + timedelta(hours=3)
    greedy = Attempt(Verdict.RETRY, 10, status_code=429, retry_after=timedelta(days=30))
    assert next_attempt_at(greedy, number=1, now=now) == now + timedelta(hours=24)
    shorter = Attempt(Verdict.RETRY, 10, status_code=429, retry_after=timedelta(seconds=1))
    at = next_attempt_at(shorter, number=2, now=now)
    assert at is not None
    assert at - now >= timedelta(minutes=5)  # the schedule's wait, longer than asked


def test_retry_after_is_read_as_seconds_or_a_date() -> None:
    now = utcnow().replace(microsecond=0)
    read = parse_retry_after
    assert read("120", now) == timedelta(seconds=120)
    assert read(format_datetime(now + timedelta(minutes=10), usegmt=True), now) == timedelta(minutes=10)
    assert read(format_datetime(now - timedelta(minutes=10), usegmt=True), now) == timedelta(0)
    assert read("soon", now) is None
    assert read(None, now) is None


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (200, Verdict.DELIVERED),
        (202, Verdict.DELIVERED),
        (204, Verdict.DELIVERED),
        (408, Verdict.RETRY),
        (429, Verdict.RETRY),
        (500, Verdict.RETRY),
        (502, Verdict.RETRY),
        (503, Verdict.RETRY),
        (301, Verdict.FINAL),
        (307, Verdict.FINAL),
        (400, Verdict.FINAL),
        (401, Verdict.FINAL),
        (404, Verdict.FINAL),
        (410, Verdict.FINAL),
        (422, Verdict.FINAL),
    ],
)
def test_network_errors_408_429_and_5xx_are_retried_other_answers_are_final(status: int, verdict: Verdict) -> None:
    assert verdict_of(status)[0] is verdict
