"""The ffmpeg command lines of each pass, as pure functions of the plan.

Pass 1, *render*: decode every part, trim, level, crossfade, lay the ducked bed under
it, mix, and write 32-bit float PCM to an intermediate file while ``ebur128`` learns the
mix's loudness and sample peak in the same process. Pass 2, *encode*: one linear gain
(and a limiter only if the peaks need one), encoded once; the ``tee`` muxer writes the
packets both to a file and to a FIFO, where a meter on the other core decodes them and
measures the finished sound. Pass 3, *package*: the encoded audio copied (not re-encoded)
into the final container with tags, cover and chapters (``tee`` drops chapters).
The floor this is measured against is the same render and encode in one pass with no
loudness work; see ``floor_args``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from podplus.engine.ffmpeg import (
    OptionValue,
    decibels,
    file_url,
    filter_spec,
    format_number,
    safe_input,
)
from podplus.engine.loudness import SILENCE_MIN_S, SILENCE_THRESHOLD_DB, ebur128_filter
from podplus.engine.manifest import Manifest, OutputSpec
from podplus.engine.timeline import Timeline

DUCK_THRESHOLD = 0.02  # about -34 dBFS of speech starts pushing the bed down
DUCK_RATIO = 8
DUCK_ATTACK_MS = 50
DUCK_RELEASE_MS = 600
LIMITER_ATTACK_MS = 2
LIMITER_RELEASE_MS = 60
RAW_FORMAT = "f32le"
PROGRESS_PERIOD_S = 0.5

CODECS = {
    "mp3": ["-c:a", "libmp3lame"],
    "m4a": ["-c:a", "aac"],
    "flac": ["-c:a", "flac"],
    "wav": ["-c:a", "pcm_s16le"],
}
MUXERS = {"mp3": "mp3", "m4a": "ipod", "flac": "flac", "wav": "wav"}
DEMUXERS = {"mp3": "mp3", "m4a": "mov", "flac": "flac", "wav": "wav"}
MUXER_OPTIONS = {"mp3": ["-id3v2_version", "3"], "m4a": [], "flac": [], "wav": []}
# How the encoded packets travel to the meter: a stream format a FIFO can carry (no
# seeking back to finish a header), the same packets, no re-encoding.
METER_MUXERS = {"mp3": "mp3", "m4a": "adts", "flac": "flac", "wav": "s16le"}
METER_DEMUXERS = {"adts": "aac"}
# Formats whose muxer embeds a cover picture and writes chapters from -map_chapters.
COVER_FORMATS = ("mp3", "m4a", "flac")
CHAPTER_FORMATS = ("mp3", "m4a")


@dataclass(frozen=True)
class PartInput:
    path: Path
    gain_db: float  # leveling plus the part's own gain


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


def analysis_args(
    path: Path, *, start_s: float, duration_s: float | None, detect_silence: bool
) -> list[str]:
    """Loudness of one part (and its silences, to trim them), decoding nothing twice."""
    filters = [ebur128_filter(peak="")]
    if detect_silence:
        filters.append(
            filter_spec("silencedetect", n=decibels(SILENCE_THRESHOLD_DB), d=SILENCE_MIN_S)
        )
    return [
        *common_args(), "-loglevel", "level+info",
        *audio_input(path, start_s=start_s, duration_s=duration_s),
        "-map", "0:a:0", "-filter:a", ",".join(filters), "-f", "null", "-",
    ]  # fmt: skip


def _layout(output: OutputSpec) -> str:
    return "mono" if output.channels == 1 else "stereo"


def mix_graph(manifest: Manifest, timeline: Timeline, parts: list[PartInput]) -> str:
    """The filter graph from the inputs (parts in order, then the bed) to ``[mix]``."""
    output = manifest.output
    conform = [
        filter_spec("aresample", output.sample_rate),
        filter_spec("aformat", sample_fmts="fltp", channel_layouts=_layout(output)),
    ]
    chains = []
    for index, part in enumerate(parts):
        level = filter_spec("volume", decibels(part.gain_db))
        chains.append(f"[{index}:a]{_chain(*conform, level)}[p{index}]")
    voice = "p0"
    for index, span in enumerate(timeline.spans[1:], start=1):
        if span.crossfade_in_s > 0:
            join = filter_spec("acrossfade", d=span.crossfade_in_s, c1="tri", c2="tri")
        else:
            join = filter_spec("concat", n=2, v=0, a=1)
        chains.append(f"[{voice}][p{index}]{join}[x{index}]")
        voice = f"x{index}"

    bed = manifest.music_bed
    if bed is None:
        chains.append(f"[{voice}]{filter_spec('anull')}[mix]")
        return ";".join(chains)
    total = timeline.duration_s
    fade = timeline.bed_fade_out_s()
    bed_chain = _chain(
        *conform,
        filter_spec("atrim", start=0, end=total),
        filter_spec("asetpts", "PTS-STARTPTS"),
        filter_spec("volume", decibels(bed.gain_db)),
        filter_spec("afade", t="out", st=total - fade, d=fade),
    )
    chains.append(f"[{len(parts)}:a]{bed_chain}[bed]")
    # normalize=0: amix would otherwise halve both inputs.
    mix = filter_spec("amix", inputs=2, duration="first", normalize=False)
    if bed.duck:
        duck = filter_spec(
            "sidechaincompress",
            threshold=DUCK_THRESHOLD,
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


def input_args(manifest: Manifest, timeline: Timeline, parts: list[PartInput]) -> list[str]:
    """Every part, trimmed at the demuxer, then the bed looped forever (the graph cuts it)."""
    args: list[str] = []
    for part, span in zip(parts, timeline.spans, strict=True):
        args += audio_input(part.path, start_s=span.source_start_s, duration_s=span.duration_s)
    if manifest.music_bed is not None:
        args += audio_input(manifest.music_bed.path, loop=True)
    return args


def raw_input(path: Path, output: OutputSpec) -> list[str]:
    """The intermediate (headerless PCM) as an input: its layout must be spelled out."""
    return safe_input(
        path, demuxer=RAW_FORMAT, options={"ar": output.sample_rate, "ac": output.channels}
    )


def render_args(
    manifest: Manifest,
    timeline: Timeline,
    parts: list[PartInput],
    intermediate: Path,
    *,
    limiter_ceiling_db: float | None = None,
) -> list[str]:
    """Pass 1. The mix (limited to ``limiter_ceiling_db`` if given) goes to ``intermediate``
    through ``ebur128``, whose summary (integrated loudness, sample peak) ends stderr.

    The meter runs in the render process: fed through a FIFO to a second process it cost
    more (about 0.8 s per 10 minutes here) than it does inline (0.35 s). Only the sample
    peak is taken: the true peak's 4x oversampling would double the pass, and the true
    peak that matters is the encoded file's, which the encode pass measures anyway."""
    tail = ebur128_filter(peak="sample")
    if limiter_ceiling_db is not None:
        tail = _chain(limiter_filter(limiter_ceiling_db), tail)
    graph = mix_graph(manifest, timeline, parts) + f";[mix]{tail}[out]"
    return [
        *common_args(), "-loglevel", "level+info", *progress_args(),
        *input_args(manifest, timeline, parts),
        "-filter_complex", graph,
        "-map", "[out]", "-f", RAW_FORMAT, "-c:a", f"pcm_{RAW_FORMAT}", file_url(intermediate),
    ]  # fmt: skip


