"""Where parts sit in time: pure arithmetic, checked without ffmpeg."""

from __future__ import annotations

import pytest

from podplus.engine.timeline import build_timeline, playable_range


def test_duration_is_the_parts_minus_the_crossfades() -> None:
    timeline = build_timeline(
        [("Intro", 0, 10.0), ("Talk", 0, 600.0), ("Outro", 0, 8.0)], crossfade_s=1.0
    )
    assert timeline.duration_s == pytest.approx(616.0)
    assert [span.start_s for span in timeline.spans] == [0.0, 9.0, 608.0]
    assert timeline.chapters() == [
        (0.0, 9.0, "Intro"),
        (9.0, 608.0, "Talk"),
        (608.0, 616.0, "Outro"),
    ]


def test_a_crossfade_never_swallows_more_than_half_a_short_part() -> None:
    timeline = build_timeline([("Sting", 0, 1.0), ("Talk", 0, 60.0)], crossfade_s=3.0)
    assert timeline.crossfades_s == (0.5,)
    assert timeline.duration_s == pytest.approx(60.5)


def test_no_crossfade_means_back_to_back() -> None:
    timeline = build_timeline([("A", 0, 2.0), ("B", 0, 3.0)], crossfade_s=0)
    assert timeline.crossfades_s == (0.0,)
    assert timeline.duration_s == 5.0


def test_trims_are_clamped_to_the_source() -> None:
    assert playable_range(source_duration_s=100, trim_start_s=5, trim_end_s=3600) == (5, 95)
    assert playable_range(source_duration_s=100, trim_start_s=0, trim_end_s=None) == (0, 100)


def test_edge_silences_are_trimmed_and_inner_ones_kept() -> None:
    silences = [(0.0, 1.5), (40.0, 42.0), (98.0, None)]
    assert playable_range(
        source_duration_s=100, trim_start_s=0, trim_end_s=None, silences=silences
    ) == (1.5, 96.5)


def test_the_bed_fade_fits_short_episodes() -> None:
    assert build_timeline([("A", 0, 4.0)], crossfade_s=0).bed_fade_out_s() == 1.0
    assert build_timeline([("A", 0, 600.0)], crossfade_s=0).bed_fade_out_s() == 3.0
