"""Counting the Python function calls a block makes: a measure of work that a loaded machine does not change, for
tests that hold an algorithm to its bound (wall-clock time would fail them whenever the machine is busy)."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import Any

__all__ = ["Calls", "counting_calls"]


@dataclass
class Calls:
    count: int = 0
    on_entering_thread: int = 0  # those made by the thread that entered the block: an async test's event loop


@contextmanager
def counting_calls() -> Iterator[Calls]:
    """Every Python function call made inside the block, in every thread (work handed to a worker thread counts
    too); C functions are not counted."""
    calls = Calls()
    entering_thread = threading.get_ident()

    def profile(_frame: FrameType, event: str, _arg: Any) -> None:
        if event == "call":
            calls.count += 1
            if threading.get_ident() == entering_thread:
                calls.on_entering_thread += 1

    threading.setprofile_all_threads(profile)
    try:
        yield calls
    finally:
        threading.setprofile_all_threads(None)
