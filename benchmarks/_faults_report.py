"""What `benchmarks.faults` checks in the recorded traffic, and the summary it prints."""

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from benchmarks._traffic import PROBLEM_JSON, Ledger, ReadyzPoll, Record

__all__ = ["DatabaseState", "Findings", "Limits", "analyse", "print_summary"]

PHASES = ("before faults", "postgres outage", "between faults", "redis outage", "after faults")


@dataclass(frozen=True, slots=True)
class DatabaseState:
    order_ids: list[int]
    stock: dict[int, int]  # product id -> units
    initial_stock: int


@dataclass(frozen=True, slots=True)
class Limits:
    deadline: float
    max_recovery: float
    max_unavailable: float  # a 503 must be fast: the database connect timeout, plus a margin


@dataclass(slots=True)
class Findings:
    violations: list[str] = field(default_factory=list)
    recovery: dict[str, float | None] = field(default_factory=dict)
    acknowledged: int = 0
    refused: Counter[int] = field(default_factory=Counter)
    readyz_during: dict[str, Counter[str]] = field(default_factory=dict)
    readyz_after: tuple[int, dict[str, Any]] | None = None
    server_errors: int = 0
    phases: dict[str, list[Record]] = field(default_factory=dict)

    def fail(self, message: str) -> None:
        self.violations.append(message)


def _phase(record: Record, windows: dict[str, list[float]]) -> str:
    database, redis = windows.get("database", [float("inf")] * 4), windows.get("redis", [float("inf")] * 4)
    if record.finished < database[0]:  # a request still running when the fault begins is caught in it
        return PHASES[0]
    if record.started < database[3]:
        return PHASES[1]
    if record.finished < redis[0]:
        return PHASES[2]
    if record.started < redis[3]:
        return PHASES[3]
    return PHASES[4]


def _check_answers(findings: Findings, ledger: Ledger, limits: Limits) -> None:
    for record in ledger.records:
        where = f"{record.kind} at {record.started:.1f}"
        if record.status is None:
            findings.fail(f"{where}: no answer within {limits.deadline} s ({record.error})")
        elif record.status >= 500 and record.status != 503:  # noqa: PLR2004
            findings.fail(f"{where}: {record.status}")
        elif record.status == 503 and record.latency > limits.max_unavailable:  # noqa: PLR2004
            findings.fail(f"{where}: a 503 after {record.latency:.2f} s, not fast (> {limits.max_unavailable} s)")
        elif record.status >= 400 and not record.content_type.startswith(PROBLEM_JSON):  # noqa: PLR2004
            findings.fail(f"{where}: {record.status} as {record.content_type!r}, not problem+json")
    for phase in (PHASES[0], PHASES[3]):
        unavailable = [r for r in findings.phases.get(phase, []) if r.status == 503]  # noqa: PLR2004
        if unavailable:
            findings.fail(f"{len(unavailable)} 503(s) {phase}, when the database was up")


def _readyz_state(poll: ReadyzPoll) -> str:
    checks = poll.body.get("checks", {})
    named = ",".join(f"{name}={state}" for name, state in sorted(checks.items()))
    return f"{poll.status} {poll.body.get('status', poll.body.get('title', ''))} {named}".strip()


def _check_readyz(findings: Findings, ledger: Ledger, windows: dict[str, list[float]]) -> None:
    expected = {
        "database": lambda p: p.status == 503 and p.body.get("checks", {}).get("database") == "unavailable",  # noqa: PLR2004
        "redis": lambda p: (
            p.status == 200  # noqa: PLR2004
            and p.body.get("status") == "degraded"
            and p.body.get("checks", {}).get("redis") == "unavailable"
        ),
    }
    for name, window in windows.items():
        # Only polls made entirely while the server was certainly down: between "stopped" and "starting".
        polls = [p for p in ledger.readyz if p.started >= window[1] and p.finished <= window[2]]
        findings.readyz_during[name] = Counter(_readyz_state(p) for p in polls)
        if not polls:
            findings.fail(f"/readyz was not polled while {name} was down")
        elif not all(expected[name](p) for p in polls):
            findings.fail(f"/readyz while {name} was down: {dict(findings.readyz_during[name])}")


