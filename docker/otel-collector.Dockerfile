# The OpenTelemetry Collector (contrib) plus a static busybox: the official image is distroless (no shell, no
# wget or curl), so nothing inside it could ask the health_check extension whether the collector is up.
FROM busybox:1.37-musl AS busybox

FROM otel/opentelemetry-collector-contrib:0.119.0
COPY --from=busybox /bin/busybox /busybox
