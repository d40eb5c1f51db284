"""Judging an upload on what its headers declare, before anything is decoded."""

from __future__ import annotations

import pytest

from podplus.engine.probe import ProbeResult
from podplus.errors import MediaOverLimit, UnsupportedMedia
from podplus.probing import MIN_ANALYSIS_TIMEOUT_S, AnalysisLimits, check_figures

LIMITS = AnalysisLimits(
    max_duration_s=4 * 3600, max_sample_rate=96000, max_channels=8, timeout_s=300
)


def declared(
    *, duration_s: float | None = 60.0, sample_rate: int | None = 48000, channels: int | None = 2
) -> ProbeResult:
    return ProbeResult(
        format_name="flac",
        duration_s=duration_s,
        codec="flac",
        sample_rate=sample_rate,
        channels=channels,
        bit_rate=None,
        has_audio=True,
        is_image=False,
    )


def test_an_ordinary_recording_passes_and_its_duration_is_returned() -> None:
    assert check_figures(declared(duration_s=3600.0), LIMITS) == 3600.0


def test_the_issue_s_bomb_192_khz_7_1_is_refused_by_default() -> None:
    with pytest.raises(UnsupportedMedia, match="192000 Hz; the limit is 96000 Hz"):
        check_figures(declared(duration_s=300, sample_rate=192000, channels=8), LIMITS)


def test_more_channels_than_allowed_are_refused() -> None:
    with pytest.raises(UnsupportedMedia, match="16 channels; the limit is 8"):
        check_figures(declared(channels=16), LIMITS)


def test_a_file_longer_than_the_limit_is_413_naming_the_duration_limit() -> None:
    with pytest.raises(MediaOverLimit, match=r"5:00:00 long; the limit is 4:00:00") as caught:
        check_figures(declared(duration_s=5 * 3600), LIMITS)
    assert caught.value.limit == "duration"


@pytest.mark.parametrize(
    "figures",
    [{"duration_s": None}, {"duration_s": 0.0}, {"sample_rate": None}, {"channels": 0}],
)
def test_a_file_that_declares_no_duration_rate_or_channels_is_refused(figures) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UnsupportedMedia, match="declares no duration"):
        check_figures(declared(**figures), LIMITS)


def test_the_time_limit_scales_with_the_declared_duration_and_has_a_floor() -> None:
    assert LIMITS.time_limit_s(4 * 3600) == 300
    assert LIMITS.time_limit_s(2 * 3600) == 150
    assert LIMITS.time_limit_s(1.0) == MIN_ANALYSIS_TIMEOUT_S
    # Longer than the limit never buys more time (it is refused anyway).
    assert LIMITS.time_limit_s(10 * 3600) == 300


def test_a_time_limit_below_the_floor_is_taken_as_it_is() -> None:
    tight = AnalysisLimits(
        max_duration_s=3600, max_sample_rate=96000, max_channels=2, timeout_s=0.5
    )
    assert tight.time_limit_s(60) == 0.5
