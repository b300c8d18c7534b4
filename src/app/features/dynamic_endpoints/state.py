"""`EndpointRuntime`: one per app. It holds the current `Snapshot` and reuses compiled specs across reloads.

A compiled spec is reused only for the very same stored spec: it is keyed by a hash of everything stored (id,
version and content), since neither id nor version is unique over time (a rolled-back PUT gives its version to
the next one; SQLite reuses the id of a deleted row). The cache holds what is installed, never what a
transaction staged and may roll back.
"""

import dataclasses
import hashlib
from collections.abc import Callable, Iterable

import orjson

from app.features.dynamic_endpoints.registry import CompiledSpec, Snapshot, SpecData, compile_spec

__all__ = ["EndpointRuntime"]


class EndpointRuntime:
    """The app's registry. `snapshot` is replaced whole (one attribute store), never mutated: requests read it
    without locks. `on_install` callbacks run after a locally made change is installed (to tell other instances)."""

    def __init__(self, *, max_specs: int) -> None:
        self.max_specs = max_specs
        self.snapshot = Snapshot.build(0, [])
        self.on_change: list[Callable[[int], None]] = []
        self._compiled: dict[bytes, CompiledSpec] = {}

    def build(self, version: int, specs: Iterable[SpecData]) -> Snapshot:
        """A snapshot of `specs`, reusing what the installed snapshot compiled for an identical stored spec."""
        return Snapshot.build(version, [self._compiled.get(_key(data)) or compile_spec(data) for data in specs])

    def install(self, snapshot: Snapshot, *, local_change: bool = False) -> None:
        """Serve `snapshot` from now on. A local change older than the one installed is dropped: another
        instance's newer version arrived first (the periodic check repairs any other divergence)."""
        if local_change and snapshot.version < self.snapshot.version:
            return
        self.snapshot = snapshot
        self._compiled = {_key(spec.data): spec for spec in snapshot.specs}
        if local_change:
            for callback in self.on_change:
                callback(snapshot.version)


def _key(data: SpecData) -> bytes:
    return hashlib.sha256(orjson.dumps(dataclasses.asdict(data), option=orjson.OPT_SORT_KEYS)).digest()
