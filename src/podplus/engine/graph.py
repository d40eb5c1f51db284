"""The ffmpeg command lines of each pass, as pure functions of the plan.

Pass 1, *listen* (spoken parts being cleaned up): the take's noise floor, its mains hum
and its loudness, to tune the clean-up to it. Pass 2, *prepare*, one per part, as many
at once as there are cores: decode, cut, conform to the output's rate and layout, clean
up, and write float PCM, measuring the part as it will play. Then, only for parts whose
peaks need a limiter, *level*: the gain that lands the limited part on the target.
Pass 3, *render*: the prepared parts levelled, joined, the bed laid under them and
ducked, mixed to a float intermediate while ``ebur128`` learns its loudness and sample
peak. Pass 4, *encode*: one linear gain (and a limiter only if the peaks need one),
encoded once into the finished container with tags, cover and chapters. Pass 5,
*measure*: the finished file decoded as a player decodes it (encoder delay and padding
trimmed) and metered, loudness and 4x true peak.
The floor this is measured against is the sources joined, mixed and encoded in one pass
with no loudness work; see ``floor_args``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from podplus.engine.cleanup import listen_graph
from podplus.engine.ffmpeg import (
    OptionValue,
    decibels,
    file_url,
    filter_spec,
    format_number,
    safe_input,
)
from podplus.engine.loudness import SILENCE_MIN_S, SILENCE_THRESHOLD_DB, ebur128_filter
from podplus.engine.manifest import Manifest, OutputSpec, Part
from podplus.engine.meters import astats_filter
from podplus.engine.timeline import PIECE_JOIN_S, Timeline

DUCK_RATIO = 8
DUCK_ATTACK_MS = 50
DUCK_RELEASE_MS = 600
LIMITER_ATTACK_MS = 2
LIMITER_RELEASE_MS = 60
RAW_FORMAT = "f32le"
PROGRESS_PERIOD_S = 0.5
# Every part fades in and out over this, so a cut mid-sound never clicks.
EDGE_FADE_S = 0.005
RAW_READ_SLACK_S = 0.1

CODECS = {
    "mp3": ["-c:a", "libmp3lame"],
    "m4a": ["-c:a", "aac"],
    "flac": ["-c:a", "flac"],
    "wav": ["-c:a", "pcm_s16le"],
}
MUXERS = {"mp3": "mp3", "m4a": "ipod", "flac": "flac", "wav": "wav"}
MUXER_OPTIONS = {"mp3": ["-id3v2_version", "3"], "m4a": [], "flac": [], "wav": []}
# Formats whose muxer embeds a cover picture and writes chapters from -map_chapters.
COVER_FORMATS = ("mp3", "m4a", "flac")
CHAPTER_FORMATS = ("mp3", "m4a")


@dataclass(frozen=True)
class PartInput:
    """A prepared part (float PCM at the output's rate and layout) and how it plays."""

    raw: Path
    gain_db: float  # levelling plus the part's own gain
    limit_db: float | None = None  # its own limiter's ceiling, when its peaks need one


@dataclass(frozen=True)
class BedInput:
    path: Path
    gain_db: float  # puts the bed where the manifest asks, relative to the speech
    duck: bool
    duck_threshold_db: float  # relative to the speech too, so ducking is target-free


def common_args() -> list[str]:
    return ["ffmpeg", "-nostdin", "-hide_banner", "-nostats", "-y"]


def progress_args() -> list[str]:
    return ["-progress", "pipe:1", "-stats_period", format_number(PROGRESS_PERIOD_S)]


def audio_input(
    path: Path, *, start_s: float = 0.0, duration_s: float | None = None, loop: bool = False
) -> list[str]:
    options: dict[str, OptionValue] = {}
    if loop:
        options["stream_loop"] = -1
    if start_s > 0:
        options["ss"] = start_s
    if duration_s is not None:
        options["t"] = duration_s
    return safe_input(path, options=options)


def part_input(part: Part) -> list[str]:
    """A source as the manifest cuts it. Without ``trim_end_s`` it is read to its end,
    whatever its container claims: a VBR mp3 without a header under-reports its length."""
    duration = None if part.trim_end_s is None else part.trim_end_s - part.trim_start_s
    return audio_input(part.path, start_s=part.trim_start_s, duration_s=duration)


def conform_filters(output: OutputSpec) -> list[str]:
    """To the output's rate and layout: a part is measured as it will play (a voice on
    one channel of a stereo take loses 3 dB in a mono downmix; levelling must see that)."""
    return [
        filter_spec("aresample", output.sample_rate),
        filter_spec("aformat", sample_fmts="fltp", channel_layouts=_layout(output)),
    ]


def listen_args(part: Part, output: OutputSpec) -> list[str]:
    """The listening pass of a spoken part: what its clean-up should be tuned to."""
    return [
        *common_args(), "-loglevel", "level+info", *part_input(part),
        "-filter_complex", listen_graph(_chain(*conform_filters(output))),
        "-map", "[heard]", "-f", "null", "-",
    ]  # fmt: skip


def prepare_args(
    part: Part, output: OutputSpec, *, cleanup: list[str], measure_before: bool, raw: Path
) -> list[str]:
    """Pass 1, one per part: decode, cut, conform, clean up, and write float PCM to
    ``raw``, measuring it on the way (``astats@after``, ``ebur128@after``, silences) and,
    with ``measure_before``, before its clean-up too. Its length is then exact: the
    samples written, not a container's estimate."""
    head = "[0:a]" + _chain(*conform_filters(output))
    chains = []
    if measure_before:
        chains.append(f"{head},asplit=2[conformed][before]")
        chains.append(
            f"[before]{astats_filter('before')},"
            f"{ebur128_filter(peak='', instance='before')},anullsink"
        )
        head = "[conformed]" + _chain(*(cleanup or ["anull"]))
    elif cleanup:
        head += "," + _chain(*cleanup)
    chains.append(f"{head},asplit=2[prepared][after]")
    silences = filter_spec("silencedetect", n=decibels(SILENCE_THRESHOLD_DB), d=SILENCE_MIN_S)
    chains.append(
        f"[after]{astats_filter('after')},{ebur128_filter(peak='', instance='after')},"
        f"{silences},anullsink"
    )
    return [
        *common_args(), "-loglevel", "level+info", *part_input(part),
        "-filter_complex", ";".join(chains),
        "-map", "[prepared]", "-f", RAW_FORMAT, "-c:a", f"pcm_{RAW_FORMAT}", file_url(raw),
    ]  # fmt: skip


def _layout(output: OutputSpec) -> str:
    return "mono" if output.channels == 1 else "stereo"


def mix_graph(
    manifest: Manifest, timeline: Timeline, parts: list[PartInput], bed: BedInput | None
) -> str:
    """The filter graph from the inputs (every piece of every part, then the bed) to
    ``[mix]``."""
    output = manifest.output
    chains = []
    index = 0
    for number, (span, part) in enumerate(zip(timeline.spans, parts, strict=True)):
        # The demuxer stops reading a little after each piece; atrim cuts it to the sample.
        pieces = []
        for offset, (start, end) in enumerate(span.pieces):
            samples = round((end - start) * output.sample_rate)
            chains.append(
                f"[{index + offset}:a]{filter_spec('atrim', end_sample=samples)}"
                f"[c{number}x{offset}]"
            )
            pieces.append(f"[c{number}x{offset}]")
        current = pieces[0]
        for joined in range(1, len(pieces)):
            join = filter_spec("acrossfade", d=PIECE_JOIN_S, c1="qsin", c2="qsin")
            chains.append(f"{current}{pieces[joined]}{join}[q{number}x{joined}]")
            current = f"[q{number}x{joined}]"
        index += len(span.pieces)
        level = [
            filter_spec("aformat", sample_fmts="fltp", channel_layouts=_layout(output)),
            filter_spec("volume", decibels(part.gain_db)),
        ]
        if part.limit_db is not None:
            level.append(limiter_filter(part.limit_db))
        edge = min(EDGE_FADE_S, span.duration_s / 4)
        level += [
            filter_spec("afade", t="in", d=edge),
            filter_spec("afade", t="out", st=max(0.0, span.duration_s - edge), d=edge),
        ]
        chains.append(f"{current}{_chain(*level)}[p{number}]")
    voice = "p0"
    for number, span in enumerate(timeline.spans[1:], start=1):
        if span.crossfade_in_s > 0:
            join = filter_spec("acrossfade", d=span.crossfade_in_s, c1="tri", c2="tri")
        else:
            join = filter_spec("concat", n=2, v=0, a=1)
        chains.append(f"[{voice}][p{number}]{join}[x{number}]")
        voice = f"x{number}"

    if bed is None:
        chains.append(f"[{voice}]{filter_spec('anull')}[mix]")
        return ";".join(chains)
    total = timeline.duration_s
    fade = timeline.bed_fade_out_s()
    bed_chain = _chain(
        *conform_filters(output),
        filter_spec("atrim", start=0, end=total),
        filter_spec("asetpts", "PTS-STARTPTS"),
        filter_spec("volume", decibels(bed.gain_db)),
        filter_spec("afade", t="out", st=total - fade, d=fade),
    )
    chains.append(f"[{index}:a]{bed_chain}[bed]")
    # normalize=0: amix would otherwise halve both inputs.
    mix = filter_spec("amix", inputs=2, duration="first", normalize=False)
    if bed.duck:
        duck = filter_spec(
            "sidechaincompress",
            threshold=10 ** (bed.duck_threshold_db / 20),
            ratio=DUCK_RATIO,
            attack=DUCK_ATTACK_MS,
            release=DUCK_RELEASE_MS,
        )
        chains.append(f"[{voice}]{filter_spec('asplit', outputs=2)}[voice][key]")
        chains.append(f"[bed][key]{duck}[ducked]")
        chains.append(f"[voice][ducked]{mix}[mix]")
    else:
        chains.append(f"[{voice}][bed]{mix}[mix]")
    return ";".join(chains)


def _chain(*filters: str) -> str:
    return ",".join(filters)


def input_args(
    output: OutputSpec, timeline: Timeline, parts: list[PartInput], bed: BedInput | None
) -> list[str]:
    """Every piece of every prepared part (cut exactly: it is headerless PCM), then the
    bed looped forever (the graph cuts it)."""
    args: list[str] = []
    for span, part in zip(timeline.spans, parts, strict=True):
        for start, end in span.pieces:
            # -t cuts whole packets, so it only bounds the read; the graph cuts exactly.
            reading = end - start + RAW_READ_SLACK_S
            args += raw_input(part.raw, output, start_s=start, duration_s=reading)
    if bed is not None:
        args += audio_input(bed.path, loop=True)
    return args


def raw_input(
    path: Path, output: OutputSpec, *, start_s: float = 0.0, duration_s: float | None = None
) -> list[str]:
    """Float PCM the engine wrote as an input: its layout must be spelled out."""
    options: dict[str, OptionValue] = {"ar": output.sample_rate, "ac": output.channels}
    if start_s > 0:
        options["ss"] = start_s
    if duration_s is not None:
        options["t"] = duration_s
    return safe_input(path, demuxer=RAW_FORMAT, options=options)


def render_args(
    manifest: Manifest,
    timeline: Timeline,
    parts: list[PartInput],
    bed: BedInput | None,
    intermediate: Path,
) -> list[str]:
    """Pass 3. The mix goes to ``intermediate`` through ``ebur128``, whose summary
    (integrated loudness, sample peak) ends stderr.

    The meter runs in the render process: fed through a FIFO to a second process it cost
    more (about 0.8 s per 10 minutes here) than it does inline (0.35 s). Only the sample
    peak is taken: the true peak that matters is the encoded file's, which the encode
    pass measures."""
    meter = ebur128_filter(peak="sample")
    graph = mix_graph(manifest, timeline, parts, bed) + f";[mix]{meter}[out]"
    return [
        *common_args(), "-loglevel", "level+info", *progress_args(),
        *input_args(manifest.output, timeline, parts, bed),
        "-filter_complex", graph,
        "-map", "[out]", "-f", RAW_FORMAT, "-c:a", f"pcm_{RAW_FORMAT}", file_url(intermediate),
    ]  # fmt: skip


def limited_loudness_args(
    intermediate: Path, output: OutputSpec, *, gain_db: float, ceiling_db: float
) -> list[str]:
    """Loudness of the mix (or of a part, with its own limiter) after gain and limiter,
    without encoding: the limiter takes some loudness away, so the gain that hits the
    target is found by measuring this."""
    limiter = limiter_filter(ceiling_db)
    chain = _chain(
        filter_spec("volume", decibels(gain_db)),
        limiter,
        ebur128_filter(peak=""),
    )
    return [
        *common_args(), "-loglevel", "level+info", *raw_input(intermediate, output),
        "-filter:a", chain, "-f", "null", "-",
    ]  # fmt: skip


def limiter_filter(ceiling_db: float) -> str:
    """A sample-peak limiter at ``ceiling_db`` that never re-levels (``level=0``)."""
    return filter_spec(
        "alimiter",
        limit=10 ** (ceiling_db / 20),
        attack=LIMITER_ATTACK_MS,
        release=LIMITER_RELEASE_MS,
        level=False,
        latency=True,
    )


def encode_args(
    manifest: Manifest,
    *,
    intermediate: Path,
    gain_db: float,
    limiter_ceiling_db: float | None,
    metadata_file: Path | None,
    destination: Path,
    cover_as_is: bool = False,
) -> list[str]:
    """Pass 4: the one gain (and the limiter, if the peaks need it), encoded once into the
    finished container with tags, cover and chapters. A JPEG or PNG cover goes in byte for
    byte (``cover_as_is``); anything else becomes a JPEG."""
    output = manifest.output
    filters = [filter_spec("volume", decibels(gain_db))]
    if limiter_ceiling_db is not None:
        filters.append(limiter_filter(limiter_ceiling_db))
    return [
        *common_args(), "-loglevel", "level+error", *progress_args(),
        *raw_input(intermediate, output),
        *_packaging(manifest, metadata_file, first_input=1, cover_as_is=cover_as_is),
        "-filter:a", _chain(*filters), *codec_args(output), *MUXER_OPTIONS[output.format],
        "-f", MUXERS[output.format], file_url(destination),
    ]  # fmt: skip


def source_mix(manifest: Manifest, timeline: Timeline) -> tuple[list[str], str]:
    """The inputs and the graph to ``[mix]`` of the sources as they are: cut, joined and
    mixed with the bed at its gain, with no clean-up and no loudness work. The floor the
    engine is measured against, and what benchmarks feed other loudness tools."""
    output = manifest.output
    inputs: list[str] = []
    chains = []
    for index, part in enumerate(manifest.parts):
        inputs += part_input(part)
        chains.append(f"[{index}:a]{_chain(*conform_filters(output))}[p{index}]")
    voice = "p0"
    for index, span in enumerate(timeline.spans[1:], start=1):
        join = (
            filter_spec("acrossfade", d=span.crossfade_in_s, c1="tri", c2="tri")
            if span.crossfade_in_s > 0
            else filter_spec("concat", n=2, v=0, a=1)
        )
        chains.append(f"[{voice}][p{index}]{join}[x{index}]")
        voice = f"x{index}"
    if manifest.music_bed is None:
        chains.append(f"[{voice}]anull[mix]")
    else:
        inputs += audio_input(manifest.music_bed.path, loop=True)
        bed = _chain(
            *conform_filters(output),
            filter_spec("atrim", start=0, end=timeline.duration_s),
            filter_spec("volume", decibels(manifest.music_bed.gain_db)),
        )
        chains.append(f"[{len(manifest.parts)}:a]{bed}[bed]")
        mix = filter_spec("amix", inputs=2, duration="first", normalize=False)
        chains.append(f"[{voice}][bed]{mix}[mix]")
    return inputs, ";".join(chains)


def floor_args(manifest: Manifest, timeline: Timeline, destination: Path) -> list[str]:
    """The benchmark's floor: ``source_mix`` encoded in one pass, measuring nothing."""
    inputs, graph = source_mix(manifest, timeline)
    return [
        *common_args(), "-loglevel", "error", *progress_args(), *inputs,
        "-filter_complex", graph, "-map", "[mix]", *encoding_args(manifest.output),
        file_url(destination),
    ]  # fmt: skip


def _packaging(
    manifest: Manifest, metadata_file: Path | None, *, first_input: int, cover_as_is: bool
) -> list[str]:
    """Cover and chapter inputs (numbered from ``first_input``; the audio is input 0), the
    maps that use them, and the tags."""
    fmt = manifest.output.format
    args: list[str] = []
    maps = ["-map", "0:a"]
    next_input = first_input
    if manifest.cover is not None and fmt in COVER_FORMATS:
        # image2 with no pattern (safe_input pins it): the name is never a sequence template.
        args += safe_input(manifest.cover, demuxer="image2")
        maps += [
            "-map", f"{next_input}:v", "-c:v", "copy" if cover_as_is else "mjpeg",
            "-disposition:v", "attached_pic",
            # The picture type players look for (ID3 APIC and FLAC PICTURE type 3).
            "-metadata:s:v", "comment=Cover (front)",
        ]  # fmt: skip
        next_input += 1
    if metadata_file is not None:
        args += safe_input(metadata_file, demuxer="ffmetadata")
        maps += ["-map_metadata", str(next_input), "-map_chapters", str(next_input)]
    else:
        maps += ["-map_chapters", "-1"]
    for key, value in _tags(manifest).items():
        maps += ["-metadata", f"{key}={value}"]
    return args + maps


def _tags(manifest: Manifest) -> dict[str, str]:
    tags = dict(manifest.tags)
    if "year" in tags:
        tags.setdefault("date", tags.pop("year"))
    return tags


def codec_args(output: OutputSpec) -> list[str]:
    args = ["-ac", str(output.channels), "-ar", str(output.sample_rate), *CODECS[output.format]]
    if output.is_lossy:
        args += ["-b:a", f"{output.bitrate_kbps}k"]
    return args


def encoding_args(output: OutputSpec) -> list[str]:
    """Codec and container for a one-pass encode (the benchmark's floor and baseline)."""
    fmt = output.format
    return [*codec_args(output), *MUXER_OPTIONS[fmt], "-f", MUXERS[fmt]]


def ffmetadata(timeline: Timeline) -> str:
    """An ffmetadata file with one chapter per part, for the mp3 and m4a muxers (ffmpeg
    5.1's flac and wav muxers write no chapters)."""
    lines = [";FFMETADATA1"]
    for start, end, title in timeline.chapters():
        lines += [
            "[CHAPTER]", "TIMEBASE=1/1000", f"START={round(start * 1000)}",
            f"END={round(end * 1000)}", f"title={_escape(title)}",
        ]  # fmt: skip
    return "\n".join(lines) + "\n"


def _escape(text: str) -> str:
    # ffmetadata treats these as syntax.
    for char in ("\\", "=", ";", "#", "\n"):
        text = text.replace(char, "\\" + char)
    return text
