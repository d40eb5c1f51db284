"""The engine against the single-pass floor and the classic two-pass ``loudnorm``.

On the same generated episode (intro, three parts, outro, a music bed; mp3 128k out),
at 10 and 60 minutes, side by side and interleaved:

1. the engine as it runs by default: every part prepared (decoded, measured as it will
   play, rumble, hum and noise cleaned from the spoken parts), levelled, mixed, encoded
   while a meter decodes the encoded sound (loudness and true peak of the file itself),
2. the engine with the clean-up off,
3. the floor: the sources decoded, mixed and encoded in one ffmpeg pass, no loudness work,
4. two-pass ``loudnorm`` (analysis pass, then a linear ``loudnorm`` pass), the way
   ffmpeg-normalize and most tools do it, on the same mix.

Wall time is the median over ``--rounds``; peak memory is the largest sum of PSS over the
whole process tree (the engine and every ffmpeg it runs), sampled every 50 ms. PSS, not
RSS: each ffmpeg maps the same ~40 MB of codec libraries, and RSS would count those pages
once per process. getrusage's per-process maximum would miss that the processes overlap.

    .venv/bin/python benchmarks/engine_bench.py [--minutes 10 60] [--rounds 3]

Targets: (2) ≤ 1.5× (3) and ≥ 2× faster than (4) (the clean-up may cost more; the table
says how much); peak memory under 150 MB and within 20% between the 10- and 60-minute
episodes. Writes ``benchmarks/results/engine.md``.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil
from harness.audio import EpisodeSpec, episode_files
from harness.processes import BENCH_DIR
from harness.report import machine

from podplus.engine.graph import common_args, encoding_args, floor_args, source_mix
from podplus.engine.loudness import measure
from podplus.engine.manifest import load_manifest
from podplus.engine.probe import probe_audio
from podplus.engine.timeline import PartPlan, build_timeline

RESULTS = BENCH_DIR / "results" / "engine.md"
WORK = BENCH_DIR / "work" / "engine"
ENGINE = [sys.executable, "-m", "podplus.engine", "assemble"]
SAMPLE_EVERY_S = 0.05


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_rss_bytes: int


def run_measured(command: list[str]) -> Run:
    """Run ``command`` to the end; its wall time and the peak RSS of its process tree."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        root = psutil.Process(process.pid)
        while not done.is_set():
            try:
                tree = [root, *root.children(recursive=True)]
                peak = max(peak, sum(_pss(p) for p in tree))
            except psutil.Error:
                pass
            time.sleep(SAMPLE_EVERY_S)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, stderr = process.communicate()
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    if process.returncode != 0:
        raise SystemExit(f"{command[:4]}… failed:\n{stderr.decode(errors='replace')[-2000:]}")
    return Run(seconds, peak)


def _pss(process: psutil.Process) -> int:
    try:
        return int(process.memory_full_info().pss)
    except psutil.Error:
        return 0


def write_manifests(minutes: int) -> tuple[Path, Path]:
    """The episode with the default clean-up, and the same with the clean-up off."""
    files = episode_files(EpisodeSpec(total_s=minutes * 60.0, segments=3, bed_s=60.0))
    folder = WORK / f"{minutes}min"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    off = {"highpass_hz": 0, "dehum": False, "denoise_db": 0}
    for name, cleanup in (("engine", {}), ("plain", off)):
        manifest = {
            "title": f"Benchmark {minutes} min",
            "intro": {"path": str(files.intro)},
            "segments": [{"path": str(path)} for path in files.segments],
            "outro": {"path": str(files.outro)},
            "music_bed": {"path": str(files.bed), "gain_db": -20, "duck": True},
            "crossfade_s": 1.0,
            "cleanup": cleanup,
            "output": {"format": "mp3", "bitrate_kbps": 128, "channels": 1, "sample_rate": 44100},
        }
        path = folder / f"{name}.json"
        path.write_text(json.dumps(manifest, indent=2))
        paths.append(path)
    return paths[0], paths[1]


@dataclass(frozen=True)
class Comparison:
    floor: list[str]
    loudnorm_analysis: list[str]
    loudnorm_encode: Callable[[str], list[str]]