def limited_loudness_args(
    intermediate: Path, output: OutputSpec, *, gain_db: float, ceiling_db: float
) -> list[str]:
    """Loudness of the mix after gain and limiter, without encoding: the limiter takes
    some loudness away, so the gain that hits the target is found by measuring this."""
    chain = _chain(
        filter_spec("volume", decibels(gain_db)),
        limiter_filter(ceiling_db),
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
    meter_fifo: Path | None = None,
) -> list[str]:
    """Pass 2: the one gain (and the limiter, if the peaks need it), encoded once.

    Without ``meter_fifo`` this writes the finished file: tags, cover and chapters too.
    With it, the ``tee`` muxer sends the bare packets to ``destination`` and to the FIFO
    for ``meter_args``, and ``package_args`` adds the rest (tee drops chapters)."""
    output = manifest.output
    filters = [filter_spec("volume", decibels(gain_db))]
    if limiter_ceiling_db is not None:
        filters.append(limiter_filter(limiter_ceiling_db))
    muxer = MUXERS[output.format]
    if meter_fifo is None:
        packaging = _packaging(manifest, metadata_file, first_input=1)
        outputs = [*MUXER_OPTIONS[output.format], "-f", muxer, file_url(destination)]
    else:
        packaging = ["-map", "0:a"]
        slaves = (
            f"[f={muxer}]{_tee_escape(file_url(destination))}"
            f"|[f={METER_MUXERS[output.format]}]{_tee_escape(file_url(meter_fifo))}"
        )
        outputs = ["-f", "tee", slaves]
    return [
        *common_args(), "-loglevel", "level+error", *progress_args(),
        *raw_input(intermediate, output), *packaging, "-filter:a", _chain(*filters),
        *codec_args(output), *outputs,
    ]  # fmt: skip


