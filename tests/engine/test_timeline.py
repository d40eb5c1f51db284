"""Where parts sit in time: pure arithmetic, checked without ffmpeg."""

from __future__ import annotations

import pytest

from podplus.engine.timeline import (
    PIECE_JOIN_S,
    POST_ROLL_S,
    PRE_ROLL_S,
    PartPlan,
    build_timeline,
    playable_pieces,
)


def whole(title: str, seconds: float, content: str = "speech") -> PartPlan:
    return PartPlan(title, content, ((0.0, seconds),))  # type: ignore[arg-type]


def test_music_joins_crossfade_and_the_chapters_follow() -> None:
    timeline = build_timeline(
        [whole("Intro", 10.0, "music"), whole("Talk", 600.0), whole("Outro", 8.0, "music")],
        crossfade_s=1.0,
    )
    assert timeline.duration_s == pytest.approx(616.0)
    assert [span.start_s for span in timeline.spans] == [0.0, 9.0, 608.0]
    assert timeline.chapters() == [
        (0.0, 9.0, "Intro"),
        (9.0, 608.0, "Talk"),
        (608.0, 616.0, "Outro"),
    ]


def test_speech_never_overlaps_speech_whatever_the_crossfade() -> None:
    timeline = build_timeline([whole("Host", 30.0), whole("Guest", 20.0)], crossfade_s=3.0)
    assert timeline.crossfades_s == (0.0,)
    assert timeline.duration_s == 50.0
    assert timeline.chapters()[1][0] == 30.0


def test_a_crossfade_never_swallows_more_than_half_a_short_part() -> None:
    timeline = build_timeline([whole("Sting", 1.0, "music"), whole("Talk", 60.0)], crossfade_s=3.0)
    assert timeline.crossfades_s == (0.5,)
    assert timeline.duration_s == pytest.approx(60.5)


def test_no_crossfade_means_back_to_back() -> None:
    timeline = build_timeline([whole("A", 2.0, "music"), whole("B", 3.0)], crossfade_s=0)
    assert timeline.crossfades_s == (0.0,)
    assert timeline.duration_s == 5.0


def test_edge_silences_are_cut_keeping_a_pre_and_post_roll() -> None:
    silences = [(0.0, 1.5), (40.0, 42.0), (98.0, None)]
    pieces = playable_pieces(duration_s=100, silences=silences, trim_edges=True)
    assert pieces == (pytest.approx((1.5 - PRE_ROLL_S, 98.0 + POST_ROLL_S)),)


def test_without_trimming_every_second_plays() -> None:
    silences = [(0.0, 1.5), (98.0, None)]
    assert playable_pieces(duration_s=100, silences=silences) == ((0.0, 100),)


def test_long_pauses_are_shortened_to_the_limit_not_removed() -> None:
    silences = [(10.0, 11.0), (20.0, 26.0), (50.0, 53.0)]
    pieces = playable_pieces(duration_s=60, silences=silences, max_pause_s=2.0)
    plan = PartPlan("Talk", "speech", pieces)
    # The 6 s and 3 s pauses become 2 s each; the 1 s pause stays.
    assert plan.duration_s == pytest.approx(60 - 4 - 1)
    assert len(pieces) == 3
    first_cut = pieces[0][1]
    assert first_cut == pytest.approx(20.0 + 1.0 + PIECE_JOIN_S / 2)


def test_a_part_that_is_all_silence_has_nothing_to_play_when_trimmed() -> None:
    assert playable_pieces(duration_s=5, silences=[(0.0, None)], trim_edges=True) == ()


def test_the_bed_fade_fits_short_episodes() -> None:
    assert build_timeline([whole("A", 4.0)], crossfade_s=0).bed_fade_out_s() == 1.0
    assert build_timeline([whole("A", 600.0)], crossfade_s=0).bed_fade_out_s() == 3.0
