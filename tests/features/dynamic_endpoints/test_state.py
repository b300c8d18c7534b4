"""The runtime's cache of compiled specs: reused for the same stored spec only, filled by what is installed."""

import dataclasses

from app.features.dynamic_endpoints.state import EndpointRuntime
from tests.support.dynamic_endpoints import spec


def test_a_rolled_back_build_never_serves_its_spec_later() -> None:
    runtime = EndpointRuntime(max_specs=10)
    runtime.install(runtime.build(1, [spec(1, "/api/v1/x/a")]))
    # A PUT builds version 2 of the spec, then its transaction rolls back: nothing is installed.
    runtime.build(2, [dataclasses.replace(spec(1, "/api/v1/x/a"), example={"rolled": "back"}, version=2)])

    # The next PUT gets version 2 again, with other content.
    data = dataclasses.replace(spec(1, "/api/v1/x/a"), example={"served": True}, version=2)
    runtime.install(runtime.build(3, [data]))

    assert runtime.snapshot.specs[0].static_body == b'{"served":true}'


def test_a_reused_id_with_the_same_version_is_compiled_anew() -> None:
    runtime = EndpointRuntime(max_specs=10)
    runtime.install(runtime.build(1, [spec(1, "/api/v1/x/a")]))

    # Deleted and recreated elsewhere (SQLite reuses the id), seen by this instance in one reload.
    runtime.install(runtime.build(3, [dataclasses.replace(spec(1, "/api/v1/x/b"), name="b")]))

    assert runtime.snapshot.match("/api/v1/x/a") is None
    found = runtime.snapshot.match("/api/v1/x/b")
    assert found is not None
    assert found[0]["GET"].spec.name == "b"


def test_an_unchanged_spec_keeps_its_compiled_form() -> None:
    runtime = EndpointRuntime(max_specs=10)
    runtime.install(runtime.build(1, [spec(1, "/api/v1/x/a")]))
    compiled = runtime.snapshot.specs[0]

    runtime.install(runtime.build(2, [spec(1, "/api/v1/x/a"), spec(2, "/api/v1/x/b")]))

    assert runtime.snapshot.specs[0] is compiled