def comparisons(manifest_path: Path, folder: Path) -> Comparison:
    """The floor and the two loudnorm passes, on the engine's own mix of the same parts."""
    manifest = load_manifest(manifest_path)
    plans = [
        PartPlan(part.title, part.content, ((0.0, probe_audio(part.path).duration_s or 0.0),))
        for part in manifest.parts
    ]
    timeline = build_timeline(plans, crossfade_s=manifest.crossfade_s)
    inputs, graph = source_mix(manifest, timeline)
    target = "I=-16:TP=-1:LRA=11"

    def encode(measured: str) -> list[str]:
        # loudnorm works at 192 kHz inside; ffmpeg-normalize resamples back the same way.
        norm = f"{graph};[mix]loudnorm={target}:{measured}:linear=true,aresample=44100[norm]"
        return [
            *common_args(), "-loglevel", "error", *inputs, "-filter_complex", norm,
            "-map", "[norm]", *encoding_args(manifest.output), str(folder / "loudnorm.mp3"),
        ]  # fmt: skip

    return Comparison(
        floor=floor_args(manifest, timeline, folder / "floor.mp3"),
        loudnorm_analysis=[
            *common_args(),
            "-loglevel",
            "info",
            *inputs,
            "-filter_complex",
            f"{graph};[mix]loudnorm={target}:print_format=json[out]",
            "-map",
            "[out]",
            "-f",
            "null",
            "-",
        ],  # fmt: skip
        loudnorm_encode=encode,
    )


def loudnorm_two_pass(comparison: Comparison) -> Run:
    """Pass 1 measures; pass 2 applies loudnorm linearly with those figures and encodes."""
    started = time.perf_counter()
    first = subprocess.run(comparison.loudnorm_analysis, capture_output=True, text=True, check=True)
    first_s = time.perf_counter() - started
    stats = json.loads(re.findall(r"\{[^{}]*\"input_i\"[^{}]*\}", first.stderr)[-1])
    measured = (
        f"measured_I={stats['input_i']}:measured_TP={stats['input_tp']}:"
        f"measured_LRA={stats['input_lra']}:measured_thresh={stats['input_thresh']}:"
        f"offset={stats['target_offset']}"
    )
    second = run_measured(comparison.loudnorm_encode(measured))
    return Run(first_s + second.seconds, second.peak_rss_bytes)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=int, nargs="+", default=[10, 60])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    rows = []
    memory: dict[int, int] = {}
    for minutes in args.minutes:
        warm, cold = write_manifests(minutes)
        folder = warm.parent
        comparison = comparisons(warm, folder)
        runs: dict[str, list[Run]] = {
            "engine": [],
            "engine, no clean-up": [],
            "floor": [],
            "loudnorm": [],
        }
        for round_number in range(args.rounds):
            print(f"{minutes} min, round {round_number + 1}/{args.rounds}", flush=True)
            runs["engine"].append(
                run_measured([*ENGINE, str(warm), "-o", str(folder / "engine.mp3"), "--json"])
            )
            runs["floor"].append(run_measured(comparison.floor))
            runs["loudnorm"].append(loudnorm_two_pass(comparison))
            runs["engine, no clean-up"].append(
                run_measured([*ENGINE, str(cold), "-o", str(folder / "plain.mp3"), "--json"])
            )
        median = {name: statistics.median(r.seconds for r in found) for name, found in runs.items()}
        peak = {name: max(r.peak_rss_bytes for r in found) for name, found in runs.items()}
        memory[minutes] = peak["engine"]
        result = measure(folder / "engine.mp3")
        rows.append(
            f"| {minutes} min | {median['engine']:.1f} s | "
            f"{median['engine, no clean-up']:.1f} s | "
            f"{median['floor']:.1f} s | {median['loudnorm']:.1f} s | "
            f"**{median['engine, no clean-up'] / median['floor']:.2f}×** | "
            f"**{median['engine'] / median['floor']:.2f}×** | "
            f"**{median['loudnorm'] / median['engine']:.2f}×** | "
            f"{peak['engine'] / 1e6:.0f} MB | "
            f"{result.integrated_lufs} LUFS, {result.true_peak_db} dBTP |"
        )
    lines = [
        "## Engine: speed and memory",
        "",
        f"Episode: spoken intro, three parts, outro, a 60 s music bed looped and ducked; 44.1 kHz "
        f"stereo WAV in, mp3 128k mono out. Median of {args.rounds} interleaved rounds. Every "
        "engine run measures its encoded output (loudness, 4x true peak).",
        "",
        "| episode | engine (default clean-up) | engine, no clean-up | "
        "floor (1 pass, no loudness) | two-pass loudnorm | no clean-up / floor (≤ 1.5×) | "
        "engine / floor | loudnorm / engine (≥ 2×) | "
        "engine peak memory (tree, PSS) | output measured |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *rows,
    ]
    if len(memory) >= 2:
        low, high = min(memory.values()), max(memory.values())
        lines += [
            "",
            f"Peak memory spread between episode lengths: {(high - low) / low * 100:.0f}% "
            "(target: within 20%; under 150 MB).",
        ]
    lines += ["", f"{machine()}"]
    text = "\n".join(lines) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
