"""The harness's figures, its ratios and the issue's targets: pure functions over measured `WrkResult`s.

`Measured` maps a scenario to what each variant (an app, or ForgeAPI in one configuration) did on it. A scenario's
baseline is the bare app from memory (`bare`) or, for the database reads, the plain SQLAlchemy Core app (`core`).
Ratios are CPU per request (the baseline's over the variant's, so above 1 the variant is cheaper): the server's own
CPU time from /proc, which other load on the machine moves far less than requests/s.
"""

import json
from dataclasses import asdict, dataclass
from typing import Any

from benchmarks._http import WrkResult

__all__ = [
    "BASELINES",
    "VARIANT_NAMES",
    "Measured",
    "Verdict",
    "cpu_ratio",
    "markdown_report",
    "rps_ratio",
    "same_answer",
    "text_report",
    "to_json",
    "verdicts",
]

type Measured = dict[str, dict[str, WrkResult]]

VARIANT_NAMES = {
    "bare": "bare FastAPI, from memory",
    "core": "plain SQLAlchemy Core",
    "off": "ForgeAPI, cache off",
    "on": "ForgeAPI, cache on",
    "nolimit": "ForgeAPI, cache off, no limiter",
    "peer": "peer's cached path (stand-in)",
}
# Each scenario's baseline: the database reads against plain Core, the rest against the bare app.
BASELINES = {"read": "core", "page": "core", "deep": "core"}
DEFAULT_BASELINE = "bare"

READ_VS_CORE = 1.3  # cache off: ForgeAPI's read and first page at least 1.3x plain Core
CACHED_VS_PEER = 2.0  # cache on: at least 2x the best peer's cached path
STACK_COST = 0.20  # /healthz: the whole stack costs at most 20 % of the bare app's CPU per request
LIMITER_COST = 0.05  # the limiter costs at most 5 %
TAIL = 2.5  # p99 of the read at most 2.5x its p50, at 64 connections
TAIL_CONNECTIONS = 64


def baseline_of(scenario: str) -> str:
    return BASELINES.get(scenario, DEFAULT_BASELINE)


def cpu_ratio(baseline: WrkResult | None, ours: WrkResult | None) -> float | None:
    """The baseline's CPU per request over ours: how many times cheaper we are (None where either is unknown)."""
    if baseline is None or ours is None or not baseline.server_cpu_us or not ours.server_cpu_us:
        return None
    return baseline.server_cpu_us / ours.server_cpu_us


def rps_ratio(baseline: WrkResult | None, ours: WrkResult | None) -> float | None:
    if baseline is None or ours is None or not baseline.requests_per_second:
        return None
    return ours.requests_per_second / baseline.requests_per_second


@dataclass(frozen=True)
class Verdict:
    server: str
    target: str
    wanted: str
    value: float | None  # None: not measured in this run
    met: bool | None
    note: str = ""

    def line(self) -> str:
        shown = "n/a" if self.value is None else f"{self.value:.3f}"
        state = "not measured" if self.met is None else ("met" if self.met else "NOT MET")
        return f"  [{state}] {self.server}: {self.target}: {shown} (wanted {self.wanted}){self.note}"


def _verdict(server: str, target: str, wanted: str, value: float | None, *, met: bool, note: str = "") -> Verdict:
    return Verdict(server, target, wanted, value, None if value is None else met, note)


def _cost(cheaper: WrkResult | None, dearer: WrkResult | None) -> float | None:
    """The share of `dearer`'s CPU per request that `cheaper` does without (what a layer costs)."""
    ratio = cpu_ratio(cheaper, dearer)
    return None if ratio is None else 1 - ratio


def verdicts(server: str, measured: Measured, *, connections: int) -> list[Verdict]:
    """The issue's targets, each with the figure this run measured for it (CPU per request, same run)."""

    def got(scenario: str, variant: str) -> WrkResult | None:
        return measured.get(scenario, {}).get(variant)

    found: list[Verdict] = []
    for scenario in ("read", "page"):
        ratio = cpu_ratio(got(scenario, "core"), got(scenario, "off"))
        wanted = f">= {READ_VS_CORE}x"
        met = ratio is not None and ratio >= READ_VS_CORE
        found.append(_verdict(server, f"{scenario}, cache off / plain Core", wanted, ratio, met=met))
    for scenario in ("read", "page"):
        ratio = cpu_ratio(got(scenario, "peer"), got(scenario, "on"))
        wanted = f">= {CACHED_VS_PEER}x"
        met = ratio is not None and ratio >= CACHED_VS_PEER
        found.append(_verdict(server, f"{scenario}, cache on / peer's cached path", wanted, ratio, met=met))
    cost = _cost(got("healthz", "bare"), got("healthz", "on") or got("healthz", "off"))
    met = cost is not None and cost <= STACK_COST
    found.append(_verdict(server, "/healthz stack cost", f"<= {STACK_COST:.0%}", cost, met=met))
    cost = _cost(got("config", "nolimit"), got("config", "off"))
    met = cost is not None and cost <= LIMITER_COST
    found.append(_verdict(server, "limiter cost (/api/v1/config)", f"<= {LIMITER_COST:.0%}", cost, met=met))
    note = "" if connections == TAIL_CONNECTIONS else f" (measured at {connections} connections, not 64)"
    for variant in ("off", "on"):
        result = got("read", variant)
        tail = result.p99_ms / result.p50_ms if result is not None and result.p50_ms else None
        met = tail is not None and tail <= TAIL
        found.append(
            _verdict(server, f"read p99 / p50, {VARIANT_NAMES[variant]}", f"<= {TAIL}x", tail, met=met, note=note)
        )
    return found


