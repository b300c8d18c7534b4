"""One process's metrics as an array of doubles: in memory, or in a file that the server's other workers read.

A request adds to two doubles in place (`values[i] += 1`), as cheap as a plain counter, and with the array in a
shared file (`Shard.share`, an mmap) that write is all another worker needs to see it: a scrape reads every
worker's file (`read_shards`) and adds them up, so it reports the whole server, exactly, at the moment it is read.

The layout, the same in memory and on file (native byte order, every value 8-byte aligned):
- a header of `_HEADER_VALUES` doubles: [0] the format marker (8 bytes of `_MARKER`), [1] the bytes in use,
  [2] requests started, [3] the writer's process id, the rest spare;
- entries, appended: the key's length and the number of values (two int32), the key (a JSON array, UTF-8), zeros
  to the next multiple of 8 bytes, then the values.
A writer writes an entry whole before it raises the bytes in use, so a reader never parses a half-written one; a
value is written by one aligned 8-byte store, never torn.

A worker holds an exclusive `flock` on its file while it lives. The kernel releases it when the process ends, by
any means (SIGKILL included), so a reader that can take the lock knows the worker is gone: its counters still
count (they are part of the server's totals), its gauges no longer do. File names are unique (`mkstemp`), so a
new worker never takes over a dead one's file, even with a reused pid.
"""

import fcntl
import mmap
import os
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import orjson

__all__ = ["SHARD_SUFFIX", "STARTED", "Shard", "ShardReading", "read_shards"]

SHARD_SUFFIX = ".metrics"
_MARKER = b"FORGEMT1"
_HEADER_VALUES = 8
_HEADER_BYTES = _HEADER_VALUES * 8
USED = 1
STARTED = 2  # requests started; those finished are in the HTTP entries, so in flight = started - finished
_PID = 3
_ENTRY_HEADER = struct.Struct("=ii")
_INITIAL_BYTES = 1 << 14  # about 80 HTTP series; it doubles as needed

type Key = tuple[str, ...]


def _fresh_buffer() -> bytearray:
    buffer = bytearray(_INITIAL_BYTES)
    buffer[:8] = _MARKER
    memoryview(buffer).cast("d")[USED] = _HEADER_BYTES  # the view goes at once: a bytearray with one cannot grow
    return buffer


