"""What a failed job tells its owner: the engine's message, without the server's insides.

The real engine's failures, end to end, are in ``tests/test_end_to_end.py``; these pin
the rules on the words ffmpeg and the engine are known to write.
"""

from __future__ import annotations

from podplus.jobs.failures import engine_error_message, redact, summarize

ROOT = "/srv/pod data/media"  # a data folder with a space in its name
NAMES = {f"{ROOT}/3f9c": "take one.wav"}


def test_a_part_is_named_as_its_owner_knows_it_and_addresses_are_dropped() -> None:
    stderr = (
        f"podplus-engine: {ROOT}/3f9c: ffprobe can't read it: "
        "[pcm_s16le @ 0x55e44594c3c0] Decoder requires channel count but channels not set\n"
    )
    assert engine_error_message(stderr, names=NAMES, roots=[ROOT]) == (
        "The assembly failed: take one.wav: ffprobe can't read it: "
        "[pcm_s16le] Decoder requires channel count but channels not set"
    )


def test_other_files_under_the_data_folder_keep_only_their_own_name() -> None:
    stderr = (
        "podplus-engine: ffmpeg failed while rendering the mix:\n"
        f"[out#0/f32le @ 0x5599aa01] Error writing to 'file:{ROOT}/work/j1/.podplus-x/mix.f32le'"
        ": File too large\n"
    )
    assert summarize(stderr, names=NAMES, roots=[ROOT]) == (
        "ffmpeg failed while rendering the mix: [out#0/f32le] Error writing to 'mix.f32le': "
        "File too large"
    )


def test_any_other_absolute_path_keeps_only_its_last_part() -> None:
    assert redact("can't open file:/etc/podplus/x.conf or /usr/lib/y.so", names={}) == (
        "can't open x.conf or y.so"
    )
    # Slashes that aren't paths stay.
    assert redact("128 kb/s, N/A, [out#0/mp3]", names={}) == "128 kb/s, N/A, [out#0/mp3]"


def test_a_traceback_is_never_summarized() -> None:
    stderr = (
        "Traceback (most recent call last):\n"
        '  File "/opt/podplus/engine/cli.py", line 40, in main\n'
        "OSError: [Errno 24] Too many open files\n"
    )
    assert summarize(stderr, names=NAMES, roots=[ROOT]) is None
    assert engine_error_message(stderr, names=NAMES) == (
        "The assembly failed; the server log has the details."
    )


def test_without_its_own_message_the_engines_last_lines_are_used() -> None:
    stderr = "warming up\nffmpeg failed: Invalid data found when processing input\n"
    assert summarize(stderr, names={}) == (
        "warming up; ffmpeg failed: Invalid data found when processing input"
    )


def test_control_characters_in_a_name_become_spaces() -> None:
    assert redact(f"{ROOT}/3f9c: bad", names={f"{ROOT}/3f9c": "a\x00b\nc.wav"}) == "a b c.wav: bad"
