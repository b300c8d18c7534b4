"""The aggregation tests' upstreams: real local HTTP servers, named into the settings by the `upstreams` marker.

`@pytest.mark.upstreams(weather="ok/weather", stock="slow/stock")` configures FORGE_AGGREGATE_SOURCES with those
names pointing at the kinds of upstream in tests/support/upstreams.py (their ports are only known at run time).
"""

from collections.abc import Iterator

import pytest

from app.config import Settings
from tests.support.settings import make_settings
from tests.support.upstreams import Upstreams, upstream_servers


@pytest.fixture
def upstreams() -> Iterator[Upstreams]:
    with upstream_servers() as servers:
        yield servers


@pytest.fixture
def settings(database_url: str, request: pytest.FixtureRequest, upstreams: Upstreams) -> Settings:
    """The suite's settings (with the `settings` marker), with the `upstreams` marker's sources."""
    marker = request.node.get_closest_marker("settings")
    overrides = dict(marker.kwargs if marker else {})
    sources = request.node.get_closest_marker("upstreams")
    if sources is not None:
        overrides["aggregate_sources"] = {name: upstreams.url(kind) for name, kind in sources.kwargs.items()}
    return make_settings(database_url, **overrides)
