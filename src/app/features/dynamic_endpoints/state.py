"""`EndpointRuntime`: one per app. It holds the current `Snapshot` and reuses compiled specs across reloads."""

from collections.abc import Callable, Iterable

from app.features.dynamic_endpoints.registry import CompiledSpec, Snapshot, SpecData, compile_spec

__all__ = ["EndpointRuntime"]


class EndpointRuntime:
    """The app's registry. `snapshot` is replaced whole (one attribute store), never mutated: requests read it
    without locks. `on_install` callbacks run after a locally made change is installed (to tell other instances)."""

    def __init__(self, *, max_specs: int) -> None:
        self.max_specs = max_specs
        self.snapshot = Snapshot.build(0, [])
        self.on_change: list[Callable[[int], None]] = []
        self._compiled: dict[tuple[int, int], CompiledSpec] = {}

    def build(self, version: int, specs: Iterable[SpecData]) -> Snapshot:
        """A snapshot of `specs`; validators are built once per (spec, version) and kept while that version lives."""
        compiled: dict[tuple[int, int], CompiledSpec] = {}
        for data in specs:
            key = (data.id, data.version)
            compiled[key] = self._compiled.get(key) or compile_spec(data)
        self._compiled = compiled
        return Snapshot.build(version, compiled.values())

    def install(self, snapshot: Snapshot, *, local_change: bool = False) -> None:
        """Serve `snapshot` from now on. A local change older than the one installed is dropped: another
        instance's newer version arrived first (the periodic check repairs any other divergence)."""
        if local_change and snapshot.version < self.snapshot.version:
            return
        self.snapshot = snapshot
        if local_change:
            for callback in self.on_change:
                callback(snapshot.version)
