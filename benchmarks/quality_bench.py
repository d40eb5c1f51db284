"""What a listener gets, measured on the encoded files with the independent meter.

The engine assembles short hostile material (seconds, made on the spot by
tests/hostile_audio.py) and tests/audio_meter.py measures what it wrote: pyloudnorm's
BS.1770-4 loudness and a 4× oversampled true peak, never the engine's own figures.

1. Loudness error and true peak for every format × target, each with the options
   level_segments on/off, bed on/off, mono/stereo and the clean-up variants (read from
   ``EpisodeOptions.cleanup`` in the manifest spec, when it has one) in combinations that
   hold every pair of option values (6 per format × target); ``--full`` runs every
   combination (24 per format × target, 384 assemblies: about four times as long).
2. Take spread: plain and peaky (hand-clap) takes in one episode, at every target.
3. The music bed (``gain_db`` −20): where it sits in pauses under the levelled speech, and
   how deep it ducks, at every target.
4. The clean-up, per variant: SNR gain (after the best linear filter, against the clean
   voice; the scale-invariant SNR's gain goes to the JSON) and speech distortion
   (log-spectral distance) on speech with known pink noise and 50/60 Hz hum; the
   short-term loudness spread of a loud host and a quiet guest (12 dB apart) before and
   after, and the level of the pauses (is the noise floor pumped up?).
5. Speed: the engine per clean-up variant against the single-pass floor of
   engine_bench.py (the same decode-mix-encode in one ffmpeg, no loudness work).

    .venv/bin/python benchmarks/quality_bench.py [--full] [--rounds 3]

Writes ``benchmarks/results/quality.md`` and ``quality.json``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import subprocess
import sys
import tempfile
import time
import types
import typing
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness.processes import BENCH_DIR, REPO_DIR
from harness.quality_report import (
    CEILING_DB,
    FORMATS,
    TARGETS_LUFS,
    Figures,
    MatrixRow,
    report,
)

# The meter and the material are the tests' own: one definition of each measurement.
sys.path.insert(0, str(REPO_DIR))

from tests.audio_meter import (  # noqa: E402
    Audio,
    bed_figures,
    decode,
    filtered_snr_db,
    integrated_lufs,
    log_spectral_distance_db,
    loudness_spread_lu,
    rms_db,
    short_term_lufs,
    si_snr_db,
    true_peak_db,
    window_lufs,
)
from tests.hostile_audio import (  # noqa: E402
    Layout,
    NoisyTake,
    clipped_take,
    host_and_guest,
    noisy_take,
    peaky_take,
    plain_take,
    steady_bed,
    take_with_pauses,
)

RESULTS = BENCH_DIR / "results" / "quality.md"
ENGINE = [sys.executable, "-m", "podplus.engine", "assemble"]
BED_BAND_HZ = (14000.0, 20000.0)
Variant = tuple[str, dict[str, Any]]


# -- the options, from the spec -------------------------------------------------------------


def cleanup_variants() -> list[Variant]:
    """The clean-up settings to measure: ``default`` (the spec's), ``off`` (every switch
    off, every amount at 0, every optional setting unset) and ``all`` (every switch on).
    Read from ``EpisodeOptions.cleanup``; one ``default`` variant if the spec has none."""
    from podplus.engine.spec import EpisodeOptions

    field = EpisodeOptions.model_fields.get("cleanup")
    if field is None:
        return [("default", {})]
    model = field.annotation
    if model is bool:
        return [("off", {"cleanup": False}), ("on", {"cleanup": True})]
    fields = getattr(model, "model_fields", None)
    if not fields:
        return [("default", {})]
    off: dict[str, Any] = {}
    every: dict[str, Any] = {}
    for name, info in fields.items():
        lowest = next((m.ge for m in info.metadata if getattr(m, "ge", None) is not None), None)
        if info.annotation is bool:
            off[name], every[name] = False, True
        elif _allows_none(info.annotation):
            off[name] = None
        elif lowest == 0:
            off[name] = 0
    return [("default", {}), ("off", {"cleanup": off}), ("all", {"cleanup": every})]


def _allows_none(annotation: Any) -> bool:
    union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    return union and type(None) in typing.get_args(annotation)


# -- material and runs ------------------------------------------------------------------------


@dataclass(frozen=True)
class Material:
    clipped: Path
    plain: Path
    plain_b: Path
    peaky: Path
    peaky_b: Path
    bed: Path
    pauses: Layout
    talk: Path
    noisy: dict[int, NoisyTake]  # by mains frequency (Hz)


def make_material(folder: Path) -> Material:
    return Material(
        clipped=clipped_take(folder / "clipped.wav", boost_db=6),
        plain=plain_take(folder / "plain.wav"),
        plain_b=plain_take(folder / "plain_b.wav", text="And that is all for the first part."),
        peaky=peaky_take(folder / "peaky.wav"),
        peaky_b=peaky_take(folder / "peaky_b.wav", text="Give it up for our guest tonight."),
        bed=steady_bed(folder / "bed.wav", seconds=8.0, level_db=-30.0),
        pauses=take_with_pauses(folder / "pauses.wav"),
        talk=host_and_guest(folder / "talk.wav"),
        noisy={hz: noisy_take(folder, snr_db=10.0, mains_hz=hz) for hz in (50, 60)},
    )


@dataclass(frozen=True)
class Assembled:
    output: Path
    returncode: int
    done: dict[str, Any]
    seconds: float
    error: str


class Runner:
    """Runs the engine on manifests written into one folder, numbering the outputs."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._count = itertools.count()

    def manifest(self, fields: dict[str, Any], fmt: str) -> tuple[Path, Path]:
        number = next(self._count)
        fields = {**fields, "output": {**fields.get("output", {}), "format": fmt}}
        path = self.folder / f"run{number}.json"
        path.write_text(json.dumps(fields, default=str))
        return path, self.folder / f"run{number}.{fmt}"

    def assemble(self, fields: dict[str, Any], *, fmt: str = "wav") -> Assembled:
        manifest, output = self.manifest(fields, fmt)
        started = time.perf_counter()
        result = subprocess.run(
            [*ENGINE, str(manifest), "-o", str(output), "--json"], capture_output=True, text=True
        )
        seconds = time.perf_counter() - started
        lines = [json.loads(x) for x in result.stdout.splitlines() if x.startswith("{")]
        done = lines[-1] if lines and lines[-1].get("event") == "done" else {}
        error = result.stderr.strip().splitlines()[-1] if result.returncode else ""
        return Assembled(output, result.returncode, done, seconds, error)


