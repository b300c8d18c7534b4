"""The admin console's dashboard: the admins' dashboard (`GET /api/v1/admin/dashboard`, this feature's service) drawn
as cards and charts: the job queue's depth and its dead jobs, the webhooks' failure rate over the last day, the
service's requests and error rates from its own metrics, what the features count and sum per day (registrations,
orders, revenue...) and the jobs by state.

Every panel reads the same `Dashboard`, computed once per page (`_dashboard`), as the API's answer is."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette_admin import CardRowWidget, ChartWidget, GridWidget, StatWidget
from starlette_admin.widgets import Breakpoints

from app.core.context import context_of
from app.core.dashboard import DashboardSources
from app.core.jobs import JobState
from app.features.dashboard import service
from app.features.dashboard.schemas import Dashboard
from app.shared.console import ConsoleSection, read_session

__all__ = ["DASHBOARD_DAYS", "section"]

DASHBOARD_DAYS = 14
_STATE_KEY = "forge_console_dashboard"


async def _dashboard(request: Request) -> Dashboard:
    """The dashboard of the page being drawn: computed by the first panel that asks, then shared by the others."""
    cached: Dashboard | None = getattr(request.state, _STATE_KEY, None)
    if cached is None:
        context = context_of(request)
        async with read_session(request) as session:
            cached = await service.dashboard(
                session, days=DASHBOARD_DAYS, sources=context.component(DashboardSources), metrics=context.metrics
            )
        setattr(request.state, _STATE_KEY, cached)
    return cached


def percent(rate: float | None) -> str:
    """A rate as people read it: `2.5 %`; a dash when there was nothing to count."""
    return "-" if rate is None else f"{rate * 100:.1f} %"


@dataclass
class LiveStat(StatWidget):
    """A stat card whose description and colour are read with each page, as its value is (starlette-admin's are
    fixed when the card is made)."""

    details_callback: Callable[[Request], Awaitable[tuple[str, str]]] | None = None

    async def get_context(self, request: Request) -> dict[str, Any]:
        context = await super().get_context(request)
        if self.details_callback is not None:
            context["description"], context["color"] = await self.details_callback(request)
        return context


async def _depth(request: Request) -> int:
    return (await _dashboard(request)).jobs.depth


async def _depth_details(request: Request) -> tuple[str, str]:
    by_state = (await _dashboard(request)).jobs.by_state
    return f"{by_state[JobState.QUEUED]} queued, {by_state[JobState.RUNNING]} running", ""


async def _dead(request: Request) -> int:
    return (await _dashboard(request)).jobs.dead


async def _dead_details(request: Request) -> tuple[str, str]:
    dead = (await _dashboard(request)).jobs.dead
    return ("Waiting for an administrator: retry or cancel", "danger") if dead else ("None", "success")


async def _webhook_rate(request: Request) -> str:
    return percent((await _dashboard(request)).webhooks.failure_rate)


async def _webhook_details(request: Request) -> tuple[str, str]:
    webhooks = (await _dashboard(request)).webhooks
    finished = webhooks.succeeded + webhooks.failed
    if not finished:
        return f"No delivery finished in {webhooks.window_hours} h", ""
    return f"{webhooks.failed} failed of {finished} in {webhooks.window_hours} h", "danger" if webhooks.failed else ""


async def _requests(request: Request) -> str:
    rates = (await _dashboard(request)).requests
    return "-" if rates is None else str(rates.requests)


async def _requests_details(request: Request) -> tuple[str, str]:
    rates = (await _dashboard(request)).requests
    if rates is None:
        return "The service's metrics are off (FORGE_METRICS_ENABLED)", ""
    return f"Since the server started; 4xx: {percent(rates.client_error_rate)}", ""


async def _server_errors(request: Request) -> str:
    rates = (await _dashboard(request)).requests
    return "-" if rates is None else percent(rates.server_error_rate)


async def _server_errors_details(request: Request) -> tuple[str, str]:
    rates = (await _dashboard(request)).requests
    if rates is None:
        return "The service's metrics are off", ""
    return f"{rates.server_errors} answered with a 5xx", "danger" if rates.server_errors else "success"


async def _counts_per_day(request: Request) -> list[dict[str, Any]]:
    dashboard = await _dashboard(request)
    return [
        {"name": series.name, "data": [{"x": p.day.isoformat(), "y": p.count} for p in series.points]}
        for series in dashboard.counts
    ]


async def _amounts_per_day(request: Request) -> list[dict[str, Any]]:
    dashboard = await _dashboard(request)
    # A float for the chart's axis only: the amounts themselves are exact (the API's are decimal strings).
    return [
        {"name": series.name, "data": [{"x": p.day.isoformat(), "y": float(p.amount)} for p in series.points]}
        for series in dashboard.amounts
    ]


async def _jobs_by_state(request: Request) -> list[dict[str, Any]]:
    by_state = (await _dashboard(request)).jobs.by_state
    return [{"name": "Jobs", "data": [{"x": state.value, "y": count} for state, count in by_state.items()]}]


# Drawn at once, not animated: a dashboard is read, and a screenshot of it shows what it says.
_STILL = {"chart": {"animations": {"enabled": False}}}
_DAILY = {**_STILL, "noData": {"text": "Nothing yet"}, "xaxis": {"type": "category"}}

STATS = CardRowWidget(
    children=[
        LiveStat(title="Queue depth", value_callback=_depth, details_callback=_depth_details),
        LiveStat(title="Dead jobs", value_callback=_dead, details_callback=_dead_details),
        LiveStat(title="Webhook failure rate", value_callback=_webhook_rate, details_callback=_webhook_details),
        LiveStat(title="Requests", value_callback=_requests, details_callback=_requests_details),
        LiveStat(title="Server error rate", value_callback=_server_errors, details_callback=_server_errors_details),
    ]
)

CHARTS = GridWidget(
    breakpoints=Breakpoints(default=1, md=2),
    children=[
        ChartWidget(
            title=f"Per day (last {DASHBOARD_DAYS} days, UTC)",
            chart_type="bar",
            series_callback=_counts_per_day,
            height=300,
            options=_DAILY,
        ),
        ChartWidget(
            title=f"Amounts per day (last {DASHBOARD_DAYS} days; cancelled orders left out)",
            chart_type="area",
            series_callback=_amounts_per_day,
            height=300,
            options={**_DAILY, "stroke": {"width": 2}, "dataLabels": {"enabled": False}},
        ),
        ChartWidget(
            title="Jobs by state (queued: the queue's depth; dead: waiting for an administrator)",
            chart_type="bar",
            series_callback=_jobs_by_state,
            height=300,
            options={**_STILL, "plotOptions": {"bar": {"distributed": True}}, "legend": {"show": False}},
        ),
    ],
)

section = ConsoleSection(panels=(STATS, CHARTS))
