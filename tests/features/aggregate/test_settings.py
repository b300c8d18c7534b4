"""FORGE_AGGREGATE_SOURCES: a JSON object of plain names to http(s) URLs, refused at start-up otherwise."""

import pytest
from pydantic import ValidationError

from app.config import Settings


def _sources(monkeypatch: pytest.MonkeyPatch, value: str) -> Settings:
    monkeypatch.setenv("FORGE_AGGREGATE_SOURCES", value)
    return Settings(_env_file=None)


def test_sources_are_read_from_a_json_object(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _sources(monkeypatch, '{"weather": "https://weather.internal/v1/now", "stock": "http://10.0.0.5:8080"}')
    assert {name: str(url) for name, url in settings.aggregate_sources.items()} == {
        "weather": "https://weather.internal/v1/now",
        "stock": "http://10.0.0.5:8080/",
    }
    assert "weather.internal" not in repr(settings)  # internal URLs stay out of logged settings


def test_no_sources_by_default_or_when_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings(_env_file=None).aggregate_sources == {}
    assert _sources(monkeypatch, "  ").aggregate_sources == {}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('{"weather": ', "FORGE_AGGREGATE_SOURCES is not valid JSON"),
        ('["https://weather.internal"]', "FORGE_AGGREGATE_SOURCES must be a JSON object"),
        ('{"files": "file:///etc/passwd"}', "URL scheme should be 'http' or 'https'"),
        ('{"ftp": "ftp://files.internal/"}', "URL scheme should be 'http' or 'https'"),
        ('{"weather": "weather.internal"}', "aggregate_sources.weather"),
        ('{"the weather": "https://weather.internal"}', "String should match pattern"),
        ('{"": "https://weather.internal"}', "String should match pattern"),
    ],
)
def test_malformed_sources_refuse_to_start_with_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    with pytest.raises(ValidationError, match="aggregate_sources") as caught:
        _sources(monkeypatch, value)
    assert message in str(caught.value)


@pytest.mark.parametrize(("name", "value"), [("aggregate_timeout", "0"), ("aggregate_max_bytes", "0")])
def test_the_deadline_and_the_cap_must_be_positive(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(f"FORGE_{name.upper()}", value)
    with pytest.raises(ValidationError, match=name):
        Settings(_env_file=None)