def _rows(measured: Measured) -> list[tuple[str, str, WrkResult, float | None, float | None]]:
    rows = []
    for scenario, variants in measured.items():
        baseline = variants.get(baseline_of(scenario))
        for variant, result in variants.items():
            rows.append((scenario, variant, result, cpu_ratio(baseline, result), rps_ratio(baseline, result)))
    return rows


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def text_report(server: str, database: str, measured: Measured, found: list[Verdict]) -> str:
    lines = [f"\n{server}, {database}:"]
    lines.append(
        f"  {'scenario':<8} {'variant':<32} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6} "
        f"{'CPU us/req':>10} {'CPU ratio':>9} {'rps ratio':>9}"
    )
    for scenario, variant, result, by_cpu, by_rps in _rows(measured):
        cpu = "n/a" if result.server_cpu_us is None else f"{result.server_cpu_us:.0f}"
        lines.append(
            f"  {scenario:<8} {VARIANT_NAMES.get(variant, variant):<32} {result.requests_per_second:>9,.0f} "
            f"{result.p50_ms:>8.1f} {result.p99_ms:>8.1f} {result.errors:>6} {cpu:>10} {_ratio(by_cpu):>9} "
            f"{_ratio(by_rps):>9}"
        )
    lines.append(
        "  ratios against the scenario's baseline (read, page, deep: plain Core; others: bare FastAPI from memory);"
        " CPU ratio = the baseline's CPU per request over the row's, above 1 = cheaper than the baseline"
    )
    lines.append("  targets (CPU per request, this run):")
    lines.extend(verdict.line() for verdict in found)
    return "\n".join(lines)


def markdown_report(runs: dict[str, Measured], found: list[Verdict], *, heading: str) -> str:
    lines = [f"# {heading}", ""]
    for server, measured in runs.items():
        lines += [f"## {server}", ""]
        lines.append("| scenario | variant | req/s | p50 ms | p99 ms | errors | CPU µs/req | CPU ratio | rps ratio |")
        lines.append("|---|---|---:|---:|---:|---:|---:|---:|---:|")
        for scenario, variant, result, by_cpu, by_rps in _rows(measured):
            cpu = "n/a" if result.server_cpu_us is None else f"{result.server_cpu_us:.0f}"
            lines.append(
                f"| {scenario} | {VARIANT_NAMES.get(variant, variant)} | {result.requests_per_second:,.0f} | "
                f"{result.p50_ms:.1f} | {result.p99_ms:.1f} | {result.errors} | {cpu} | {_ratio(by_cpu)} | "
                f"{_ratio(by_rps)} |"
            )
        lines.append("")
    lines += ["## Targets", "", "| server | target | wanted | measured | verdict |", "|---|---|---|---:|---|"]
    for verdict in found:
        state = "not measured" if verdict.met is None else ("met" if verdict.met else "**not met**")
        lines.append(
            f"| {verdict.server} | {verdict.target}{verdict.note} | {verdict.wanted} | {_ratio(verdict.value)} | "
            f"{state} |"
        )
    return "\n".join(lines) + "\n"


def to_json(runs: dict[str, Measured], found: list[Verdict], meta: dict[str, Any]) -> dict[str, Any]:
    return {
        "meta": meta,
        "servers": {
            server: {scenario: {v: asdict(r) for v, r in variants.items()} for scenario, variants in measured.items()}
            for server, measured in runs.items()
        },
        "targets": [asdict(verdict) for verdict in found],
    }


def _ids(answer: Any) -> Any:
    if isinstance(answer, dict) and isinstance(answer.get("items"), list):
        items = answer["items"]
        return answer.get("total"), [item.get("id") for item in items], sorted(items[0]) if items else []
    return answer.get("id"), sorted(answer) if isinstance(answer, dict) else answer


def same_answer(ours: str, theirs: str) -> bool:
    """Whether two JSON answers hold the same products with the same fields (values' formats may differ)."""
    return bool(_ids(json.loads(ours)) == _ids(json.loads(theirs)))
