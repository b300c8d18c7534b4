from datetime import date, datetime

from pydantic import BaseModel, Field

from app.core.jobs import JobState
from app.core.money import MoneyOut

__all__ = [
    "AmountPoint",
    "CountPoint",
    "DailyAmountSeries",
    "DailyCountSeries",
    "Dashboard",
    "JobQueue",
    "RequestRates",
    "WebhookFailures",
]


class CountPoint(BaseModel):
    day: date
    count: int


class AmountPoint(BaseModel):
    day: date
    amount: MoneyOut = Field(description='Exact, as a decimal string (`"129.90"`).')


class DailyCountSeries(BaseModel):
    name: str = Field(description="What is counted: `registrations`, `orders`...")
    points: list[CountPoint] = Field(description="One per UTC day of the window, oldest first; 0 on quiet days.")


class DailyAmountSeries(BaseModel):
    name: str = Field(description="What is summed: `revenue`...")
    points: list[AmountPoint] = Field(description="One per UTC day of the window, oldest first; 0.00 on quiet days.")


class JobQueue(BaseModel):
    by_state: dict[JobState, int] = Field(description="How many jobs are in each state now.")
    depth: int = Field(description="Jobs waiting to run or running (`queued` and `running`).")
    dead: int = Field(description="Jobs that failed their last attempt, waiting for an admin to retry or cancel.")


class WebhookFailures(BaseModel):
    window_hours: int
    succeeded: int = Field(description="Deliveries that finished delivered in the window.")
    failed: int = Field(description="Deliveries that finished failed for good in the window.")
    failure_rate: float | None = Field(description="failed / (succeeded + failed); null when none finished.")


class RequestRates(BaseModel):
    """From the service's own metrics (what /metrics reports): every request since the server started."""

    requests: int
    client_errors: int = Field(description="Answered with a 4xx status.")
    server_errors: int = Field(description="Answered with a 5xx status.")
    client_error_rate: float | None = Field(description="client_errors / requests; null before any request.")
    server_error_rate: float | None = Field(description="server_errors / requests; null before any request.")


class Dashboard(BaseModel):
    """What an operator looks at first: activity per day, the job queue, webhook health, the service's errors."""

    generated_at: datetime
    days: int
    since: date = Field(description="The window's first UTC day; the last is today (UTC).")
    counts: list[DailyCountSeries]
    amounts: list[DailyAmountSeries]
    jobs: JobQueue
    webhooks: WebhookFailures
    requests: RequestRates | None = Field(description="null when the service's metrics are off (FORGE_METRICS_*).")
