"""Prometheus metrics of the service: requests, latency, events scored, age of the last run.

Each app has its own registry (two apps in one process, as in tests, never clash). Under
``ztad serve --workers N`` the workers' counters and histograms are written to a folder the
parent process shares with them (prometheus_client's multiprocess mode) and summed over all
workers at each scrape, whichever worker answers it. The age of the last run is computed when
Prometheus scrapes, from the runs table, by a collector of its own rather than a function gauge,
which multiprocess mode does not support.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

#: Latency buckets in seconds: scoring one event takes milliseconds, a batch up to seconds.
BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ServiceMetrics:
    """The metrics of one app; ``last_run_finished`` returns the newest run's end (epoch seconds).

    ``shared_dir`` is the folder of prometheus_client's multiprocess mode (its
    ``PROMETHEUS_MULTIPROC_DIR``, set before the process imported prometheus_client): the
    metrics exposed are then the sums over every process writing there.
    """

    def __init__(self, last_run_finished: Callable[[], float | None], shared_dir: str | None = None):
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "ztad_api_requests", "HTTP requests served", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "ztad_api_request_seconds",
            "Time to answer a request",
            ["method", "route"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.events = Counter("ztad_api_events_scored", "Events scored by /predict", registry=self.registry)
        self.alerts = Counter(
            "ztad_api_alerts", "Events /predict decided to alert on", registry=self.registry
        )
        self.exposed = _exposed(self.registry, shared_dir)
        self.exposed.register(LastRunAge(last_run_finished))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def text(self) -> bytes:
        return generate_latest(self.exposed)


def _exposed(own: CollectorRegistry, shared_dir: str | None) -> CollectorRegistry:
    """The registry a scrape reads: this app's own, or the sums over the shared folder."""
    if shared_dir is None:
        return own
    from prometheus_client.multiprocess import MultiProcessCollector

    summed = CollectorRegistry()
    MultiProcessCollector(summed, path=shared_dir)
    return summed


class LastRunAge:
    """A collector of ``ztad_last_run_age_seconds``, read from the runs table at each scrape."""

    def __init__(self, last_run_finished: Callable[[], float | None]):
        self.last_run_finished = last_run_finished

    def describe(self) -> list:
        return [self._family()]

    def collect(self) -> list:
        family = self._family()
        family.add_metric([], _age(self.last_run_finished()))
        return [family]

    @staticmethod
    def _family() -> GaugeMetricFamily:
        return GaugeMetricFamily(
            "ztad_last_run_age_seconds", "Seconds since the newest nightly run finished (NaN: none yet)"
        )


def _age(finished: float | None) -> float:
    return float("nan") if finished is None else max(0.0, time.time() - finished)