def meter_args(fifo: Path, output: OutputSpec) -> list[str]:
    """The meter of the encoded sound: decodes what ``encode_args`` sends to ``fifo`` and
    prints an ebur128 summary with the true peak."""
    fmt = METER_MUXERS[output.format]
    # Headerless PCM must be told its layout; every other stream format carries it.
    layout: dict[str, OptionValue] = (
        {"ar": output.sample_rate, "ac": output.channels} if fmt == "s16le" else {}
    )
    return [
        *common_args(), "-loglevel", "level+info",
        *safe_input(fifo, demuxer=METER_DEMUXERS.get(fmt, fmt), options=layout),
        "-filter:a", ebur128_filter(peak="true"), "-f", "null", "-",
    ]  # fmt: skip


def package_args(
    manifest: Manifest, *, audio_file: Path, metadata_file: Path | None, destination: Path
) -> list[str]:
    """Pass 3: the encoded audio copied as it is, with tags, cover and chapters."""
    return [
        *common_args(), "-loglevel", "level+error",
        *safe_input(audio_file, demuxer=DEMUXERS[manifest.output.format]),
        *_packaging(manifest, metadata_file, first_input=1), "-c:a", "copy",
        *MUXER_OPTIONS[manifest.output.format], "-f", MUXERS[manifest.output.format],
        file_url(destination),
    ]  # fmt: skip


def floor_args(
    manifest: Manifest, timeline: Timeline, parts: list[PartInput], destination: Path
) -> list[str]:
    """The benchmark's floor: the same render and encode in one pass, no loudness work."""
    return [
        *common_args(), "-loglevel", "error", *progress_args(),
        *input_args(manifest, timeline, parts),
        "-filter_complex", mix_graph(manifest, timeline, parts), "-map", "[mix]",
        *encoding_args(manifest.output), file_url(destination),
    ]  # fmt: skip


def _tee_escape(url: str) -> str:
    # The tee muxer splits its argument on "|" and reads "[options]" before each URL; a
    # backslash makes any of its syntax characters in a folder name plain text.
    for char in ("\\", "|", "[", "]", "'"):
        url = url.replace(char, "\\" + char)
    return url


def _packaging(manifest: Manifest, metadata_file: Path | None, *, first_input: int) -> list[str]:
    """Cover and chapter inputs (numbered from ``first_input``; the audio is input 0), the
    maps that use them, and the tags."""
    fmt = manifest.output.format
    args: list[str] = []
    maps = ["-map", "0:a"]
    next_input = first_input
    if manifest.cover is not None and fmt in COVER_FORMATS:
        # image2 with no pattern (safe_input pins it): the name is never a sequence template.
        args += safe_input(manifest.cover, demuxer="image2")
        maps += ["-map", f"{next_input}:v", "-c:v", "mjpeg", "-disposition:v", "attached_pic"]
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
