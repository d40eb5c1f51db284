"""Prometheus metrics: one registry per app, an ASGI middleware that times every request,
and gauges read fresh from the job table and the live engines at each scrape.

Every label takes its values from a fixed set: HTTP methods podplus knows (anything else is
``other``), route templates (``/api/jobs/{job_id}``, never the path; ``unmatched`` when no
route matched), status codes HTTP defines, failure causes, job statuses. A value taken
from the request or from the data (a made-up method, a job id) would make a new series
for good, and strangers could grow the exposition without end. Per-job figures are the
admin API's (``/api/admin/processes``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from http import HTTPStatus

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from podplus.jobs.processes import EngineStats
from podplus.storage.jobs import JobStatus

LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
KNOWN_STATUSES = frozenset(str(status.value) for status in HTTPStatus)
OTHER = "other"
UNMATCHED = "unmatched"


def request_labels(scope: Scope, status: int) -> tuple[str, str, str]:
    """(route, method, status) for a request, each from its fixed set."""
    route = scope.get("route")
    template = getattr(route, "path", None) or UNMATCHED
    method = scope["method"] if scope["method"] in KNOWN_METHODS else OTHER
    code = str(status) if str(status) in KNOWN_STATUSES else OTHER
    return template, method, code


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "podplus_http_requests",
            "HTTP requests answered.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "podplus_http_request_duration_seconds",
            "Time to answer an HTTP request.",
            ["route", "method"],
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self.jobs = Gauge(
            "podplus_jobs", "Jobs in the table, by status.", ["status"], registry=self.registry
        )
        self.queue_depth = Gauge(
            "podplus_job_queue_depth", "Jobs waiting for a runner.", registry=self.registry
        )
        self.engines = Gauge(
            "podplus_engine_processes",
            "Engine processes running on this host.",
            registry=self.registry,
        )
        self.engine_rss = Gauge(
            "podplus_engine_rss_bytes",
            "Resident memory of the engines on this host and their ffmpeg children.",
            registry=self.registry,
        )
        self.engine_cpu = Gauge(
            "podplus_engine_cpu_percent",
            "CPU use of the engines on this host and their ffmpeg children.",
            registry=self.registry,
        )
        self.sweep_kills = Counter(
            "podplus_boot_sweep_kills",
            "Leftover engine processes killed at boot.",
            registry=self.registry,
        )
        # Labelled by ``FailureCause``: a fixed handful of values, never a message.
        self.failures = Counter(
            "podplus_job_failures",
            "Jobs that failed, by cause.",
            ["cause"],
            registry=self.registry,
        )

    def observe_jobs(self, counts: dict[str, int]) -> None:
        for status in JobStatus:
            self.jobs.labels(status.value).set(counts.get(status.value, 0))
        self.queue_depth.set(counts.get(JobStatus.QUEUED.value, 0))

    def observe_engines(self, stats: Iterable[EngineStats]) -> None:
        """Totals over the live engines (per engine, ask ``/api/admin/processes``)."""
        count, rss_bytes, cpu_percent = 0, 0, 0.0
        for item in stats:
            count += 1
            rss_bytes += item.rss_bytes
            cpu_percent += item.cpu_percent
        self.engines.set(count)
        self.engine_rss.set(rss_bytes)
        self.engine_cpu.set(cpu_percent)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Counts and times every HTTP request by its route template (``/api/jobs/{job_id}``)."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            template, method, code = request_labels(scope, status)
            self.metrics.requests.labels(template, method, code).inc()
            self.metrics.latency.labels(template, method).observe(time.perf_counter() - started)
