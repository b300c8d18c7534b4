"""The harness's chart: per server, each variant's CPU ratio to its scenario's baseline, and its p50 and p99."""

import json
from pathlib import Path

# A Figure of its own rather than pyplot: no global figure state, no GUI backend; savefig renders with Agg.
from matplotlib.figure import Figure

from benchmarks._report import (
    READ_VS_CORE,
    VARIANT_NAMES,
    Measured,
    Verdict,
    baseline_of,
    cpu_ratio,
    markdown_report,
    to_json,
)

__all__ = ["write_chart", "write_results"]

_WIDTH = 0.8


def _variants(measured: Measured) -> list[str]:
    seen = {variant for variants in measured.values() for variant in variants}
    return [variant for variant in VARIANT_NAMES if variant in seen]


def write_chart(runs: dict[str, Measured], path: Path, *, title: str) -> None:
    """Write a PNG: one row per server, CPU ratios on the left, latency percentiles on the right."""
    figure = Figure(figsize=(15, 4.8 * len(runs)))
    axes = figure.subplots(len(runs), 2, squeeze=False)
    for row, (server, measured) in enumerate(runs.items()):
        scenarios = list(measured)
        variants = _variants(measured)
        step = _WIDTH / max(len(variants), 1)
        ratios, latency = axes[row]
        for index, variant in enumerate(variants):
            offsets = [s + (index - (len(variants) - 1) / 2) * step for s in range(len(scenarios))]
            results = [measured[s].get(variant) for s in scenarios]
            values = [
                cpu_ratio(measured[s].get(baseline_of(s)), r) or 0.0 for s, r in zip(scenarios, results, strict=True)
            ]
            ratios.bar(offsets, values, step, label=VARIANT_NAMES[variant])
            p50 = [r.p50_ms if r else 0.0 for r in results]
            p99 = [r.p99_ms if r else 0.0 for r in results]
            bars = latency.bar(offsets, p99, step, alpha=0.35)
            latency.bar(offsets, p50, step, color=bars.patches[0].get_facecolor(), alpha=1.0)
        ratios.axhline(1.0, color="black", linewidth=0.8)
        ratios.axhline(READ_VS_CORE, color="tab:red", linestyle="--", linewidth=0.8, label="target, read/page vs Core")
        ratios.set_title(f"{server}: CPU per request, baseline / variant (above 1 = cheaper)")
        ratios.set_ylabel("ratio to the scenario's baseline")
        latency.set_title(f"{server}: latency, p50 (solid) and p99 (light)")
        latency.set_ylabel("ms (log)")
        latency.set_yscale("log")
        for axis in (ratios, latency):
            axis.set_xticks(range(len(scenarios)), scenarios)
            axis.grid(axis="y", alpha=0.3)
        ratios.legend(fontsize="small")
    figure.suptitle(title)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=90)


def write_results(
    out: Path, name: str, runs: dict[str, Measured], found: list[Verdict], meta: dict[str, object]
) -> None:
    """The run's results as JSON, a Markdown table and the chart: `out`/`name`.json, .md, .png."""
    out.mkdir(parents=True, exist_ok=True)
    heading = (
        f"Benchmark: {meta['database']}, {meta['rounds']} x {meta['seconds']} s, {meta['connections']} connections"
    )
    (out / f"{name}.json").write_text(json.dumps(to_json(runs, found, meta), indent=2) + "\n")
    (out / f"{name}.md").write_text(markdown_report(runs, found, heading=heading))
    write_chart(runs, out / f"{name}.png", title=heading)
    print(f"\nwritten: {out / name}.json, .md, .png")
