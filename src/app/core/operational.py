"""The operational paths: the probes and the metrics scrape, which load balancers and Prometheus call every few
seconds. One list, read by the rate limiter (a probe must never be refused, or an instance is taken out of service
for being busy) and by tracing (their spans would drown the traces that matter)."""

__all__ = ["OPERATIONAL_PATHS"]

OPERATIONAL_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
