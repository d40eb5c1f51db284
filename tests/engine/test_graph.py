"""The ffmpeg command lines, checked as data: safe inputs, streaming filters, right codecs."""

from __future__ import annotations

from pathlib import Path

from podplus.engine.graph import (
    PartInput,
    analysis_args,
    encode_args,
    ffmetadata,
    limited_loudness_args,
    limiter_filter,
    meter_args,
    mix_graph,
    package_args,
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
    args = render_args(manifest, timeline, parts, Path("/tmp/mix.raw"))
    assert args[:2] == ["ffmpeg", "-nostdin"]
    inputs = [args[i + 1] for i, arg in enumerate(args) if arg == "-i"]
    assert inputs == ["file:/ep/a.wav", "file:/ep/b.wav", "file:/ep/bed.mp3"]
    assert args.count("-protocol_whitelist") == 3
    assert args[args.index("-ss") + 1] == "0.5" and args[args.index("-t") + 1] == "10"


def test_the_mix_streams_and_does_not_halve_the_voice() -> None:
    manifest, timeline, parts = plan(music_bed={"path": "bed.mp3", "duck": True})
    graph = mix_graph(manifest, timeline, parts)
    assert "[p0][p1]acrossfade=d=1:c1=tri:c2=tri[x1]" in graph
    assert "volume=3dB[p0]" in graph and "volume=-2.5dB[p1]" in graph
    assert "sidechaincompress" in graph
    assert "amix=inputs=2:duration=first:normalize=0" in graph
    # Looping happens in the demuxer; these filters would hold the audio in memory.
    assert "aloop" not in graph and "areverse" not in graph
    render = render_args(manifest, timeline, parts, Path("/tmp/mix.raw"))
    assert render[render.index("-stream_loop") + 1] == "-1"


def test_the_ducked_mix_graph_is_exactly_this() -> None:
    output = {"format": "mp3", "sample_rate": 44100, "channels": 1}
    manifest, timeline, parts = plan(
        music_bed={"path": "bed.mp3", "duck": True, "gain_db": -20}, output=output
    )
    conform = "aresample=44100,aformat=sample_fmts=fltp:channel_layouts=mono"
    assert mix_graph(manifest, timeline, parts).split(";") == [
        f"[0:a]{conform},volume=3dB[p0]",
        f"[1:a]{conform},volume=-2.5dB[p1]",
        "[p0][p1]acrossfade=d=1:c1=tri:c2=tri[x1]",
        f"[2:a]{conform},atrim=start=0:end=29,asetpts=PTS-STARTPTS,volume=-20dB,"
        "afade=t=out:st=26:d=3[bed]",
        "[x1]asplit=outputs=2[voice][key]",
        "[bed][key]sidechaincompress=threshold=0.02:ratio=8:attack=50:release=600[ducked]",
        "[voice][ducked]amix=inputs=2:duration=first:normalize=0[mix]",
    ]


def test_without_ducking_the_bed_is_mixed_straight() -> None:
    manifest, timeline, parts = plan(music_bed={"path": "bed.mp3", "duck": False})
    graph = mix_graph(manifest, timeline, parts)
    assert "sidechaincompress" not in graph and "normalize=0" in graph


def test_the_limiter_never_auto_levels() -> None:
    assert limiter_filter(-1.7) == "alimiter=limit=0.822243:attack=2:release=60:level=0:latency=1"


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
    assert "-c:a libmp3lame -b:a 96k -id3v2_version 3 -f mp3 file:/tmp/out.mp3" in joined
    assert "-pattern_type none" in joined and "file:/ep/cover.jpg" in joined
    assert "attached_pic" in joined and "-map_chapters 2" in joined
    assert "artist=Ada" in args and "date=2026" in args
    assert "-filter:a volume=1.5dB" in joined


def test_chapter_titles_are_escaped() -> None:
    timeline = build_timeline([("Q&A; part=1", 0, 5.0)], crossfade_s=0)
    text = ffmetadata(timeline)
    assert "title=Q&A\\; part\\=1" in text
    assert "START=0" in text and "END=5000" in text


def _inputs(args: list[str]) -> list[str]:
    return [args[i + 1] for i, arg in enumerate(args) if arg == "-i"]


def test_every_pass_reads_only_whitelisted_file_urls() -> None:
    manifest, timeline, parts = plan(music_bed={"path": "bed.mp3"}, cover="cover.jpg")
    raw, chapters = Path("/w/mix.f32le"), Path("/w/chapters.txt")
    passes = [
        analysis_args(BASE / "a.wav", start_s=0, duration_s=None, detect_silence=True),
        render_args(manifest, timeline, parts, raw, limiter_ceiling_db=-2.0),
        limited_loudness_args(raw, manifest.output, gain_db=1.0, ceiling_db=-1.7),
        encode_args(
            manifest, intermediate=raw, gain_db=1.0, limiter_ceiling_db=None,
            metadata_file=chapters, destination=Path("/w/out.mp3"),
        ),
        meter_args(Path("/w/meter.fifo"), manifest.output),
        package_args(
            manifest, audio_file=Path("/w/a.mp3"), metadata_file=chapters,
            destination=Path("/w/out.mp3"),
        ),
    ]  # fmt: skip
    for args in passes:
        inputs = _inputs(args)
        assert inputs and all(url.startswith("file:") for url in inputs), args
        assert args.count("-protocol_whitelist") == len(inputs), args
        assert "-nostdin" in args


def test_the_render_measures_the_mix_in_the_same_process() -> None:
    manifest, timeline, parts = plan()
    args = render_args(manifest, timeline, parts, Path("/w/mix.f32le"), limiter_ceiling_db=-2.3)
    graph = args[args.index("-filter_complex") + 1]
    assert graph.endswith(
        "[mix]" + limiter_filter(-2.3) + ",ebur128=framelog=verbose:peak=sample[out]"
    )
    assert args[-5:-1] == ["-f", "f32le", "-c:a", "pcm_f32le"]
    assert args[-1] == "file:/w/mix.f32le" and "level+info" in args


def test_a_metered_encode_tees_the_packets_and_escapes_folder_names() -> None:
    manifest, _, _ = plan(output={"format": "m4a"})
    args = encode_args(
        manifest, intermediate=Path("/w/mix.f32le"), gain_db=0.5, limiter_ceiling_db=None,
        metadata_file=None, destination=Path("/a|b[1]/audio.m4a"),
        meter_fifo=Path("/a|b[1]/meter.fifo"),
    )  # fmt: skip
    assert args[-2] == "tee"
    assert args[-1] == (
        "[f=ipod]file:/a\\|b\\[1\\]/audio.m4a|[f=adts]file:/a\\|b\\[1\\]/meter.fifo"
    )
    meter = meter_args(Path("/w/meter.fifo"), manifest.output)
    assert meter[meter.index("-i") - 1] == "aac" and "ebur128=framelog=verbose:peak=true" in meter


def test_packaging_copies_the_audio_and_adds_cover_tags_and_chapters() -> None:
    manifest, _, _ = plan(cover="cover.jpg", tags={"artist": "Ada"})
    args = package_args(
        manifest, audio_file=Path("/w/a.mp3"), metadata_file=Path("/w/ch.txt"),
        destination=Path("/w/out.mp3"),
    )  # fmt: skip
    joined = " ".join(args)
    assert "-c:a copy" in joined and "libmp3lame" not in joined
    assert "-map 1:v" in joined and "-map_chapters 2" in joined and "artist=Ada" in args
