"""A login pacer: ``rate_per_s`` logins a second against ``/api/auth/token``, open loop.

Run as its own process (``python -m harness.logins ...``) so its event loop and CPU
are not the load generator's. Each login is started on schedule whether or not the
previous one has answered, as real users would; the summary is one JSON line on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

import httpx

from harness.processes import BENCH_DIR


@dataclass(frozen=True)
class LoginSummary:
    sent: int
    ok: int
    duration_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float

    @property
    def rate_per_s(self) -> float:
        return self.ok / self.duration_s if self.duration_s else 0.0


async def pace(
    base_url: str, *, email: str, password: str, rate_per_s: float, duration_s: float
) -> LoginSummary:
    latencies_ms: list[float] = []
    statuses: list[int] = []
    count = int(rate_per_s * duration_s)
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30.0) as http:

        async def login() -> None:
            sent = time.perf_counter()
            try:
                response = await http.post(
                    "/api/auth/token", data={"username": email, "password": password}
                )
                statuses.append(response.status_code)
            except httpx.HTTPError:
                statuses.append(0)
            latencies_ms.append((time.perf_counter() - sent) * 1e3)

        started = time.perf_counter()
        tasks = []
        for index in range(count):
            delay_s = started + index / rate_per_s - time.perf_counter()
            if delay_s > 0:
                await asyncio.sleep(delay_s)
            tasks.append(asyncio.create_task(login()))
        await asyncio.gather(*tasks)
        elapsed_s = time.perf_counter() - started
    ordered = sorted(latencies_ms) or [0.0]
    return LoginSummary(
        sent=count,
        ok=sum(1 for status in statuses if status == 200),
        duration_s=elapsed_s,
        p50_ms=statistics.median(ordered),
        p99_ms=ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
        max_ms=ordered[-1],
    )


class LoginPacer:
    """The pacer as a child process: start it, do the measurement, then ``summary()``."""

    def __init__(
        self, base_url: str, *, email: str, password: str, rate_per_s: float, duration_s: float
    ) -> None:
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "harness.logins",
                base_url,
                "--email",
                email,
                "--password",
                password,
                "--rate-per-s",
                str(rate_per_s),
                "--duration-s",
                str(duration_s),
            ],
            cwd=BENCH_DIR,
            stdout=subprocess.PIPE,
            text=True,
        )

    def summary(self, *, timeout_s: float = 120.0) -> LoginSummary:
        output, _ = self._process.communicate(timeout=timeout_s)
        if self._process.returncode != 0:
            raise RuntimeError(f"login pacer exited {self._process.returncode}")
        return LoginSummary(**json.loads(output.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("base_url")
    parser.add_argument("--email", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--rate-per-s", type=float, default=8.0)
    parser.add_argument("--duration-s", type=float, default=10.0)
    args = parser.parse_args()
    summary = asyncio.run(
        pace(
            args.base_url,
            email=args.email,
            password=args.password,
            rate_per_s=args.rate_per_s,
            duration_s=args.duration_s,
        )
    )
    print(json.dumps(summary.__dict__))


if __name__ == "__main__":
    main()
