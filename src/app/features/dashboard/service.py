"""The admins' dashboard: the daily series that features contribute (core/dashboard.py), the job queue (core/jobs),
the webhooks' failures of the last day, and the service's requests and errors from its own metrics."""

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from app.core import jobs
from app.core.dashboard import DailyAmounts, DailyCounts, DashboardSources
from app.core.database import utcnow
from app.core.metrics import Metrics
from app.features.dashboard.schemas import (
    AmountPoint,
    CountPoint,
    DailyAmountSeries,
    DailyCountSeries,
    Dashboard,
    JobQueue,
    RequestRates,
    WebhookFailures,
)
from app.features.webhooks import service as webhooks_service

__all__ = ["MAX_DAYS", "WEBHOOK_WINDOW", "dashboard"]

MAX_DAYS = 366
WEBHOOK_WINDOW = timedelta(hours=24)


async def dashboard(
    session: AsyncSession, *, days: int, sources: DashboardSources, metrics: Metrics | None
) -> Dashboard:
    """The dashboard for the last `days` UTC days, today included."""
    now = utcnow()
    first_day = now.date() - timedelta(days=days - 1)
    since = datetime.combine(first_day, time(), tzinfo=UTC)
    window = [first_day + timedelta(days=offset) for offset in range(days)]
    counts: list[DailyCountSeries] = []
    amounts: list[DailyAmountSeries] = []
    for source in sources.daily:
        for series in await source(session, since=since):
            if isinstance(series, DailyCounts):
                points = [CountPoint(day=day, count=series.values.get(day, 0)) for day in window]
                counts.append(DailyCountSeries(name=series.name, points=points))
            else:
                amounts.append(DailyAmountSeries(name=series.name, points=_amounts(series, window)))
    return Dashboard(
        generated_at=now,
        days=days,
        since=first_day,
        counts=counts,
        amounts=amounts,
        jobs=_job_queue(await jobs.count_by_state(session)),
        webhooks=await _webhook_failures(session, since=now - WEBHOOK_WINDOW),
        requests=_request_rates(metrics) if metrics is not None else None,
    )


def _amounts(series: DailyAmounts, window: list[date]) -> list[AmountPoint]:
    return [AmountPoint(day=day, amount=series.values.get(day, Decimal(0))) for day in window]


def _job_queue(by_state: Mapping[jobs.JobState, int]) -> JobQueue:
    depth = by_state[jobs.JobState.QUEUED] + by_state[jobs.JobState.RUNNING]
    return JobQueue(by_state=dict(by_state), depth=depth, dead=by_state[jobs.JobState.DEAD])


async def _webhook_failures(session: AsyncSession, *, since: datetime) -> WebhookFailures:
    outcomes = await webhooks_service.delivery_outcomes(session, since=since)
    finished = outcomes.succeeded + outcomes.failed
    return WebhookFailures(
        window_hours=int(WEBHOOK_WINDOW.total_seconds() // 3600),
        succeeded=outcomes.succeeded,
        failed=outcomes.failed,
        failure_rate=outcomes.failed / finished if finished else None,
    )


def _request_rates(metrics: Metrics) -> RequestRates:
    counts = metrics.request_counts()
    total = counts.total
    return RequestRates(
        requests=total,
        client_errors=counts.client_errors,
        server_errors=counts.server_errors,
        client_error_rate=counts.client_errors / total if total else None,
        server_error_rate=counts.server_errors / total if total else None,
    )