class Shard:
    """This process's values (`values`, indexed as doubles) and where each key's values start.

    Written by one thread only (the event loop's), so plain arithmetic needs no lock.
    """

    def __init__(self) -> None:
        self._buffer: bytearray | mmap.mmap = _fresh_buffer()
        self.values = memoryview(self._buffer).cast("d")
        self._entries: dict[Key, int] = {}
        self._file: int | None = None  # the shared file's descriptor, which holds the lock
        self.directory: Path | None = None  # where the shared file is, while there is one

    def slot(self, key: Key, width: int) -> int:
        """The index of the first of `key`'s `width` values, appended (zeros) the first time."""
        found = self._entries.get(key)
        if found is not None:
            return found
        encoded = orjson.dumps(key)
        used = int(self.values[USED])
        first_value = used + _ENTRY_HEADER.size + -(-len(encoded) // 8) * 8
        end = first_value + 8 * width
        if end > len(self._buffer):
            self._grow(end)
        buffer = self._buffer
        buffer[used : used + _ENTRY_HEADER.size] = _ENTRY_HEADER.pack(len(encoded), width)
        buffer[used + _ENTRY_HEADER.size : used + _ENTRY_HEADER.size + len(encoded)] = encoded
        self.values[USED] = end  # last: the entry is complete before a reader may look at it
        self._entries[key] = first_value // 8
        return first_value // 8

    def set(self, key: Key, value: float) -> None:
        self.values[self.slot(key, 1)] = value

    def share(self, directory: Path) -> None:
        """From now on, keep the values in a new file in `directory` (what has been counted so far moves there)."""
        directory.mkdir(parents=True, exist_ok=True)
        descriptor, _name = tempfile.mkstemp(prefix=f"worker-{os.getpid()}-", suffix=SHARD_SUFFIX, dir=directory)
        fcntl.flock(descriptor, fcntl.LOCK_EX)  # held while this process lives: see the module's docstring
        os.ftruncate(descriptor, len(self._buffer))
        shared = mmap.mmap(descriptor, len(self._buffer))
        self.values[_PID] = os.getpid()
        shared[8:] = self._buffer[8:]
        shared[:8] = _MARKER  # last: a reader skips a file without it, so it never sees a partial copy
        self._replace(shared)
        self._file, self.directory = descriptor, directory

    def unshare(self) -> None:
        """Back to memory; the file keeps this worker's totals, and the lock goes, so it counts as gone."""
        if self._file is None:
            return
        self._replace(bytearray(self._buffer))
        os.close(self._file)
        self._file, self.directory = None, None

    def read(self) -> "ShardReading":
        """This process's own values, as a reader of its file would see them."""
        reading = _parse(self._buffer, live=True)
        if reading is None:  # pragma: no cover - this process wrote the marker itself
            msg = "the metrics buffer lost its format marker"
            raise RuntimeError(msg)
        return reading

    def _grow(self, needed: int) -> None:
        size = len(self._buffer)
        while size < needed:
            size *= 2
        if self._file is None:
            self._replace(bytearray(self._buffer) + bytes(size - len(self._buffer)))
        else:
            os.ftruncate(self._file, size)
            self._replace(mmap.mmap(self._file, size))

    def _replace(self, buffer: bytearray | mmap.mmap) -> None:
        old = self._buffer
        self.values.release()
        self._buffer = buffer
        self.values = memoryview(buffer).cast("d")
        if isinstance(old, mmap.mmap):
            old.close()


@dataclass(frozen=True, slots=True)
class ShardReading:
    """One worker's values as read now: `entries` by key, in the order they first appeared."""

    pid: int  # the process id of the worker that wrote it (0 for values never shared)
    live: bool
    started: float
    entries: dict[Key, list[float]]


def _parse(buffer: bytes | bytearray | mmap.mmap, *, live: bool) -> ShardReading | None:
    if len(buffer) < _HEADER_BYTES or buffer[:8] != _MARKER:
        return None
    values = memoryview(buffer)[: len(buffer) // 8 * 8].cast("d")
    try:
        used = min(int(values[USED]), len(buffer))
        entries: dict[Key, list[float]] = {}
        position = _HEADER_BYTES
        while position + _ENTRY_HEADER.size <= used:
            length, width = _ENTRY_HEADER.unpack_from(buffer, position)
            start = position + _ENTRY_HEADER.size
            first_value = start + -(-length // 8) * 8
            if first_value + 8 * width > used:
                break
            try:
                key = tuple(orjson.loads(buffer[start : start + length]))
            except orjson.JSONDecodeError:  # not a whole entry (never expected: see the module's docstring)
                break
            entries[key] = cast("list[float]", values[first_value // 8 : first_value // 8 + width].tolist())
            position = first_value + 8 * width
        # Read after the entries: every request they count as finished has started by now, so in flight >= 0.
        started, pid = values[STARTED], int(values[_PID])
    finally:
        values.release()
    return ShardReading(pid=pid, live=live, started=started, entries=entries)


def read_shards(directory: Path) -> list[ShardReading]:
    """Every worker's values in `directory`, the living and those gone (`live` tells them apart)."""
    readings = []
    for path in sorted(directory.glob(f"*{SHARD_SUFFIX}")):
        try:
            descriptor = os.open(path, os.O_RDONLY)
        except FileNotFoundError:  # removed since the listing
            continue
        try:
            size = os.fstat(descriptor).st_size
            if size < _HEADER_BYTES:  # a worker's file created an instant ago: nothing in it yet
                continue
            live = _locked(descriptor)
            with mmap.mmap(descriptor, size, access=mmap.ACCESS_READ) as mapped:
                reading = _parse(mapped, live=live)
        finally:
            os.close(descriptor)
        if reading is not None:
            readings.append(reading)
    return readings


def _locked(descriptor: int) -> bool:
    """Does a living process hold the file's lock (the worker that writes it)?"""
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    fcntl.flock(descriptor, fcntl.LOCK_UN)
    return False
