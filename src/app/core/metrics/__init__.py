"""Prometheus metrics: RED per route template, requests in flight, database pool use, rate-limit outcomes, jobs,
webhook deliveries.

Every label has a bounded set of values, whatever clients send (a label fed from the request unchecked gives a
client a new series per request: 2,000 requests with made-up methods grew `/metrics` from 88 KB to 3.3 MB):
- `route`: the route template (`/api/v1/users/{user_id}`), never the raw path; `unmatched` when no route matched.
  Plain Starlette routes and mounts (the docs pages, `/openapi.json`, the docs' assets) count under their own
  template too: a mount's is its prefix and `{path}` (`/docs/static/{path}`), never the file asked for.
- `method`: the methods of RFC 9110 and PATCH; any other (`X123456`, `get`) is `OTHER`.
- `status`: the registered HTTP status codes and 499 (a client gone before the answer); any other from 100 to 599
  is its class (`2xx`), anything else `other`.

One scrape reports the whole server. Under `forge serve` every worker counts in a file of its own in one directory
(`FORGE_METRICS_DIR`, made ready by `server_metrics_directory`), and the worker that answers a scrape adds them
all up (`_shard.py`): counters over every worker that served in this run (a replaced worker's counts stay, so no
counter goes back), gauges over the living workers (their sum: requests in flight, connections of every pool).
Counters that other components already keep (the rate limiter's rejections, whose `policy` label is one of its
configured policies, and the pool's connections) cost nothing per request: each worker copies them into its file
every `PUBLISH_SECONDS` and when it answers a scrape.
"""

from app.core.metrics._directory import MetricsDirectoryInUseError, server_metrics_directory
from app.core.metrics._http import HttpMetrics, RequestCounts
from app.core.metrics._jobs import JOB_OUTCOMES, JobMetrics
from app.core.metrics._labels import METHOD_LABELS, ROUTE_TEMPLATE_STATE, STATUS_LABELS, route_template
from app.core.metrics._metrics import (
    PUBLISH_SECONDS,
    Metrics,
    authorise_scrape,
    exposition,
    job_metrics,
    state_readings,
)
from app.core.metrics._shard import ShardReading, read_shards
from app.core.metrics._webhooks import WEBHOOK_OUTCOMES, WebhookMetrics

__all__ = [
    "CONTENT_TYPE",
    "JOB_OUTCOMES",
    "METHOD_LABELS",
    "PUBLISH_SECONDS",
    "ROUTE_TEMPLATE_STATE",
    "STATUS_LABELS",
    "WEBHOOK_OUTCOMES",
    "HttpMetrics",
    "JobMetrics",
    "Metrics",
    "MetricsDirectoryInUseError",
    "RequestCounts",
    "ShardReading",
    "WebhookMetrics",
    "authorise_scrape",
    "exposition",
    "job_metrics",
    "read_shards",
    "route_template",
    "server_metrics_directory",
    "state_readings",
]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
