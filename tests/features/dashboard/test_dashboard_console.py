"""The admin console's dashboard draws the admins' dashboard (its service): the job queue, the webhooks' failure
rate over the last day, and the service's requests and error rates from its own metrics (SQLite and PostgreSQL)."""

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from app.core.context import AppContext
from app.features.webhooks.models import DeliveryState
from tests.support.console import account, sign_in
from tests.support.webhooks import stored_deliveries


async def test_the_cards_show_the_webhook_failure_rate_and_the_request_rates(
    context: AppContext, console_client: httpx.AsyncClient
) -> None:
    now = datetime.now(UTC)
    await stored_deliveries(
        context.database,
        [
            (DeliveryState.SUCCEEDED, now - timedelta(hours=1)),
            (DeliveryState.SUCCEEDED, now - timedelta(hours=2)),
            (DeliveryState.SUCCEEDED, now - timedelta(hours=3)),
            (DeliveryState.FAILED, now - timedelta(minutes=5)),
            (DeliveryState.FAILED, now - timedelta(hours=30)),  # before the window
        ],
    )
    assert (await sign_in(console_client, await account(context))).status_code == 303
    assert (await console_client.get("/api/v1/no-such-thing")).status_code == 404

    page = await console_client.get("/admin/")

    assert page.status_code == 200
    assert "Webhook failure rate" in page.text
    assert "25.0 %" in page.text
    assert "1 failed of 4 in 24 h" in page.text
    assert "Server error rate" in page.text
    assert "0 answered with a 5xx" in page.text
    assert "Since the server started; 4xx: " in page.text
    assert "Queue depth" in page.text


@pytest.mark.settings(metrics_enabled=False)
async def test_without_metrics_the_cards_say_so(context: AppContext, console_client: httpx.AsyncClient) -> None:
    assert (await sign_in(console_client, await account(context))).status_code == 303

    page = await console_client.get("/admin/")

    assert page.status_code == 200
    assert "The service&#39;s metrics are off" in page.text
    assert "No delivery finished in 24 h" in page.text
