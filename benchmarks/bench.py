"""``make bench``: is the API still fast while episodes are being assembled?

For podplus and two baseline servers kept in ``benchmarks/servers/`` (the naive audio
work on a thread inside the server, and in a process per job), one after the other on
the same machine and audio:

1. wrk (``-c32 -t2``) against ``/me`` for a fixed time, idle;
2. two assemblies of a 30-minute episode dispatched (each dispatch timed);
3. wrk again for the same time while both run, checking that they progressed; on
   podplus, dispatch probes (assemble, then cancel while queued) time ``POST …/assemble``
   under the same load;
4. a light sampler timestamps ``/me`` 20 times a second throughout, for the chart.

Then the engine table (``engine_bench.py``, the engine benchmark's own script).
Writes ``results/bench.md``, ``bench.json`` and ``latency.png``.

    .venv/bin/python benchmarks/bench.py [--window-s 20] [--targets podplus,thread,process]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shlex
import shutil
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from harness.audio import EpisodeSpec, episode_files
from harness.chart import Timeline, draw
from harness.engine_table import engine_section
from harness.processes import BENCH_DIR
from harness.quiet import wait_for_quiet
from harness.report import machine, ms, ratio, table, verdict
from harness.sampler import Sampler
from harness.targets import JobState, PodplusTarget, Target, make_target
from harness.wrk import WrkResult, WrkRun, run_wrk

RESULTS_DIR = BENCH_DIR / "results"
WORK_DIR = BENCH_DIR / "work"
TARGET_P99_VS_IDLE = 2.0
TARGET_P99_MS = 50.0
PROBES_PER_S = 2.0
START_TIMEOUT_S = 60.0


@dataclass
class ServerRun:
    name: str
    idle: WrkResult
    busy_before_percent: float
    loaded: WrkResult | None = None
    dispatch_ms: list[float] = field(default_factory=list)
    probe_ms: list[float] = field(default_factory=list)
    progress_before: list[float] = field(default_factory=list)
    progress_after: list[float] = field(default_factory=list)
    ran_through_window: bool = False
    problem: str = ""
    assembly_s: list[float] = field(default_factory=list)
    final_states: list[str] = field(default_factory=list)
    timeline: Timeline | None = None


def wait_until_running(target: Target, job_ids: list[str]) -> list[JobState]:
    """Wait for every job to be past the queue; podplus starts engines asynchronously."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        states = [target.job(job_id) for job_id in job_ids]
        if all(state.status != "queued" for state in states) or time.monotonic() > deadline:
            return states
        time.sleep(0.2)


def probe_dispatches(target: PodplusTarget, until: threading.Event, into: list[float]) -> None:
    while not until.wait(1.0 / PROBES_PER_S):
        into.append(target.probe_dispatch())


