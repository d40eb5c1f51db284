"""The words every command line is made of, checked as data: one safe input, one way to
write a filter's options and a number, and every command built from them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from podplus.engine.ffmpeg import (
    FORBIDDEN_DEMUXERS,
    decibels,
    file_url,
    filter_spec,
    format_number,
    safe_input,
)
from podplus.engine.graph import (
    encode_args,
    floor_args,
    limited_loudness_args,
    prepare_args,
    render_args,
)
from podplus.engine.loudness import loudness_args
from podplus.engine.manifest import OutputSpec, Part, parse_manifest
from podplus.engine.probe import ffprobe_args
from podplus.probing import lufs_args
from tests.engine.test_graph import BASE, BED, plan

HOSTILE = [
    "a:b",
    "x,y;z",
    "[in]out[",
    "it's",
    "back\\slash\\",
    "  spaced  ",
    "",
    "'",
    "\\'",
    "a\\:b'c,d]e;f",
    "k=v:peak=true",
    "%{pts}",
]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "1"),
        (-2.5, "-2.5"),
        (0.0, "0"),
        (-0.0, "0"),
        (-1e-9, "0"),
        (1e-5, "0.00001"),
        (0.8222426499470711, "0.822243"),
        (1e20, "100000000000000000000"),
        (44100, "44100"),
        (-1, "-1"),
    ],
)
def test_numbers_are_fixed_point_with_at_most_six_decimals(value: float, text: str) -> None:
    assert format_number(value) == text


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"), True])
def test_what_is_not_a_finite_number_is_refused(value: float) -> None:
    with pytest.raises(ValueError, match="finite"):
        format_number(value)


def test_a_filter_is_its_name_then_its_options_in_order() -> None:
    assert filter_spec("acrossfade", d=1.0, c1="tri") == "acrossfade=d=1:c1=tri"
    assert filter_spec("volume", decibels(-2.5)) == "volume=-2.5dB"
    assert filter_spec("amix", inputs=2, normalize=False) == "amix=inputs=2:normalize=0"
    assert filter_spec("alimiter", latency=True) == "alimiter=latency=1"
    assert filter_spec("anull") == "anull"
    assert filter_spec("afade", t="out", st=1e-5) == "afade=t=out:st=0.00001"


def test_hostile_option_values_are_escaped_for_both_parsers() -> None:
    # Quoted for the filter's own option parser, then backslashed for the graph parser.
    assert filter_spec("f", v="a:b") == "f=v=\\'a:b\\'"
    assert filter_spec("f", v="x,y;z") == "f=v=\\'x\\,y\\;z\\'"
    assert filter_spec("f", v="[in]") == "f=v=\\'\\[in\\]\\'"
    assert filter_spec("f", v="it's") == "f=v=\\'it\\'\\\\\\'\\'s\\'"
    assert filter_spec("f", v="a\\b") == "f=v=\\'a\\\\b\\'"
    assert filter_spec("f", v="") == "f=v=\\'\\'"
    for value in HOSTILE:
        # The graph parser reads the filter's arguments up to "[],;" (all of them: no new
        # filter, link or label starts), then the filter reads each value up to ":".
        arguments, rest = _av_get_token(filter_spec("f", v=value).removeprefix("f="), "[],;")
        assert rest == ""
        read, rest = _av_get_token(arguments.removeprefix("v="), ":")
        assert (read, rest) == (value, ""), arguments


def _av_get_token(text: str, terms: str) -> tuple[str, str]:
    """A model of ffmpeg's ``av_get_token`` (libavutil/avstring.c), which both levels use:
    one token up to a terminator, a backslash or single quotes protecting what they
    cover, unprotected whitespace trimmed at both ends. Returns the token and the rest."""
    spaces = " \n\t\r"
    at = len(text) - len(text.lstrip(spaces))
    out: list[str] = []
    kept = 0  # protected characters are never trimmed
    while at < len(text) and text[at] not in terms:
        char, at = text[at], at + 1
        if char == "\\" and at < len(text):
            out.append(text[at])
            at, kept = at + 1, len(out)
        elif char == "'":
            while at < len(text) and text[at] != "'":
                out.append(text[at])
                at += 1
            if at < len(text):
                at, kept = at + 1, len(out)
        else:
            out.append(char)
    while len(out) > kept and out[-1] in spaces:
        out.pop()
    return "".join(out), text[at:]


def test_names_that_are_not_names_are_refused() -> None:
    with pytest.raises(ValueError):
        filter_spec("volume,anull")
    with pytest.raises(ValueError):
        filter_spec("ametadata", **{"key:value": "x"})


def test_hostile_option_values_reach_the_filter_unchanged() -> None:
    """What ffmpeg itself reads: ametadata stores the value and prints it back."""
    for value in HOSTILE:
        graph = ",".join(
            [
                filter_spec("ametadata", mode="add", key="k", value=value),
                filter_spec("ametadata", mode="print", key="k"),
            ]
        )
        result = subprocess.run(
            ["ffmpeg", "-nostdin", "-hide_banner", "-f", "lavfi", "-i", "anullsrc=d=0.02",
             "-frames:a", "1", "-filter:a", graph, "-f", "null", "-"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        printed = [line.split("] ", 1)[1] for line in result.stderr.splitlines() if "] k=" in line]
        assert printed[:1] == [f"k={value}"], (value, graph)


def test_a_safe_input_is_one_whitelisted_file_url() -> None:
    assert safe_input(Path("/ep/a|b:c.wav")) == [
        "-protocol_whitelist", "file", "-i", "file:/ep/a|b:c.wav",
    ]  # fmt: skip
    assert safe_input(Path("/w/mix"), demuxer="f32le", options={"ar": 44100, "ss": 0.5}) == [
        "-protocol_whitelist", "file", "-f", "f32le", "-ar", "44100", "-ss", "0.5",
        "-i", "file:/w/mix",
    ]  # fmt: skip
    assert file_url(Path("http://x")) == "file:http:/x"


def test_image2_always_reads_one_picture_by_its_name() -> None:
    assert safe_input(Path("/ep/c%d.jpg"), demuxer="image2") == [
        "-protocol_whitelist", "file", "-f", "image2", "-pattern_type", "none",
        "-i", "file:/ep/c%d.jpg",
    ]  # fmt: skip


@pytest.mark.parametrize("demuxer", sorted(FORBIDDEN_DEMUXERS - {"image2"}))
def test_demuxers_that_open_other_inputs_are_refused(demuxer: str) -> None:
    with pytest.raises(ValueError, match="never used"):
        safe_input(Path("/ep/list"), demuxer=demuxer)


@pytest.mark.parametrize("option", ["i", "f", "protocol_whitelist", "pattern_type", "-i", "ss x"])
def test_options_cannot_undo_what_safe_input_decides(option: str) -> None:
    with pytest.raises(ValueError):
        safe_input(Path("/ep/a.wav"), options={option: "x"})


def _assert_every_input_is_safe(args: list[str]) -> None:
    """Each ``-i`` is the end of one ``safe_input`` block and each block has one ``-i``."""
    starts = [i for i, arg in enumerate(args) if arg == "-protocol_whitelist"]
    ends = [i for i, arg in enumerate(args) if arg == "-i"]
    assert ends and len(starts) == len(ends), args
    for start, end, following in zip(starts, ends, [*starts[1:], len(args)], strict=True):
        assert start < end < following, args
        assert args[start + 1] == "file" and args[end + 1].startswith("file:"), args
        block = args[start + 2 : end]
        names = block[0::2]
        assert all(name.startswith("-") for name in names), block
        if "-f" in block:
            demuxer = block[block.index("-f") + 1]
            assert demuxer not in FORBIDDEN_DEMUXERS or block[2:4] == ["-pattern_type", "none"]


def _every_command_line() -> list[list[str]]:
    commands = []
    for fmt in ("mp3", "m4a", "flac", "wav"):
        manifest, timeline, parts = plan(
            music_bed={"path": "bed.mp3"}, cover="cover.jpg", output={"format": fmt}
        )
        raw, chapters, out = Path("/w/mix.f32le"), Path("/w/ch.txt"), Path(f"/w/out.{fmt}")
        commands += [
            encode_args(
                manifest, intermediate=raw, gain_db=1.0, limiter_ceiling_db=limiter,
                metadata_file=metadata, destination=out, cover_as_is=as_is,
            )
            for limiter in (-1.5, None)
            for metadata in (chapters, None)
            for as_is in (True, False)
        ]  # fmt: skip
        commands += [
            render_args(manifest, timeline, parts, BED, raw),
            render_args(manifest, timeline, parts, None, raw),
            limited_loudness_args(raw, manifest.output, gain_db=1.0, ceiling_db=-1.7),
            floor_args(manifest, timeline, out),
        ]
    a = BASE / "a:b|c.wav"
    commands += [
        *[
            prepare_args(part, output, cleanup=[], measure_before=True, raw=Path("/w/p"))
            for part, output in _odd_parts(a)
        ],
        loudness_args(a),
        loudness_args(a, true_peak=False),
        ffprobe_args(a),
        lufs_args(a),
    ]
    return commands


def _odd_parts(path: Path) -> list[tuple[Part, OutputSpec]]:
    manifest = parse_manifest(
        {
            "segments": [
                {"path": str(path), "trim_start_s": 0.5, "trim_end_s": 3.5},
                {"path": str(path)},
            ]
        },
        base_dir=BASE,
    )
    return [(part, manifest.output) for part in manifest.parts]


def test_every_command_line_opens_its_inputs_only_through_safe_input() -> None:
    for args in _every_command_line():
        _assert_every_input_is_safe(args)
        assert args[0] == "ffprobe" or "-nostdin" in args
