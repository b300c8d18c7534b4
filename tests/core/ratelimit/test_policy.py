import pytest

from app.core.ratelimit import Limit, PolicySet, parse_limits


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("100/minute", (Limit(100, 60),)),
        ("10/second;100/minute", (Limit(10, 1), Limit(100, 60))),
        (" 5 / 10 minutes ; 1000/day ", (Limit(5, 600), Limit(1000, 86_400))),
        ("3/hours", (Limit(3, 3600),)),
    ],
)
def test_limits_parse(spec: str, expected: tuple[Limit, ...]) -> None:
    assert parse_limits(spec) == expected


@pytest.mark.parametrize(
    "spec", ["", "100", "100/fortnight", "0/minute", "-1/minute", "1/0seconds", "ten/second", "2000000/second"]
)
def test_malformed_limits_are_refused(spec: str) -> None:
    with pytest.raises(ValueError, match="rate limit"):
        parse_limits(spec)


def test_emission_interval_is_the_window_over_the_limit() -> None:
    assert Limit(100, 60).emission_us == 600_000
    assert Limit(3, 1).emission_us == 333_333


def test_labels_name_each_limit_of_a_set() -> None:
    assert PolicySet("default", (Limit(100, 60),)).label(0) == "default"
    pair = PolicySet("login", (Limit(10, 60), Limit(100, 3600)))
    assert [pair.label(0), pair.label(1)] == ["login-60s", "login-3600s"]
