"""`uv run python -m benchmarks`: the benchmark harness (benchmarks/harness.py)."""

from benchmarks.harness import main

main()
