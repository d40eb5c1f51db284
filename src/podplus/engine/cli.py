"""``podplus-engine``: assemble an episode from a manifest, or look inside a file.

    podplus-engine assemble MANIFEST -o OUT [--json]
    podplus-engine probe FILE
    podplus-engine loudness FILE

Exit codes: 0 done; 2 bad manifest or unreadable input; 3 ffmpeg failed; 4 the encoded
episode missed its loudness or true-peak target (it is not written);
130 interrupted (SIGINT); 143 terminated (SIGTERM).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from podplus.engine.assemble import Assembly
from podplus.engine.errors import EngineError, Interrupted
from podplus.engine.ffmpeg import die_with_parent
from podplus.engine.loudness import measure
from podplus.engine.manifest import load_manifest
from podplus.engine.probe import probe
from podplus.engine.progress import Progress

INTERRUPTING_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def main(argv: Sequence[str] | None = None) -> int:
    # Whoever started us (the supervisor, a shell) takes us down with it.
    die_with_parent()
    args = _parser().parse_args(argv)
    for signum in INTERRUPTING_SIGNALS:
        signal.signal(signum, _interrupt)
    try:
        return int(args.handler(args))
    except EngineError as exc:
        print(f"podplus-engine: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("podplus-engine: interrupted", file=sys.stderr)
        return 130


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # Raising here unwinds the main thread through every ``finally``: ffmpeg is killed
    # and temporary files are removed before we exit with 128 + signum. Any signal after
    # the first is ignored: a supervisor's second TERM to the group (or a second Ctrl-C)
    # would otherwise raise again inside that clean-up and leave the intermediate behind.
    # Whoever can't wait for us sends SIGKILL, which no handler sees.
    for other in INTERRUPTING_SIGNALS:
        signal.signal(other, signal.SIG_IGN)
    raise Interrupted(signum)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="podplus-engine",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    assemble = commands.add_parser("assemble", help="render a manifest to a finished file")
    assemble.add_argument("manifest", type=Path)
    assemble.add_argument("-o", "--output", type=Path, required=True)
    assemble.add_argument("--json", action="store_true", help="progress as JSON lines")
    assemble.set_defaults(handler=_assemble)
    probe_command = commands.add_parser("probe", help="duration, codec, rate, channels, tags")
    probe_command.add_argument("file", type=Path)
    probe_command.set_defaults(handler=_probe)
    loudness = commands.add_parser("loudness", help="integrated LUFS, range, true peak")
    loudness.add_argument("file", type=Path)
    loudness.set_defaults(handler=_loudness)
    return parser


def _assemble(args: argparse.Namespace) -> int:
    manifest = load_manifest(args.manifest)
    as_json = args.json or not sys.stdout.isatty()
    progress = Progress(as_json=as_json, stream=sys.stdout if as_json else sys.stderr)
    progress.start()
    try:
        result = Assembly(manifest, args.output, progress).run()
    finally:
        progress.stop()
    progress.finish(result.as_json())
    if not as_json:
        print(
            f"{result.output}  {result.duration_s:.1f} s  {result.integrated_lufs} LUFS  "
            f"{result.true_peak_db} dBTP  in {result.seconds:.1f} s"
        )
        for part in result.parts:
            before, after = part.before.as_json(), part.after.as_json()
            print(
                f"  {part.title}: {before['loudness_lufs']} -> {after['loudness_lufs']} LUFS, "
                f"floor {before['noise_floor_db']} -> {after['noise_floor_db']} dBFS"
                + "".join(f"\n    {line}" for line in part.applied)
            )
    return 0


def _probe(args: argparse.Namespace) -> int:
    print(json.dumps(probe(args.file).as_json(), indent=2))
    return 0


def _loudness(args: argparse.Namespace) -> int:
    print(json.dumps(measure(args.file).as_json(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