def merged(*parts: dict[str, Any]) -> dict[str, Any]:
    """Manifest fields merged one level deep (``output`` from two places adds up)."""
    fields: dict[str, Any] = {}
    for part in parts:
        for key, value in part.items():
            if isinstance(value, dict) and isinstance(fields.get(key), dict):
                fields[key] = {**fields[key], **value}
            else:
                fields[key] = value
    return fields


def spans(paths: list[Path]) -> list[tuple[float, float]]:
    edges = [0.0, *itertools.accumulate(decode(p).duration_s for p in paths)]
    return list(itertools.pairwise(edges))


# -- 1. loudness and true peak ----------------------------------------------------------------


def all_pairs(dimensions: list[list[Any]]) -> list[tuple[Any, ...]]:
    """The fewest combinations in which every pair of values of any two dimensions
    appears at least once (an exhaustive search: the dimensions here are small). For
    2 × 2 × 2 × 3 values that is 6 combinations instead of 24."""
    indices = list(itertools.product(*(range(len(values)) for values in dimensions)))

    def pairs(case: tuple[int, ...]) -> set[tuple[int, int, int, int]]:
        return {(i, case[i], j, case[j]) for i, j in itertools.combinations(range(len(case)), 2)}

    needed = set().union(*(pairs(case) for case in indices))
    sizes = sorted(len(values) for values in dimensions)
    for size in range(sizes[-1] * (sizes[-2] if len(sizes) > 1 else 1), len(indices) + 1):
        for chosen in itertools.combinations(indices, size):
            if set().union(*(pairs(case) for case in chosen)) >= needed:
                return [tuple(dimensions[d][i] for d, i in enumerate(case)) for case in chosen]
    raise AssertionError("unreachable: the full product covers every pair")