def measure_target(name: str, args: argparse.Namespace, work_dir: Path) -> ServerRun:
    files = episode_files(EpisodeSpec(total_s=args.episode_s))
    target = make_target(name, work_dir / name, podplus_command=args.podplus_command)
    wrk_options = {"connections": 32, "threads": 2, "duration_s": args.window_s}
    try:
        target.server.start()
        target.authenticate()
        print(f"{target.name}: preparing", flush=True)
        target.prepare(files, jobs=args.jobs)
        run_wrk(target.me_url, duration_s=2, headers=target.headers)  # warm-up
        busy = wait_for_quiet()
        sampler = Sampler(
            target.me_url,
            out_path=work_dir / f"{name}-samples.jsonl",
            headers=target.headers,
            duration_s=4 * args.window_s + START_TIMEOUT_S + 30,
        )
        started_at = time.time()
        time.sleep(1.0)
        idle_from = time.time()
        idle = run_wrk(target.me_url, headers=target.headers, **wrk_options)
        idle_to = time.time()
        run = ServerRun(name=target.name, idle=idle, busy_before_percent=busy)
        print(f"{target.name}: idle p99 {ms(idle.p99_ms)} ms", flush=True)
        time.sleep(1.0)
        dispatched_at = time.time()
        dispatched = [target.dispatch(index) for index in range(args.jobs)]
        run.dispatch_ms = [item.latency_ms for item in dispatched]
        job_ids = [item.job_id for item in dispatched]
        states = wait_until_running(target, job_ids)
        run.progress_before = [state.progress for state in states]
        if any(state.is_finished for state in states):
            run.problem = "; ".join(f"{s.status}: {s.error or ''}" for s in states)
        time.sleep(1.0)  # let the work get going before measuring beside it
        loaded_from = time.time()
        load = WrkRun(target.me_url, headers=target.headers, **wrk_options)
        stop_probes = threading.Event()
        prober = None
        if isinstance(target, PodplusTarget) and not run.problem:
            prober = threading.Thread(
                target=probe_dispatches, args=(target, stop_probes, run.probe_ms), daemon=True
            )
            prober.start()
        run.loaded = load.result()
        loaded_to = time.time()
        stop_probes.set()
        if prober is not None:
            prober.join()
        states = [target.job(job_id) for job_id in job_ids]
        run.progress_after = [state.progress for state in states]
        run.ran_through_window = not run.problem and not any(s.is_finished for s in states)
        if not run.ran_through_window and not run.problem:
            run.problem = "an assembly finished inside the window: " + ", ".join(
                s.status for s in states
            )
        print(
            f"{target.name}: loaded p99 {ms(run.loaded.p99_ms)} ms, progress "
            f"{run.progress_before} -> {run.progress_after}",
            flush=True,
        )
        time.sleep(2.0)
        samples = sampler.stop()
        if isinstance(target, PodplusTarget) and args.finish_timeout_s > 0:
            run.assembly_s, run.final_states = wait_for_finish(
                target, job_ids, dispatched_at=dispatched_at, timeout_s=args.finish_timeout_s
            )
        run.timeline = Timeline(
            name=target.name,
            samples=samples,
            started_at=started_at,
            idle_window=(idle_from, idle_to),
            loaded_window=(loaded_from, loaded_to),
            dispatched_at=dispatched_at,
            subtitle=(
                f"p99 {ms(idle.p99_ms)} ms idle → {ms(run.loaded.p99_ms)} ms beside "
                f"{args.jobs} assemblies; {run.idle.requests_per_s:,.0f} → "
                f"{run.loaded.requests_per_s:,.0f} req/s"
                if not run.problem
                else f"p99 {ms(idle.p99_ms)} ms idle; no assemblies ran ({run.problem[:60]})"
            ),
        )
        return run
    finally:
        target.close()


def wait_for_finish(
    target: PodplusTarget, job_ids: list[str], *, dispatched_at: float, timeout_s: float
) -> tuple[list[float], list[str]]:
    """Seconds from dispatch to the end of each job, and how each ended."""
    finished: dict[str, tuple[float, str]] = {}
    deadline = time.monotonic() + timeout_s
    while len(finished) < len(job_ids) and time.monotonic() < deadline:
        for job_id in job_ids:
            if job_id not in finished:
                state = target.job(job_id)
                if state.is_finished:
                    finished[job_id] = (time.time() - dispatched_at, state.status)
        time.sleep(1.0)
    seconds = [finished[j][0] for j in job_ids if j in finished]
    statuses = [finished[j][1] if j in finished else "still running" for j in job_ids]
    return seconds, statuses


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] if ordered else 0.0


