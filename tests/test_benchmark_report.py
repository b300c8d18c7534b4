"""The benchmark harness's own arithmetic: ratios, the issue's targets, the report, the JSON and the chart, on
made-up figures. No server runs and no time is measured here (the harness itself does that: docs/performance.md)."""

import json
from pathlib import Path

from benchmarks._chart import write_chart, write_results
from benchmarks._http import WrkResult, median
from benchmarks._report import Measured, Verdict, cpu_ratio, markdown_report, same_answer, text_report, verdicts


def result(cpu_us: float, *, p50: float = 10.0, p99: float = 20.0) -> WrkResult:
    return WrkResult(1e6 / cpu_us, p50, p99, 0, cpu_us, 1000)


def measured(*, off_read: float, on_read: float, peer_read: float) -> Measured:
    """One server's figures: ForgeAPI's read at `off_read` µs against plain Core at 600, its page always 1.5x."""
    return {
        "healthz": {"bare": result(100), "off": result(118), "on": result(130)},
        "config": {"bare": result(100), "off": result(200), "on": result(200), "nolimit": result(192)},
        "read": {
            "core": result(600),
            "off": result(off_read, p50=10, p99=30),
            "on": result(on_read, p50=10, p99=20),
            "peer": result(peer_read),
        },
        "page": {"core": result(1200), "off": result(800), "on": result(200), "peer": result(860)},
    }


def states(found: list[Verdict]) -> dict[str, bool | None]:
    return {v.target: v.met for v in found}


def test_ratios_are_the_baseline_s_cpu_per_request_over_the_variant_s() -> None:
    assert cpu_ratio(result(600), result(400)) == 1.5
    assert cpu_ratio(None, result(400)) is None
    assert cpu_ratio(WrkResult(1.0, 1.0, 1.0, 0, None), result(400)) is None


def test_each_target_is_met_or_not_by_its_own_figure() -> None:
    found = verdicts("granian", measured(off_read=400, on_read=300, peer_read=630), connections=64)
    assert states(found) == {
        "read, cache off / plain Core": True,  # 600 / 400 = 1.5
        "page, cache off / plain Core": True,  # 1200 / 800 = 1.5
        "read, cache on / peer's cached path": True,  # 630 / 300 = 2.1
        "page, cache on / peer's cached path": True,  # 860 / 200 = 4.3
        "/healthz stack cost": False,  # 1 - 100/130 = 23 %, measured on the default app (cache on)
        "limiter cost (/api/v1/config)": True,  # 1 - 192/200 = 4 %
        "read p99 / p50, ForgeAPI, cache off": False,  # 3x
        "read p99 / p50, ForgeAPI, cache on": True,  # 2x
    }
    slower = verdicts("uvicorn", measured(off_read=500, on_read=400, peer_read=630), connections=64)
    assert states(slower)["read, cache off / plain Core"] is False  # 1.2
    assert states(slower)["read, cache on / peer's cached path"] is False  # 1.575


def test_a_target_whose_figures_were_not_measured_says_so() -> None:
    figures = measured(off_read=400, on_read=300, peer_read=630)
    del figures["read"]["peer"], figures["page"]["peer"], figures["config"]
    found = verdicts("granian", figures, connections=16)
    assert states(found)["read, cache on / peer's cached path"] is None
    assert states(found)["limiter cost (/api/v1/config)"] is None
    assert "not measured" in found[2].line()
    assert "(measured at 16 connections, not 64)" in found[-1].line()


def test_the_reports_give_every_row_its_ratio_and_every_verdict() -> None:
    figures = measured(off_read=400, on_read=300, peer_read=630)
    found = verdicts("granian", figures, connections=64)
    text = text_report("granian", "postgresql", figures, found)
    assert "read     ForgeAPI, cache off" in text
    assert "1.500" in text  # Core's 600 µs over ForgeAPI's 400
    assert "[NOT MET] granian: /healthz stack cost: 0.231 (wanted <= 20%)" in text
    table = markdown_report({"granian": figures}, found, heading="a run")
    assert "| read | peer's cached path (stand-in) | 1,587 |" in table
    assert "| granian | /healthz stack cost | <= 20% | 0.231 | **not met** |" in table


def test_the_results_are_written_as_json_markdown_and_a_png(tmp_path: Path) -> None:
    runs = {
        "uvicorn": measured(off_read=500, on_read=400, peer_read=630),
        "granian": measured(off_read=400, on_read=300, peer_read=630),
    }
    found = [v for server, figures in runs.items() for v in verdicts(server, figures, connections=64)]
    write_results(
        tmp_path, "run", runs, found, {"database": "postgresql", "rounds": 1, "seconds": 2, "connections": 64}
    )
    written = json.loads((tmp_path / "run.json").read_text())
    assert written["servers"]["granian"]["read"]["off"]["server_cpu_us"] == 400
    assert len(written["targets"]) == 16
    assert (tmp_path / "run.md").read_text().startswith("# Benchmark: postgresql, 1 x 2 s, 64 connections")
    assert (tmp_path / "run.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_a_chart_is_drawn_for_scenarios_some_variants_did_not_run(tmp_path: Path) -> None:
    write_chart(
        {"granian": {"healthz": {"bare": result(100)}, "read": {"off": result(400)}}}, tmp_path / "c.png", title="t"
    )
    assert (tmp_path / "c.png").stat().st_size > 1000


def test_rounds_are_summed_up_by_their_medians() -> None:
    summary = median([result(100, p99=30), result(300, p99=10), result(200, p99=20)])
    assert (summary.server_cpu_us, summary.p99_ms, summary.requests) == (200, 20, 3000)


def test_answers_are_the_same_when_they_hold_the_same_products_and_fields() -> None:
    ours = '{"items": [{"id": 1, "price": "9.99"}], "total": 5, "page": 1}'
    assert same_answer(ours, '{"page": 1, "total": 5, "items": [{"price": "9.990", "id": 1}]}')
    assert not same_answer(ours, '{"items": [{"id": 2, "price": "9.99"}], "total": 5}')
    assert not same_answer('{"id": 1, "name": "a"}', '{"id": 1}')
