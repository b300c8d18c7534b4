"""Job types and their retry schedule."""

import pytest

from app.core.jobs import Backoff, JobRegistry, JobType
from tests.support.jobs import Note, Recorder, recording_type


def test_backoff_grows_exponentially_within_its_jittered_upper_half_and_cap() -> None:
    backoff = Backoff(base_seconds=10, factor=2, max_seconds=60)
    for attempt, ceiling in [(1, 10), (2, 20), (3, 40), (4, 60), (10, 60)]:
        delays = [backoff.delay(attempt) for _ in range(200)]
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays), (attempt, min(delays), max(delays))
        assert len(set(delays)) > 1  # jittered: jobs that failed together do not retry together


def test_a_backoff_must_make_sense() -> None:
    for arguments in ({"base_seconds": -1}, {"factor": 0.5}, {"base_seconds": 10, "max_seconds": 5}):
        with pytest.raises(ValueError, match="invalid backoff"):
            Backoff(**arguments)


def test_a_job_type_must_make_sense() -> None:
    recorder = Recorder()
    with pytest.raises(ValueError, match="1 to 100 characters"):
        JobType(name="x" * 101, payload=Note, handler=recorder.handle)
    with pytest.raises(ValueError, match="1 to 100 characters"):
        JobType(name="", payload=Note, handler=recorder.handle)
    with pytest.raises(ValueError, match="max_attempts"):
        JobType(name="test.none", payload=Note, handler=recorder.handle, max_attempts=0)
    with pytest.raises(ValueError, match="timeout_seconds"):
        JobType(name="test.none", payload=Note, handler=recorder.handle, timeout_seconds=0)


def test_a_registry_knows_its_types_by_name_and_their_longest_timeout() -> None:
    quick = recording_type(Recorder(), name="test.quick", timeout_seconds=1)
    slow = recording_type(Recorder(), name="test.slow", timeout_seconds=90)
    registry = JobRegistry([slow, quick])
    assert registry.names == ["test.quick", "test.slow"]
    assert registry.get("test.slow") is slow
    assert registry.get("test.unknown") is None
    assert registry.longest_timeout == 90
    assert not JobRegistry()
    with pytest.raises(ValueError, match="registered twice"):
        JobRegistry([quick, quick])
