"""The ffmpeg command lines, checked as data: safe inputs, streaming filters, right codecs."""

from __future__ import annotations

from pathlib import Path

from podplus.engine.graph import (
    PartInput,
    encode_args,
    ffmetadata,
    limiter_filter,
    mix_graph,
    render_args,
)
from podplus.engine.manifest import parse_manifest
from podplus.engine.timeline import build_timeline

BASE = Path("/ep")


def plan(**fields: object):  # type: ignore[no-untyped-def]
    manifest = parse_manifest(
        {"segments": [{"path": "a.wav"}, {"path": "b.wav"}], **fields}, base_dir=BASE
    )
    timeline = build_timeline([("a", 0.5, 10.0), ("b", 0, 20.0)], crossfade_s=1.0)
    parts = [PartInput(BASE / "a.wav", 3.0), PartInput(BASE / "b.wav", -2.5)]
    return manifest, timeline, parts


def test_inputs_are_plain_files_with_nothing_else_allowed() -> None:
    manifest, timeline, parts = plan(music_bed={"path": "bed.mp3"})
    args = render_args(manifest, timeline, parts, Path("/tmp/mix.raw"), meter_fifo=Path("/f"))
    assert args[:2] == ["ffmpeg", "-nostdin"]
    inputs = [args[i + 1] for i, arg in enumerate(args) if arg == "-i"]
    assert inputs == ["file:/ep/a.wav", "file:/ep/b.wav", "file:/ep/bed.mp3"]
    assert args.count("-protocol_whitelist") == 3
    assert args[args.index("-ss") + 1] == "0.500000"


def test_the_mix_streams_and_does_not_halve_the_voice() -> None:
    manifest, timeline, parts = plan(music_bed={"path": "bed.mp3", "duck": True})
    graph = mix_graph(manifest, timeline, parts)
    assert "acrossfade=d=1.000000" in graph
    assert "volume=3.000dB" in graph and "volume=-2.500dB" in graph
    assert "sidechaincompress" in graph
    assert "amix=inputs=2:duration=first:normalize=0" in graph
    # Looping happens in the demuxer; these filters would hold the audio in memory.
    assert "aloop" not in graph and "areverse" not in graph
    render = render_args(manifest, timeline, parts, Path("/tmp/mix.raw"), meter_fifo=Path("/f"))
    assert render[render.index("-stream_loop") + 1] == "-1"


def test_without_ducking_the_bed_is_mixed_straight() -> None:
    manifest, timeline, parts = plan(music_bed={"path": "bed.mp3", "duck": False})
    graph = mix_graph(manifest, timeline, parts)
    assert "sidechaincompress" not in graph and "normalize=0" in graph


def test_the_limiter_never_auto_levels() -> None:
    assert ":level=0" in limiter_filter(-1.7)
    assert "limit=0.822243" in limiter_filter(-1.7)


def test_encode_carries_codec_tags_cover_and_chapters() -> None:
    manifest, timeline, _ = plan(
        cover="cover.jpg",
        tags={"artist": "Ada", "year": 2026},
        output={"format": "mp3", "bitrate_kbps": 96},
    )
    args = encode_args(
        manifest,
        intermediate=Path("/tmp/mix.raw"),
        gain_db=1.5,
        limiter_ceiling_db=None,
        metadata_file=Path("/tmp/ch.txt"),
        destination=Path("/tmp/out.mp3"),
    )
    joined = " ".join(args)
    assert "-c:a libmp3lame -id3v2_version 3 -b:a 96k" in joined
    assert "-pattern_type none" in joined and "file:/ep/cover.jpg" in joined
    assert "attached_pic" in joined and "-map_chapters 2" in joined
    assert "artist=Ada" in args and "date=2026" in args
    assert "-filter:a volume=1.500dB" in joined


def test_chapter_titles_are_escaped() -> None:
    timeline = build_timeline([("Q&A; part=1", 0, 5.0)], crossfade_s=0)
    text = ffmetadata(timeline)
    assert "title=Q&A\\; part\\=1" in text
    assert "START=0" in text and "END=5000" in text
