"""Benchmarks: run with `uv run python -m benchmarks.<name>`; each prints ratios against a baseline of the same run."""
