"""The ffmpeg command lines, checked as data: safe inputs, streaming filters, right codecs."""

from __future__ import annotations

from pathlib import Path

from podplus.engine.graph import (
    BedInput,
    PartInput,
    encode_args,
    ffmetadata,
    limited_loudness_args,
    limiter_filter,
    listen_args,
    mix_graph,
    prepare_args,
    render_args,
)
from podplus.engine.manifest import Manifest, parse_manifest
from podplus.engine.timeline import PartPlan, Timeline, build_timeline

BASE = Path("/ep")
BED = BedInput(BASE / "bed.mp3", gain_db=-4.5, duck=True, duck_threshold_db=-33.6)


def plan(**fields: object) -> tuple[Manifest, Timeline, list[PartInput]]:
    manifest = parse_manifest(
        {"segments": [{"path": "a.wav"}, {"path": "b.wav"}], **fields}, base_dir=BASE
    )
    timeline = build_timeline(
        [PartPlan("a", "music", ((0.5, 10.5),)), PartPlan("b", "speech", ((0.0, 20.0),))],
        crossfade_s=1.0,
    )
    parts = [
        PartInput(Path("/w/part0.f32le"), 3.0),
        PartInput(Path("/w/part1.f32le"), -2.5, limit_db=-2.3),
    ]
    return manifest, timeline, parts


def test_the_render_reads_the_prepared_parts_cut_exactly() -> None:
    manifest, timeline, parts = plan()
    args = render_args(manifest, timeline, parts, BED, Path("/w/mix.f32le"))
    inputs = [args[i + 1] for i, arg in enumerate(args) if arg == "-i"]
    assert inputs == ["file:/w/part0.f32le", "file:/w/part1.f32le", "file:/ep/bed.mp3"]
    assert args.count("-protocol_whitelist") == 3
    first = args[: args.index("file:/w/part0.f32le")]
    # The demuxer reads a little past the piece; the graph's atrim cuts it exactly.
    assert first[-5:-1] == ["-ss", "0.5", "-t", "10.1"] and "f32le" in first
    assert args[args.index("-stream_loop") + 1] == "-1"


def test_the_ducked_mix_graph_is_exactly_this() -> None:
    manifest, timeline, parts = plan(output={"format": "mp3", "channels": 1})
    conform = "aresample=44100,aformat=sample_fmts=fltp:channel_layouts=mono"
    assert mix_graph(manifest, timeline, parts, BED).split(";") == [
        "[0:a]atrim=end_sample=441000[c0x0]",
        "[c0x0]aformat=sample_fmts=fltp:channel_layouts=mono,volume=3dB,"
        "afade=t=in:d=0.005,afade=t=out:st=9.995:d=0.005[p0]",
        "[1:a]atrim=end_sample=882000[c1x0]",
        "[c1x0]aformat=sample_fmts=fltp:channel_layouts=mono,volume=-2.5dB,"
        f"{limiter_filter(-2.3)},afade=t=in:d=0.005,afade=t=out:st=19.995:d=0.005[p1]",
        "[p0][p1]acrossfade=d=1:c1=tri:c2=tri[x1]",
        f"[2:a]{conform},atrim=start=0:end=29,asetpts=PTS-STARTPTS,volume=-4.5dB,"
        "afade=t=out:st=26:d=3[bed]",
        "[x1]asplit=outputs=2[voice][key]",
        "[bed][key]sidechaincompress=threshold=0.020893:ratio=8:attack=50:release=600[ducked]",
        "[voice][ducked]amix=inputs=2:duration=first:normalize=0[mix]",
    ]


def test_speech_after_speech_is_butted_not_crossfaded() -> None:
    manifest, _, parts = plan()
    timeline = build_timeline(
        [PartPlan("a", "speech", ((0.0, 10.0),)), PartPlan("b", "speech", ((0.0, 20.0),))],
        crossfade_s=1.0,
    )
    graph = mix_graph(manifest, timeline, parts, None)
    assert "[p0][p1]concat=n=2:v=0:a=1[x1]" in graph and "acrossfade=d=1" not in graph


def test_a_shortened_pause_joins_its_pieces_with_a_short_crossfade() -> None:
    manifest, _, parts = plan()
    timeline = build_timeline(
        [
            PartPlan("a", "speech", ((0.0, 4.0), (9.0, 12.0))),
            PartPlan("b", "speech", ((0.0, 20.0),)),
        ],
        crossfade_s=0,
    )
    graph = mix_graph(manifest, timeline, parts, None)
    assert "[c0x0][c0x1]acrossfade=d=0.02:c1=qsin:c2=qsin[q0x1];[q0x1]aformat" in graph
    assert "[2:a]atrim=end_sample=882000[c1x0]" in graph  # part b is the third input
    args = render_args(manifest, timeline, parts, None, Path("/w/mix.f32le"))
    assert args.count("file:/w/part0.f32le") == 2


def test_without_ducking_the_bed_is_mixed_straight() -> None:
    manifest, timeline, parts = plan()
    bed = BedInput(BASE / "bed.mp3", gain_db=-4.5, duck=False, duck_threshold_db=-33.6)
    graph = mix_graph(manifest, timeline, parts, bed)
    assert "sidechaincompress" not in graph and "normalize=0" in graph
    # Looping happens in the demuxer; these filters would hold the audio in memory.
    assert "aloop" not in graph and "areverse" not in graph


