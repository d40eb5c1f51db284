"""What reading an episode with the spec costs, against ``json.loads`` of the same body.

Reading = parsing the JSON and validating it against ``EpisodeInput`` (strict types, limits,
the cross-field checks). The baseline is what any handler pays at least: ``json.loads``.
Both are timed in the same process, interleaved, best of several repeats (the machine is
shared, so the minimum is the figure least disturbed by others).

    .venv/bin/python benchmarks/spec_bench.py [--parts 5] [--repeats 7]

Writes ``benchmarks/results/spec.md``.
"""

from __future__ import annotations

import argparse
import json
import timeit
from collections.abc import Callable
from pathlib import Path

from harness.processes import BENCH_DIR
from harness.report import machine, table

from podplus.engine.spec import EpisodeInput, read_json

RESULTS_DIR = BENCH_DIR / "results"


def episode_body(parts: int) -> bytes:
    return json.dumps(
        {
            "title": "Episode 12",
            "description": "Show notes,\nover two lines.",
            "intro_id": "a" * 32,
            "segments": [
                {"media_id": f"{index:032x}", "trim_start_s": 0.5, "gain_db": -1}
                for index in range(parts)
            ],
            "outro_id": "b" * 32,
            "music_bed": {"media_id": "c" * 32, "gain_db": -20, "duck": True},
            "loudness": {"target_lufs": -16},
            "output": {"format": "m4a", "bitrate_kbps": 96},
            "tags": {"artist": "Ada", "year": 2026},
        }
    ).encode()


def best_us(work: Callable[[], object], *, number: int, repeats: int) -> float:
    return min(timeit.repeat(work, number=number, repeat=repeats)) / number * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--number", type=int, default=5000)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "spec.md")
    args = parser.parse_args()

    rows = []
    for parts in sorted({1, args.parts, 100}):
        body = episode_body(parts)
        loads = best_us(lambda b=body: json.loads(b), number=args.number, repeats=args.repeats)
        spec = best_us(
            lambda b=body: read_json(EpisodeInput, b), number=args.number, repeats=args.repeats
        )
        rows.append(
            [str(parts), f"{len(body):,}", f"{loads:.1f}", f"{spec:.1f}", f"{spec / loads:.2f}×"]
        )
        print(f"{parts:>3} parts: json.loads {loads:.1f} µs, spec {spec:.1f} µs", flush=True)
    report = "\n".join(
        [
            "# Reading an episode with the spec",
            "",
            "Best of the repeats, µs per body, parse + validate against json.loads alone.",
            "",
            table(["parts", "body bytes", "json.loads µs", "spec µs", "spec / loads"], rows),
            "",
            machine(),
            "",
        ]
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report)
    print(report)


if __name__ == "__main__":
    main()
