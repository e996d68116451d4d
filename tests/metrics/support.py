"""Reading /metrics as Prometheus would."""

from prometheus_client.parser import text_string_to_metric_families


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample: (name, sorted labels) -> value."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(text: str, name: str, **labels: str) -> float:
    """The sum of the samples of NAME whose labels include LABELS (0 when there is none)."""
    wanted = set(labels.items())
    return sum(v for (n, pairs), v in samples(text).items() if n == name and wanted <= set(pairs))