def matrix_cases(full: bool, variants: list[Variant]) -> list[tuple[Any, ...]]:
    """(format, target, level_segments, bed, channels, clean-up variant) to run: at every
    format × target, every combination of the options with ``full``, else all pairs."""
    options: list[list[Any]] = [[True, False], [False, True], [1, 2], variants]
    combos = list(itertools.product(*options)) if full else all_pairs(options)
    return [
        (fmt, target, *combo)
        for fmt, target in itertools.product(FORMATS, TARGETS_LUFS)
        for combo in combos
    ]


def loudness_matrix(
    runner: Runner, material: Material, *, full: bool, jobs: int
) -> list[MatrixRow]:
    """Every case of ``matrix_cases``, ``jobs`` engines at a time (their wall times are
    not used as speed figures; section 5 times runs one at a time)."""
    cases = matrix_cases(full, cleanup_variants())
    done = itertools.count(1)

    def measure(case: tuple[Any, ...]) -> MatrixRow:
        fmt, target, level, bed, channels, (name, cleanup) = case
        fields = merged(
            {
                "segments": [{"path": material.clipped}, {"path": material.peaky}],
                "level_segments": level,
                "loudness": {"target_lufs": target, "true_peak_db": CEILING_DB},
                "output": {"channels": channels},
            },
            {"music_bed": {"path": material.bed, "gain_db": -20}} if bed else {},
            cleanup,
        )
        run = runner.assemble(fields, fmt=fmt)
        lufs = peak = None
        if run.returncode == 0:
            audio = decode(run.output)
            lufs, peak = integrated_lufs(audio), true_peak_db(audio)
            run.output.unlink()
        print(f"loudness {next(done)}/{len(cases)}", end="\r", flush=True)
        reported = run.done.get("true_peak_db")
        return MatrixRow(
            fmt, target, level, bed, channels, name, lufs, peak, reported, run.seconds, run.error
        )

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        rows = list(pool.map(measure, cases))
    print()
    return rows


# -- 2. take spread, 3. the bed ------------------------------------------------------------------


def take_spread(runner: Runner, material: Material) -> dict[float, list[float]]:
    parts = [material.plain, material.peaky, material.plain_b, material.peaky_b]
    windows = [(start + 0.1, end - 0.1) for start, end in spans(parts)]
    found: dict[float, list[float]] = {}
    for target in TARGETS_LUFS:
        run = runner.assemble(
            {
                "segments": [{"path": p} for p in parts],
                "crossfade_s": 0,
                "loudness": {"target_lufs": target},
            }
        )
        audio = decode(run.output) if run.returncode == 0 else None
        found[target] = [window_lufs(audio, *w) for w in windows] if audio else []
    return found


def bed_placement(runner: Runner, material: Material) -> dict[float, dict[str, float]]:
    layout = material.pauses
    found: dict[float, dict[str, float]] = {}
    for target in TARGETS_LUFS:
        run = runner.assemble(
            {
                "segments": [{"path": layout.path}],
                "music_bed": {"path": material.bed, "gain_db": -20, "duck": True},
                "loudness": {"target_lufs": target},
            }
        )
        if run.returncode != 0:
            found[target] = {}
            continue
        figures = bed_figures(
            decode(run.output), speech=layout.speech, pauses=layout.pauses, bed_band_hz=BED_BAND_HZ
        )
        found[target] = asdict(figures)
    return found


# -- 4. the clean-up -------------------------------------------------------------------------------


