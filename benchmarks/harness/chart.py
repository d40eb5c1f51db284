"""The latency-over-time chart: one panel per server, the sampler's requests as dots and
each second's worst as a line, the idle and loaded wrk windows shaded."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.sampler import Sample


@dataclass(frozen=True)
class Timeline:
    name: str
    samples: list[Sample]
    started_at: float
    idle_window: tuple[float, float]
    loaded_window: tuple[float, float]
    dispatched_at: float
    subtitle: str = ""


def per_second_max(samples: Sequence[Sample], origin: float) -> tuple[list[float], list[float]]:
    buckets: dict[int, float] = defaultdict(float)
    for item in samples:
        second = int(item.sent_at - origin)
        buckets[second] = max(buckets[second], item.latency_ms)
    seconds = sorted(buckets)
    return [s + 0.5 for s in seconds], [buckets[s] for s in seconds]


def draw(timelines: Sequence[Timeline], out_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display on a build machine
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(
        len(timelines), 1, figsize=(10, 2.8 * len(timelines)), sharey=True, squeeze=False
    )
    for axis, line in zip(axes[:, 0], timelines, strict=True):
        origin = line.started_at
        ok = [s for s in line.samples if s.status == 200]
        failed = [s for s in line.samples if s.status != 200]
        axis.axvspan(*(t - origin for t in line.idle_window), color="tab:green", alpha=0.08)
        axis.axvspan(*(t - origin for t in line.loaded_window), color="tab:red", alpha=0.08)
        axis.axvline(line.dispatched_at - origin, color="tab:red", linestyle="--", linewidth=1)
        axis.scatter(
            [s.sent_at - origin for s in ok],
            [s.latency_ms for s in ok],
            s=4,
            alpha=0.35,
            color="tab:blue",
            label="a sampled request",
        )
        if failed:
            axis.scatter(
                [s.sent_at - origin for s in failed],
                [max(s.latency_ms, 1.0) for s in failed],
                s=12,
                marker="x",
                color="tab:red",
                label="no 200 answer",
            )
        xs, ys = per_second_max(ok, origin)
        axis.plot(xs, ys, color="black", linewidth=1, label="slowest in each second")
        axis.set_yscale("log")
        axis.set_ylabel("latency, ms")
        axis.set_title(f"{line.name}: {line.subtitle}", fontsize=10, loc="left")
        axis.grid(True, which="both", alpha=0.2)
    axes[0, 0].legend(loc="upper left", fontsize=8)
    axes[-1, 0].set_xlabel(
        "seconds (green: idle wrk window; dashed: 2 assemblies dispatched; red: loaded window)"
    )
    figure.suptitle("GET /me under 32-connection wrk load, sampled 20×/s", fontsize=11)
    figure.tight_layout()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out_path, dpi=110)
    plt.close(figure)
