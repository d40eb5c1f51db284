"""A light latency sampler: ``rate_per_s`` timed requests a second, for the over-time chart.

wrk reports one histogram per run; this process instead sends its own requests on a
fixed schedule (open loop: a slow answer does not delay the next request) beside wrk's
load and records when each was sent and how long it took. Twenty a second costs the
server well under 1% of what wrk asks of it, so it measures the load without adding to it.

    python -m harness.sampler http://127.0.0.1:8000/api/users/me \
        --header "Authorization: Bearer …" --duration-s 60 --out samples.jsonl
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import httpx

from harness.processes import BENCH_DIR


@dataclass(frozen=True)
class Sample:
    sent_at: float  # epoch seconds, to line up with the harness's phase marks
    latency_ms: float
    status: int  # 0: no answer (connection error or timeout)


async def sample(
    url: str, *, headers: dict[str, str], rate_per_s: float, duration_s: float, out: TextIO
) -> None:
    """Send the requests and write each sample to ``out`` as a JSON line when it lands,
    so a sampler stopped early still leaves everything it measured."""
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=30.0) as http:

        async def one() -> None:
            sent_at = time.time()
            started = time.perf_counter()
            try:
                status = (await http.get(url)).status_code
            except httpx.HTTPError:
                status = 0
            latency_ms = (time.perf_counter() - started) * 1e3
            out.write(json.dumps(Sample(sent_at, latency_ms, status).__dict__) + "\n")
            out.flush()

        began = time.perf_counter()
        tasks = []
        for index in range(int(rate_per_s * duration_s)):
            delay_s = began + index / rate_per_s - time.perf_counter()
            if delay_s > 0:
                await asyncio.sleep(delay_s)
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)


class Sampler:
    """The sampler as a child process; ``duration_s`` bounds it, ``stop()`` ends it sooner."""

    def __init__(
        self,
        url: str,
        *,
        out_path: Path,
        headers: dict[str, str] | None = None,
        rate_per_s: float = 20.0,
        duration_s: float,
    ) -> None:
        self.out_path = out_path
        command = [sys.executable, "-m", "harness.sampler", url, "--out", str(out_path)]
        for name, value in (headers or {}).items():
            command += ["--header", f"{name}: {value}"]
        command += ["--rate-per-s", str(rate_per_s), "--duration-s", str(duration_s)]
        self._process = subprocess.Popen(command, cwd=BENCH_DIR)

    def stop(self) -> list[Sample]:
        if self._process.poll() is None:
            self._process.terminate()
            self._process.wait()
        samples = []
        for line in self.out_path.read_text().splitlines():
            if line.strip():
                samples.append(Sample(**json.loads(line)))
        return sorted(samples, key=lambda item: item.sent_at)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--rate-per-s", type=float, default=20.0)
    parser.add_argument("--duration-s", type=float, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    headers = dict(item.split(": ", 1) for item in args.header)
    with args.out.open("w") as out:
        asyncio.run(
            sample(
                args.url,
                headers=headers,
                rate_per_s=args.rate_per_s,
                duration_s=args.duration_s,
                out=out,
            )
        )


if __name__ == "__main__":
    main()