def cleanup_figures(runner: Runner, material: Material) -> dict[str, dict[str, float]]:
    """Per variant: SNR gain and distortion on each noisy take, spread and pause level on
    the host-and-guest recording. At −23 LUFS, so the limiter's own distortion stays out."""
    found: dict[str, dict[str, float]] = {}
    loudness = {"target_lufs": -23.0}
    talk_before = decode(material.talk)
    for name, cleanup in cleanup_variants():
        figures: dict[str, float] = {}
        for hz, take in material.noisy.items():
            run = runner.assemble(merged({"segments": [{"path": take.noisy}]}, cleanup,
                                         {"loudness": loudness}))  # fmt: skip
            if run.returncode != 0:
                continue
            out, clean, noisy = decode(run.output), decode(take.clean), decode(take.noisy)
            figures[f"snr_gain_db_{hz}hz"] = filtered_snr_db(out, clean) - filtered_snr_db(
                noisy, clean
            )
            figures[f"si_snr_gain_db_{hz}hz"] = si_snr_db(out, clean) - si_snr_db(noisy, clean)
            figures[f"lsd_db_{hz}hz"] = log_spectral_distance_db(out, clean)
            figures[f"lsd_input_db_{hz}hz"] = log_spectral_distance_db(noisy, clean)
        run = runner.assemble(merged({"segments": [{"path": material.talk}]}, cleanup,
                                     {"loudness": loudness}))  # fmt: skip
        if run.returncode == 0:
            talk_after = decode(run.output)
            figures["spread_before_lu"] = loudness_spread_lu(short_term_lufs(talk_before))
            figures["spread_after_lu"] = loudness_spread_lu(short_term_lufs(talk_after))
            figures["pause_below_speech_before_db"] = pause_level(talk_before)
            figures["pause_below_speech_after_db"] = pause_level(talk_after)
            figures["duration_change_s"] = talk_after.duration_s - talk_before.duration_s
        found[name] = figures
    return found


def pause_level(audio: Audio) -> float:
    """The quietest 0.3 s stretch's RMS under the whole take's loudness: the noise floor
    between turns, relative to the speech (a leveller that pumps it up shows here)."""
    step = 0.1
    levels = [
        rms_db(audio.window(t, t + 0.3))
        for t in (i * step for i in range(int((audio.duration_s - 0.3) / step)))
    ]
    return min(levels) - integrated_lufs(audio)


# -- 5. speed ------------------------------------------------------------------------------------


def speed(runner: Runner, material: Material, *, rounds: int) -> dict[str, Any]:
    """Engine wall time per clean-up variant against engine_bench's single-pass floor, on
    an episode of a few takes with a ducked bed, mp3 out."""
    parts = [material.plain, material.clipped, material.pauses.path, material.talk]
    base = {
        "segments": [{"path": p} for p in parts],
        "music_bed": {"path": material.bed, "gain_db": -20, "duck": True},
    }
    found: dict[str, Any] = {"episode_s": sum(decode(p).duration_s for p in parts)}
    manifest, _ = runner.manifest(base, "mp3")
    try:
        from engine_bench import comparisons, run_measured

        floor = comparisons(manifest, runner.folder).floor
        found["floor_s"] = statistics.median(run_measured(floor).seconds for _ in range(rounds))
    except Exception as exc:  # the floor follows the engine's API, which may be mid-change
        found["floor_error"] = f"{type(exc).__name__}: {exc}"
    for name, cleanup in cleanup_variants():
        times = [runner.assemble(merged(base, cleanup), fmt="mp3").seconds for _ in range(rounds)]
        found[name] = statistics.median(times)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--full", action="store_true", help="cross clean-up with every option")
    parser.add_argument("--rounds", type=int, default=3, help="timed runs per speed figure")
    parser.add_argument("--jobs", type=int, default=2, help="engines at once in the matrix")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    started = time.monotonic()
    figures = Figures(variants=[name for name, _ in cleanup_variants()], full=args.full)
    (BENCH_DIR / "work").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="quality-", dir=BENCH_DIR / "work") as work:
        folder = Path(work)
        material = make_material(folder / "material")
        runner = Runner(folder)
        figures.rows = loudness_matrix(runner, material, full=args.full, jobs=args.jobs)
        print("take spread, bed, clean-up, speed", flush=True)
        figures.take_spread = take_spread(runner, material)
        figures.bed = bed_placement(runner, material)
        figures.cleanup = cleanup_figures(runner, material)
        figures.speed = speed(runner, material, rounds=args.rounds)
    text = report(figures)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    raw = asdict(figures)
    raw["rows"] = [
        {**asdict(r), "loudness_error_lu": r.loudness_error_lu, "ok": r.ok} for r in figures.rows
    ]
    raw["seconds"] = time.monotonic() - started
    args.out.with_suffix(".json").write_text(json.dumps(raw, indent=2, default=str))
    print(text)
    print(f"quality bench: {raw['seconds']:.0f} s")


if __name__ == "__main__":
    main()
