"""``GET /api/users/me`` against the floor this machine allows, alone and beside logins.

Starts a real ``podplus serve`` on a throw-away data directory and the bare Starlette
server in ``servers/floor.py`` (served the same way), then, for each round, runs wrk
(32 connections, 2 threads) against: the floor; ``/me``; ``/me`` while a separate
process logs in 8 times a second. The median over rounds goes in the table, and every
round in the details, because this machine is shared and noisy.

    .venv/bin/python benchmarks/api_bench.py [--rounds 3] [--duration-s 10]

Targets: ``/me`` p99 within 1.5× the floor's p99 alone, and within 2× its own p99 with
the logins beside it. Writes ``benchmarks/results/api.md`` and ``api.json``.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from harness.accounts import register
from harness.logins import LoginPacer, LoginSummary
from harness.processes import BENCH_DIR, REPO_DIR, ServerProcess, free_port
from harness.quiet import wait_for_quiet
from harness.report import machine, median_of, ms, ratio, table, verdict
from harness.wrk import WrkResult, run_wrk

RESULTS_DIR = BENCH_DIR / "results"
WORK_DIR = BENCH_DIR / "work"
SECRET_KEY = "benchmark-secret-key-long-enough-for-hs256-signing"
ME_TARGET_VS_FLOOR = 1.5
LOGINS_TARGET_VS_ALONE = 2.0


@dataclass(frozen=True)
class Measurement:
    name: str
    wrk: WrkResult
    server_cpu_s: float
    logins: LoginSummary | None = None

    @property
    def cpu_us_per_request(self) -> float:
        return self.server_cpu_s / self.wrk.requests * 1e6 if self.wrk.requests else 0.0


def podplus_server(data_dir: Path, *, port: int, command: list[str]) -> ServerProcess:
    return ServerProcess(
        "podplus",
        command,
        port=port,
        log_path=data_dir / "podplus.log",
        cwd=REPO_DIR,  # so a --podplus-command with relative paths reads as typed
        env={
            "PODPLUS_DATA_DIR": str(data_dir),
            "PODPLUS_PORT": str(port),
            "PODPLUS_SECRET_KEY": SECRET_KEY,
            "PODPLUS_LOG_LEVEL": "warning",
        },
    )


def floor_server(data_dir: Path, *, port: int) -> ServerProcess:
    return ServerProcess(
        "floor",
        [sys.executable, "-m", "servers.floor", "--port", str(port)],
        port=port,
        log_path=data_dir / "floor.log",
    )


def measure(
    name: str,
    server: ServerProcess,
    url: str,
    *,
    args: argparse.Namespace,
    headers: dict[str, str] | None = None,
    pacer: LoginPacer | None = None,
) -> Measurement:
    cpu_before_s = server.cpu_s()
    result = run_wrk(
        url,
        connections=args.connections,
        threads=args.threads,
        duration_s=args.duration_s,
        headers=headers,
    )
    cpu_s = server.cpu_s() - cpu_before_s
    logins = pacer.summary() if pacer else None
    if result.errors:
        raise RuntimeError(f"{name}: wrk saw {result.errors} errors: {result}")
    print(
        f"  {name:<22} {result.requests_per_s:8.0f} req/s  p50 {ms(result.p50_ms):>6} ms  "
        f"p99 {ms(result.p99_ms):>6} ms  max {ms(result.max_ms):>6} ms  "
        f"cpu {result.requests and cpu_s / result.requests * 1e6:6.0f} µs/req"
        + (f"  logins {logins.rate_per_s:.1f}/s p99 {ms(logins.p99_ms)} ms" if logins else ""),
        flush=True,
    )
    return Measurement(name=name, wrk=result, server_cpu_s=cpu_s, logins=logins)


def run(args: argparse.Namespace, data_dir: Path) -> list[list[Measurement]]:
    podplus = podplus_server(data_dir, port=free_port(), command=args.podplus_command)
    floor = floor_server(data_dir, port=free_port())
    rounds: list[list[Measurement]] = []
    busy_before: list[float] = []
    with podplus, floor:
        account = register(podplus.base_url)
        me_url = podplus.base_url + "/api/users/me"
        floor_url = floor.base_url + "/me"
        # Warm both: imports, first SQLite pages, wrk's connections.
        run_wrk(floor_url, duration_s=2, headers=account.headers)
        run_wrk(me_url, duration_s=2, headers=account.headers)
        for index in range(args.rounds):
            busy = wait_for_quiet()
            print(f"round {index + 1}/{args.rounds} (machine {busy:.0f}% busy before)", flush=True)
            busy_before.append(busy)
            # The floor gets the same header: the request bytes match, only the work differs.
            floor_alone = measure(
                "floor alone", floor, floor_url, args=args, headers=account.headers
            )
            me_alone = measure("/me alone", podplus, me_url, args=args, headers=account.headers)
            pacer = LoginPacer(
                podplus.base_url,
                email=account.email,
                password=account.password,
                rate_per_s=args.login_rate_per_s,
                duration_s=args.duration_s + 1.0,
            )
            time.sleep(0.5)  # let the pacer's first logins land before wrk starts
            me_logins = measure(
                f"/me + {args.login_rate_per_s:g} logins/s",
                podplus,
                me_url,
                args=args,
                headers=account.headers,
                pacer=pacer,
            )
            rounds.append([floor_alone, me_alone, me_logins])
    args.busy_before = busy_before
    return rounds


def render(rounds: list[list[Measurement]], args: argparse.Namespace) -> str:
    def med(column: int, key: object) -> float:
        return median_of([r[column] for r in rounds], key)  # type: ignore[arg-type]

    p99 = [med(i, lambda m: m.wrk.p99_ms) for i in range(3)]
    me_ok = p99[1] <= ME_TARGET_VS_FLOOR * p99[0]
    logins_ok = p99[2] <= LOGINS_TARGET_VS_ALONE * p99[1]
    rows = []
    names = [m.name for m in rounds[0]]
    ratios = ["1.00× (floor)", f"{ratio(p99[1], p99[0])} floor", f"{ratio(p99[2], p99[1])} alone"]
    targets = [
        "–",
        f"≤ {ME_TARGET_VS_FLOOR}× floor: {verdict(me_ok)}",
        f"≤ {LOGINS_TARGET_VS_ALONE}× alone: {verdict(logins_ok)}",
    ]
    for i, name in enumerate(names):
        rows.append(
            [
                f"`{'GET /me' if i == 0 else 'GET /api/users/me'}` {name.split(' ', 1)[1]}"
                if i
                else "floor `GET /me` (constant)",
                f"{med(i, lambda m: m.wrk.requests_per_s):,.0f}",
                ms(med(i, lambda m: m.wrk.p50_ms)),
                ms(p99[i]),
                ms(med(i, lambda m: m.wrk.max_ms)),
                f"{med(i, lambda m: m.cpu_us_per_request):,.0f}",
                ratios[i],
                targets[i],
            ]
        )
    logins = [r[2].logins for r in rounds if r[2].logins]
    login_line = ""
    if logins:
        login_line = (
            f"\nLogins beside it: {statistics_line(logins)} "
            f"(target rate {args.login_rate_per_s:g}/s, Argon2id in podplus's KDF pool).\n"
        )
    details = table(
        [
            "round",
            "machine busy before",
            "run",
            "req/s",
            "p50 ms",
            "p99 ms",
            "max ms",
            "server CPU µs/req",
        ],
        [
            [
                str(index + 1),
                f"{args.busy_before[index]:.0f}%",
                m.name,
                f"{m.wrk.requests_per_s:,.0f}",
                ms(m.wrk.p50_ms),
                ms(m.wrk.p99_ms),
                ms(m.wrk.max_ms),
                f"{m.cpu_us_per_request:,.0f}",
            ]
            for index, measurements in enumerate(rounds)
            for m in measurements
        ],
    )
    return "\n".join(
        [
            "## API latency: `/api/users/me` vs the floor",
            "",
            f"wrk `-c{args.connections} -t{args.threads} -d{args.duration_s:g}s`, "
            f"median of {len(rounds)} rounds; the floor is a bare Starlette endpoint "
            "served by the same uvicorn call as `podplus serve` (`benchmarks/servers/floor.py`). "
            "Server CPU is the server process's user+system time over the run, per request.",
            "",
            table(
                [
                    "run",
                    "req/s",
                    "p50 ms",
                    "p99 ms",
                    "max ms",
                    "server CPU µs/req",
                    "p99 ratio",
                    "target",
                ],
                rows,
            ),
            login_line,
            f"Measured {machine()}.",
            "",
            "<details><summary>Every round</summary>",
            "",
            details,
            "",
            "</details>",
            "",
        ]
    )


def statistics_line(logins: list[LoginSummary]) -> str:
    rate = sorted(s.rate_per_s for s in logins)[len(logins) // 2]
    p50 = sorted(s.p50_ms for s in logins)[len(logins) // 2]
    p99 = sorted(s.p99_ms for s in logins)[len(logins) // 2]
    return f"{rate:.1f} logins/s answered 200, login p50 {ms(p50)} ms, p99 {ms(p99)} ms"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration-s", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--login-rate-per-s", type=float, default=8.0)
    parser.add_argument("--keep-work", action="store_true", help="keep data dirs and logs")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "api.md")
    parser.add_argument(
        "--podplus-command",
        type=shlex.split,
        default=[sys.executable, "-m", "podplus", "serve"],
        help="how to start podplus (to measure a prototype the same way)",
    )
    args = parser.parse_args()
    WORK_DIR.mkdir(exist_ok=True)
    data_dir = Path(tempfile.mkdtemp(prefix="api-bench-", dir=WORK_DIR))
    try:
        rounds = run(args, data_dir)
    finally:
        if not args.keep_work:
            shutil.rmtree(data_dir, ignore_errors=True)
    markdown = render(rounds, args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(markdown)
    args.out.with_suffix(".json").write_text(
        json.dumps([[asdict(m) for m in measurements] for measurements in rounds], indent=1)
    )
    print()
    print(markdown)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