def test_the_limiter_never_auto_levels() -> None:
    assert limiter_filter(-1.7) == "alimiter=limit=0.822243:attack=2:release=60:level=0:latency=1"


def test_a_part_is_prepared_as_it_will_play_and_measured_before_and_after() -> None:
    manifest, _, _ = plan(output={"channels": 1, "sample_rate": 48000})
    part = manifest.parts[0]
    args = prepare_args(
        part,
        manifest.output,
        cleanup=["highpass=f=70:poles=2"],
        measure_before=True,
        raw=Path("/w/part0.f32le"),
    )
    graph = args[args.index("-filter_complex") + 1]
    assert graph.startswith(
        "[0:a]aresample=48000,aformat=sample_fmts=fltp:channel_layouts=mono,"
        "asplit=2[conformed][before]"
    )
    assert "[conformed]highpass=f=70:poles=2,asplit=2[prepared][after]" in graph
    assert "astats@before=" in graph and "ebur128@after=" in graph and "silencedetect" in graph
    assert args[-6:] == ["[prepared]", "-f", "f32le", "-c:a", "pcm_f32le", "file:/w/part0.f32le"]
    # Without a trim_end_s the source is read to its end, whatever its header claims.
    assert "-t" not in args


def test_a_trimmed_part_is_cut_at_the_demuxer() -> None:
    manifest = parse_manifest(
        {"segments": [{"path": "a.mp3", "trim_start_s": 2, "trim_end_s": 7.5}]}, base_dir=BASE
    )
    args = prepare_args(
        manifest.parts[0], manifest.output, cleanup=[], measure_before=False, raw=Path("/w/p")
    )
    assert args[args.index("-ss") + 1] == "2" and args[args.index("-t") + 1] == "5.5"


def test_the_listening_pass_measures_the_mains_bands() -> None:
    manifest, _, _ = plan()
    args = listen_args(manifest.parts[0], manifest.output)
    graph = args[args.index("-filter_complex") + 1]
    assert "bandpass=f=50" in graph and "bandpass=f=60" in graph and "astats@floor" in graph
    assert args[-5:] == ["[heard]", "-f", "null", "-"][-5:] or args[-4:] == [
        "[heard]", "-f", "null", "-",
    ]  # fmt: skip


def test_the_encode_writes_the_finished_file_with_cover_tags_and_chapters() -> None:
    manifest, _, _ = plan(
        cover="cover.jpg",
        tags={"artist": "Ada", "year": 2026},
        output={"format": "mp3", "bitrate_kbps": 96},
    )
    args = encode_args(
        manifest, intermediate=Path("/w/mix.f32le"), gain_db=1.5, limiter_ceiling_db=None,
        metadata_file=Path("/w/ch.txt"), destination=Path("/w/out.mp3"), cover_as_is=True,
    )  # fmt: skip
    joined = " ".join(args)
    assert "-c:a libmp3lame -b:a 96k -id3v2_version 3 -f mp3 file:/w/out.mp3" in joined
    assert "-filter:a volume=1.5dB" in joined
    assert "-map 1:v -c:v copy -disposition:v attached_pic" in joined
    assert "comment=Cover (front)" in args
    assert "-map_chapters 2" in joined and "artist=Ada" in args and "date=2026" in args
    assert "-pattern_type none" in joined and "file:/ep/cover.jpg" in joined
    reencoded = encode_args(
        manifest, intermediate=Path("/w/mix.f32le"), gain_db=0.0, limiter_ceiling_db=-1.7,
        metadata_file=None, destination=Path("/w/out.mp3"),
    )  # fmt: skip
    assert "mjpeg" in reencoded and "-map_chapters -1" in " ".join(reencoded)
    assert limiter_filter(-1.7) in reencoded[reencoded.index("-filter:a") + 1]


def test_chapter_titles_are_escaped() -> None:
    timeline = build_timeline([PartPlan("Q&A; part=1", "speech", ((0.0, 5.0),))], crossfade_s=0)
    text = ffmetadata(timeline)
    assert "title=Q&A\\; part\\=1" in text
    assert "START=0" in text and "END=5000" in text


def _inputs(args: list[str]) -> list[str]:
    return [args[i + 1] for i, arg in enumerate(args) if arg == "-i"]


def test_every_pass_reads_only_whitelisted_file_urls() -> None:
    manifest, timeline, parts = plan(music_bed={"path": "bed.mp3"}, cover="cover.jpg")
    raw, chapters = Path("/w/mix.f32le"), Path("/w/chapters.txt")
    part = manifest.parts[0]
    passes = [
        listen_args(part, manifest.output),
        prepare_args(part, manifest.output, cleanup=[], measure_before=True, raw=raw),
        render_args(manifest, timeline, parts, BED, raw),
        limited_loudness_args(raw, manifest.output, gain_db=1.0, ceiling_db=-1.7),
        encode_args(
            manifest, intermediate=raw, gain_db=1.0, limiter_ceiling_db=None,
            metadata_file=chapters, destination=Path("/w/out.mp3"),
        ),
    ]  # fmt: skip
    for args in passes:
        inputs = _inputs(args)
        assert inputs and all(url.startswith("file:") for url in inputs), args
        assert args.count("-protocol_whitelist") == len(inputs), args
        assert "-nostdin" in args