def _check_recovery(findings: Findings, ledger: Ledger, windows: dict[str, list[float]], limits: Limits) -> None:
    for name, window in windows.items():
        back = window[3]
        if name == "database":
            answered = [r for r in ledger.records if r.started >= back and r.status is not None and r.status < 300]  # noqa: PLR2004
        else:  # the limiter uses Redis again: responses carry rate-limit headers
            answered = [r for r in ledger.records if r.started >= back and r.rate_limited]
        first = min((r.finished for r in answered), default=None)
        findings.recovery[name] = None if first is None else first - back
        if first is None or first - back > limits.max_recovery:
            findings.fail(f"no recovery within {limits.max_recovery} s after {name} came back")


def _check_orders(findings: Findings, ledger: Ledger, state: DatabaseState) -> None:
    acknowledged = [order for order in ledger.orders if order.order_id is not None]
    findings.acknowledged = len(acknowledged)
    findings.refused = Counter(order.refused for order in ledger.orders if order.refused is not None)
    unresolved = [o.key for o in ledger.orders if o.order_id is None and o.refused is None]
    if unresolved:
        findings.fail(f"{len(unresolved)} order(s) never got a definitive answer: {unresolved[:5]}")
    if set(findings.refused) - {409}:
        findings.fail(f"orders refused with unexpected statuses: {dict(findings.refused)}")
    ids = Counter(order.order_id for order in acknowledged)
    if duplicated := [i for i, n in ids.items() if n > 1]:
        findings.fail(f"one order id acknowledged for several keys: {duplicated[:5]}")
    in_database = Counter(state.order_ids)
    if missing := set(ids) - set(in_database):
        findings.fail(f"{len(missing)} acknowledged order(s) missing from the database: {sorted(missing)[:5]}")  # type: ignore[type-var]
    if unacknowledged := set(in_database) - set(ids):
        findings.fail(
            f"{len(unacknowledged)} order(s) in the database never acknowledged: {sorted(unacknowledged)[:5]}"
        )
    sold: Counter[int] = Counter()
    for order in acknowledged:
        sold.update(order.items)
    for product_id, units in state.stock.items():
        if units != state.initial_stock - sold[product_id]:
            findings.fail(
                f"product {product_id}: stock {units}, expected {state.initial_stock} - {sold[product_id]} acknowledged"
            )


def analyse(ledger: Ledger, windows: dict[str, list[float]], state: DatabaseState, *, options: Limits) -> Findings:
    findings = Findings()
    by_phase: dict[str, list[Record]] = defaultdict(list)
    for record in ledger.records:
        by_phase[_phase(record, windows)].append(record)
    findings.phases = dict(by_phase)
    if set(windows) != {"database", "redis"}:
        findings.fail(f"the faults did not all happen (windows: {sorted(windows)}): run longer")
    _check_answers(findings, ledger, options)
    _check_readyz(findings, ledger, windows)
    _check_recovery(findings, ledger, windows, options)
    _check_orders(findings, ledger, state)
    return findings


def print_summary(findings: Findings, ledger: Ledger) -> None:
    print(f"{'phase':<17} {'requests':>8} {'max s':>6} {'max 503 s':>9}  statuses")
    for phase in PHASES:
        records = findings.phases.get(phase, [])
        if not records:
            continue
        statuses = Counter("none" if r.status is None else str(r.status) for r in records)
        unavailable = [r.latency for r in records if r.status == 503]  # noqa: PLR2004
        worst_503 = f"{max(unavailable):.2f}" if unavailable else "-"
        shown = " ".join(f"{s}:{n}" for s, n in sorted(statuses.items()))
        print(f"{phase:<17} {len(records):>8} {max(r.latency for r in records):>6.2f} {worst_503:>9}  {shown}")
    for name, during in findings.readyz_during.items():
        print(f"/readyz while {name} was down: {dict(during)}")
    print(f"/readyz afterwards: {findings.readyz_after}")
    for name, seconds in findings.recovery.items():
        print(f"recovery after {name} came back: {'never' if seconds is None else f'{seconds:.2f} s'}")
    print(
        f"orders: {len(ledger.orders)} placed, {findings.acknowledged} acknowledged (201), "
        f"refused {dict(findings.refused)}; unhandled errors logged by the service: {findings.server_errors}"
    )
    if findings.violations:
        print(f"\nFAILED: {len(findings.violations)} violation(s)")
        for violation in findings.violations[:40]:
            print(f"  - {violation}")
    else:
        print("\nOK: every guarantee held")
