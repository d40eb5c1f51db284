"""Prometheus metrics: one registry per app, an ASGI middleware that times every request,
and gauges read fresh from the job table and the live engines at each scrape."""

from __future__ import annotations

import time
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from podplus.jobs.processes import EngineStats
from podplus.storage.jobs import JobStatus

LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


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
            "Resident memory of an engine and its ffmpeg children.",
            ["job_id"],
            registry=self.registry,
        )
        self.engine_cpu = Gauge(
            "podplus_engine_cpu_percent",
            "CPU use of an engine and its ffmpeg children.",
            ["job_id"],
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
        self.engine_rss.clear()
        self.engine_cpu.clear()
        count = 0
        for item in stats:
            count += 1
            self.engine_rss.labels(item.job_id).set(item.rss_bytes)
            self.engine_cpu.labels(item.job_id).set(item.cpu_percent)
        self.engines.set(count)

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
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope["method"]
            self.metrics.requests.labels(template, method, str(status)).inc()
            self.metrics.latency.labels(template, method).observe(time.perf_counter() - started)