def render(runs: list[ServerRun], args: argparse.Namespace, engine_md: str) -> str:
    by_name = {run.name: run for run in runs}
    podplus = by_name.get("podplus")
    reference = podplus.loaded if podplus and podplus.loaded else None
    rows = []
    for run in runs:
        for phase, result in (("idle", run.idle), (f"{args.jobs} assemblies", run.loaded)):
            if result is None:
                continue
            loaded = result is run.loaded
            if run is podplus and loaded:
                compared = f"{ratio(result.p99_ms, run.idle.p99_ms)} podplus idle"
            elif run is not podplus and loaded and reference:
                compared = (
                    f"{ratio(result.p99_ms, reference.p99_ms)} p99, "
                    f"{ratio(result.requests_per_s, reference.requests_per_s)} req/s "
                    "of podplus loaded"
                )
            else:
                compared = "–"
            progress = "–"
            if loaded and run.problem:
                progress = "not measured under load: " + run.problem[:120]
                compared = "–"
            elif loaded and run.progress_after:
                progress = ", ".join(
                    f"{before:.0%}→{after:.0%}"
                    for before, after in zip(run.progress_before, run.progress_after, strict=True)
                )
            rows.append(
                [
                    run.name,
                    phase,
                    f"{result.requests_per_s:,.0f}",
                    ms(result.p50_ms),
                    ms(result.p99_ms),
                    ms(result.max_ms),
                    compared,
                    progress,
                ]
            )
    lines = [
        "## API latency under assembly",
        "",
        f"wrk `-c32 -t2 -d{args.window_s:g}s` against `/me`: idle, then while {args.jobs} "
        f"assemblies of a {args.episode_s / 60:g}-minute episode run (44.1 kHz stereo WAV in). "
        "Baselines (`benchmarks/servers/`) serve podplus's own `/me` code and do the naive "
        "pure-Python assembly (wave module, gain and bed mix sample by sample) on a thread in "
        "the server, or in a process per job. Progress is each job's own figure at the start "
        "and end of the loaded window.",
        "",
        table(
            ["server", "phase", "req/s", "p50 ms", "p99 ms", "max ms", "ratio", "job progress"],
            rows,
        ),
        "",
        "Machine busy just before each server's idle window (other work on this shared "
        "machine): "
        + ", ".join(f"{run.name} {run.busy_before_percent:.0f}%" for run in runs)
        + ".",
        "",
    ]
    if podplus and podplus.loaded:
        within = podplus.loaded.p99_ms <= TARGET_P99_VS_IDLE * podplus.idle.p99_ms
        under = podplus.loaded.p99_ms < TARGET_P99_MS
        ok = within and under and podplus.ran_through_window
        lines.append(
            f"Target — podplus `/me` p99 under assembly ≤ {TARGET_P99_VS_IDLE:g}× idle and "
            f"< {TARGET_P99_MS:g} ms while the assemblies progress: **{verdict(ok)}** "
            f"({ratio(podplus.loaded.p99_ms, podplus.idle.p99_ms)}, "
            f"{ms(podplus.loaded.p99_ms)} ms"
            + ("" if podplus.ran_through_window else f"; {podplus.problem}")
            + ")."
        )
        if podplus.assembly_s:
            lines.append(
                "Each podplus assembly, dispatch to finish: "
                + ", ".join(
                    f"{s:.0f} s ({state})"
                    for s, state in zip(podplus.assembly_s, podplus.final_states, strict=False)
                )
                + "."
            )
        lines.append("")
    for run in runs:
        if run.problem and run is not podplus:
            lines += [f"{run.name}: {run.problem}", ""]
    dispatch_rows = [
        [
            run.name,
            ", ".join(ms(v) for v in run.dispatch_ms),
            f"{len(run.probe_ms)}" if run.probe_ms else "–",
            ms(statistics.median(run.probe_ms)) if run.probe_ms else "–",
            ms(percentile(run.probe_ms, 0.99)) if run.probe_ms else "–",
        ]
        for run in runs
    ]
    lines += [
        "### Dispatch",
        "",
        "The two real dispatches were sent just after the idle window; on podplus, probes "
        f"({PROBES_PER_S:g}/s: `POST /api/episodes/{{id}}/assemble` of a small episode, then "
        "cancel while it is queued) ran through the loaded window.",
        "",
        table(
            ["server", "the 2 dispatches, ms", "probes", "probe p50 ms", "probe p99 ms"],
            dispatch_rows,
        ),
        "",
        "![latency over time](latency.png)",
        "",
        "## Engine",
        "",
        engine_md.strip(),
        "",
        f"Measured {machine()}.",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--targets", default="podplus,thread,process")
    parser.add_argument("--window-s", type=float, default=20.0)
    parser.add_argument("--episode-s", type=float, default=1800.0)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--finish-timeout-s", type=float, default=600.0)
    parser.add_argument("--keep-work", action="store_true", help="keep data dirs and logs")
    parser.add_argument("--skip-engine", action="store_true", help="don't rerun engine_bench")
    parser.add_argument("--out-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument(
        "--podplus-command",
        type=shlex.split,
        default=None,
        help="how to start podplus (to measure a prototype the same way)",
    )
    args = parser.parse_args()
    # Say so now, not after minutes of measuring: the chart is the only part that needs it.
    has_matplotlib = importlib.util.find_spec("matplotlib") is not None
    if not has_matplotlib:
        print("warning: matplotlib is not installed; no latency.png this run", flush=True)
    WORK_DIR.mkdir(exist_ok=True)
    work_dir = Path(tempfile.mkdtemp(prefix="bench-", dir=WORK_DIR))
    print("generating the episode audio (cached after the first run)", flush=True)
    episode_files(EpisodeSpec(total_s=args.episode_s))
    try:
        runs = [measure_target(name, args, work_dir) for name in args.targets.split(",")]
    finally:
        # Each podplus data directory holds a copy of every upload: hundreds of megabytes.
        if not args.keep_work:
            shutil.rmtree(work_dir, ignore_errors=True)
    engine_md = engine_section(run=not args.skip_engine)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    timelines = [run.timeline for run in runs if run.timeline is not None]
    if timelines and has_matplotlib:
        draw(timelines, args.out_dir / "latency.png")
    markdown = render(runs, args, engine_md)
    (args.out_dir / "bench.md").write_text(markdown)
    (args.out_dir / "bench.json").write_text(
        json.dumps(
            [{k: v for k, v in asdict(run).items() if k != "timeline"} for run in runs], indent=1
        )
    )
    print()
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
