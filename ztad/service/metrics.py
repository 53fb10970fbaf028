"""Prometheus metrics of the service: requests, latency, events scored, age of the last run.

Each app has its own registry (two apps in one process, as in tests, never clash); the age of
the last run is read from the runs table when Prometheus scrapes.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

#: Latency buckets in seconds: scoring one event takes milliseconds, a batch up to seconds.
BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ServiceMetrics:
    """The metrics of one app; ``last_run_finished`` returns the newest run's end (epoch seconds)."""

    def __init__(self, last_run_finished: Callable[[], float | None]):
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
        age = Gauge(
            "ztad_last_run_age_seconds",
            "Seconds since the newest nightly run finished (NaN: none yet)",
            registry=self.registry,
        )
        age.set_function(lambda: _age(last_run_finished()))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def text(self) -> bytes:
        return generate_latest(self.registry)


def _age(finished: float | None) -> float:
    return float("nan") if finished is None else max(0.0, time.time() - finished)
