"""Reading Prometheus text format (what `GET /metrics` answers) in tests."""

import re

__all__ = ["sample", "series"]


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in Prometheus text, or None when it is absent."""
    rendered = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        metric, _, value = line.rpartition(" ")
        found_name, _, found_labels = metric.partition("{")
        found = ",".join(sorted(found_labels.rstrip("}").split(","))) if found_labels else ""
        if found_name == name and found == rendered:
            return float(value)
    return None


def series(text: str, name: str) -> list[dict[str, str]]:
    """The label sets of every sample of `name` in Prometheus text."""
    found = []
    for line in text.splitlines():
        metric, _, _value = line.rpartition(" ")
        found_name, _, labels = metric.partition("{")
        if found_name == name and not line.startswith("#"):
            found.append(dict(re.findall(r'(\w+)="([^"]*)"', labels)))
    return found
