"""Post-production for spoken parts: rumble, mains hum, steady noise, sibilance, and two
voices at different levels in one take.

The clean-up is tuned to each take from a listening pass over it (``listen_graph``): the
quietest stretch gives the noise floor, and narrow bands at the mains frequencies and
their harmonics show whether 50 or 60 Hz hum is there. ``cleanup_filters`` turns the
episode's ``Cleanup`` options and those findings into one filter chain; music parts are
never cleaned up.
"""

from __future__ import annotations

from dataclasses import dataclass

from podplus.engine.ffmpeg import filter_spec
from podplus.engine.loudness import ebur128_filter
from podplus.engine.meters import Stats, astats_filter, read_stats
from podplus.engine.spec import Cleanup

MAINS_HZ = (50, 60)
HUM_HARMONICS = 4  # 50, 100, 150, 200 Hz: above that hum sinks under speech and noise
HUM_BAND_Q = 20.0
HUM_NOTCH_Q = 12.0
# One mains family must stand this far above the other to be called hum: broadband
# noise puts about the same energy in both.
HUM_MARGIN_DB = 6.0
# Below this the floor is digital silence or close to it: nothing to denoise.
SILENT_FLOOR_DB = -80.0
# afftdn's own limits for its noise floor.
DENOISE_FLOOR_RANGE_DB = (-80.0, -20.0)
# The leveller leaves alone what is less than this far above the noise floor, so pauses
# aren't pulled up with the quiet voice.
LEVELLER_GATE_DB = 18.0
LEVELLER_MAX_GAIN = 4.0  # 12 dB
LEVELLER_FRAME_MS = 300
LEVELLER_FRAMES = 9  # the smoothing window: about 3 s, a sentence or two


@dataclass(frozen=True)
class Findings:
    """What the listening pass heard in a take."""

    loudness_lufs: float | None
    noise_floor_db: float | None
    hum_hz: int | None


def needs_listening(cleanup: Cleanup) -> bool:
    return cleanup.dehum or cleanup.denoise_db > 0 or cleanup.level_voices


def listen_graph(conform: str) -> str:
    """From input 0 to ``[heard]`` (for a null output): loudness, the floor, and the
    level of each mains band.

    Hum is judged at the fundamental only: the second harmonics (100 and 120 Hz) sit
    where a voice's pitch is, and speech would be taken for hum. A narrow band at 50 Hz
    and one at 60 Hz hold about the same energy of speech and broadband noise; a hum puts
    one of them far above the other."""
    chains = [
        f"[0:a]{conform},asplit={len(MAINS_HZ) + 1}[whole]"
        + "".join(f"[mains{hz}]" for hz in MAINS_HZ)
    ]
    chains.append(
        f"[whole]{astats_filter('floor')},{ebur128_filter(peak='', instance='before')}[heard]"
    )
    for hz in MAINS_HZ:
        narrow = filter_spec("bandpass", f=hz, width_type="q", width=HUM_BAND_Q)
        chains.append(f"[mains{hz}]{narrow},{narrow},{astats_filter(f'mains{hz}')},anullsink")
    return ";".join(chains)


def read_findings(stderr_blocks: dict[str, str], loudness_lufs: float | None) -> Findings:
    floor = read_stats(stderr_blocks, "floor")
    bands = {hz: read_stats(stderr_blocks, f"mains{hz}").rms_db for hz in MAINS_HZ}
    return Findings(
        loudness_lufs=loudness_lufs,
        noise_floor_db=_floor(floor),
        hum_hz=_mains(bands),
    )


def _floor(stats: Stats) -> float | None:
    trough = stats.rms_trough_db
    return None if trough is None or trough < SILENT_FLOOR_DB else trough


def _mains(bands: dict[int, float | None]) -> int | None:
    level = {hz: -200.0 if db is None else db for hz, db in bands.items()}
    loudest, quietest = max(level, key=level.__getitem__), min(level, key=level.__getitem__)
    return loudest if level[loudest] - level[quietest] >= HUM_MARGIN_DB else None


def denoiser_delay_samples(sample_rate: int) -> int:
    """ffmpeg 5.1's afftdn: a window of 50 ms (rounded half to even, as lrint does),
    advanced a quarter at a time; its output lags by two advances."""
    return 2 * (round(sample_rate * 0.05) // 4)


def cleanup_filters(
    cleanup: Cleanup, findings: Findings | None, *, sample_rate: int
) -> tuple[list[str], list[str]]:
    """The filters, and a line for each saying what it does (for the part's report).

    The order matters: rumble and hum go first (they would steer everything after), the
    leveller before the denoiser (which then also quiets what the leveller lifted in the
    pauses), the de-esser last."""
    filters: list[str] = []
    applied: list[str] = []
    if cleanup.highpass_hz > 0:
        filters.append(filter_spec("highpass", f=cleanup.highpass_hz, poles=2))
        applied.append(f"rumble and DC below {cleanup.highpass_hz:g} Hz removed")
    if findings is not None:
        if cleanup.dehum and findings.hum_hz is not None:
            for k in range(1, HUM_HARMONICS + 1):
                notch = filter_spec(
                    "bandreject", f=findings.hum_hz * k, width_type="q", width=HUM_NOTCH_Q
                )
                filters.append(notch)
            applied.append(f"{findings.hum_hz} Hz mains hum notched ({HUM_HARMONICS} harmonics)")
        floor = findings.noise_floor_db
        if cleanup.level_voices and findings.loudness_lufs is not None:
            gate_db = (floor if floor is not None else SILENT_FLOOR_DB) + LEVELLER_GATE_DB
            filters.append(
                filter_spec(
                    "dynaudnorm",
                    framelen=LEVELLER_FRAME_MS,
                    gausssize=LEVELLER_FRAMES,
                    maxgain=LEVELLER_MAX_GAIN,
                    targetrms=10 ** ((findings.loudness_lufs + 3) / 20),
                    threshold=min(1.0, 10 ** (gate_db / 20)),
                )
            )
            applied.append("voices brought to one level")
        if cleanup.denoise_db > 0 and floor is not None:
            low, high = DENOISE_FLOOR_RANGE_DB
            # afftdn delays what it passes by half its analysis window and keeps the
            # length, which would drop the take's last syllable and shift everything
            # after it: pad the end by the delay, then cut it off the start.
            delay = denoiser_delay_samples(sample_rate)
            filters += [
                filter_spec("apad", pad_len=delay),
                filter_spec(
                    "afftdn",
                    noise_reduction=cleanup.denoise_db,
                    noise_floor=min(max(floor, low), high),
                    track_noise=True,
                ),
                filter_spec("atrim", start_sample=delay),
                filter_spec("asetpts", "PTS-STARTPTS"),
            ]
            applied.append(
                f"steady noise lowered {cleanup.denoise_db:g} dB (floor {floor:.0f} dBFS)"
            )
    if cleanup.deess:
        filters.append(filter_spec("deesser", i=0.4, m=0.5, f=0.5, s="o"))
        applied.append("sibilance softened")
    return filters, applied
