"""Soak the whole daemon: hours of signing, replayed at accelerated pace, with nothing lost.

The recorded HELLO of the demo sample (real MediaPipe landmarks, models/demo/) is repeated as one
long landmark stream, each copy 2 s of "no hand" after the last, and fed as fast as the loop takes
it through the real Daemon: capture thread and its slot, ring buffer, LiteRT classifier, decoder,
transcript (fsync'd) and the speech worker (real espeak-ng, each utterance appended to a WAV file
the same way `demo --wav` does; spoken letters as feedback, so the bounded queue is really
pushed: the replay decodes words far faster than they can be spoken).

Checked, on every frame or every `rss_every` frames:
- every word decoded is in the transcript, in order, and every copy of HELLO gave a word;
- the capture slot, the ring buffer and the speech queue never exceed their bounds;
- RSS stops growing after warm-up (median of the last fifth of the samples minus the median of
  the second fifth; the first fifth is warm-up). The replay source holds the whole stream in
  memory (about 1 KB per frame with a hand), so the absolute RSS grows with --hours: only the
  growth after warm-up says anything about the daemon.

Measured on the 2-core development VM (loaded): 8 h of signing (431,971 frames) in 158 s, 2,160
words decoded and 2,160 in the transcript, slot max 1/1, ring max 91/91, speech queue max 8/8,
RSS +0.2 MB after warm-up.

    .venv/bin/python benchmarks/soak_daemon.py --hours 1 --json benchmarks/results/soak.json

tests/test_soak.py runs the same function on about ten minutes of signing.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from edge.bench.replay import repeat_landmark_csv  # noqa: E402
from edge.config import Config, load_config  # noqa: E402
from edge.daemon import Daemon  # noqa: E402
from edge.sources import Frame, LandmarkReplaySource  # noqa: E402
from edge.speech import WavFileSink  # noqa: E402

DEMO_CSV = REPO_ROOT / "models" / "demo" / "hello_landmarks.csv"
DEMO_FPS = 15.0
GAP_FRAMES = 30  # 2 s without a hand between copies: each word ends because the hand is gone


def soak_csv(path: Path, repeats: int, gap_frames: int = GAP_FRAMES) -> tuple[Path, float]:
    """The recorded HELLO `repeats` times as one sequence; returns (path, stream seconds)."""
    return repeat_landmark_csv(
        DEMO_CSV, path, repeats, gap_frames=gap_frames, fps=DEMO_FPS, sequence="soak"
    )


def copy_seconds(gap_frames: int = GAP_FRAMES) -> float:
    """Stream seconds of one copy of HELLO with its gap."""
    with DEMO_CSV.open(newline="", encoding="utf-8") as handle:
        last = max(int(row["frame"]) for row in csv.DictReader(handle))
    return (last + gap_frames) / DEMO_FPS


class NoTracker:
    """Replayed frames carry their landmarks: the landmark stage must never be asked."""

    def detect(self, image, t):  # noqa: ANN001 - the Tracker protocol
        raise RuntimeError("a replayed frame reached the landmark stage")


@dataclasses.dataclass
class SoakReport:
    repeats: int = 0
    stream_s: float = 0.0
    wall_s: float = 0.0
    frames: int = 0
    words_decoded: int = 0
    words_in_transcript: int = 0
    transcript_matches: bool = False
    distinct_words: list[str] = dataclasses.field(default_factory=list)
    utterances_queued: int = 0
    utterances_spoken: int = 0
    utterances_dropped: int = 0
    utterances_failed: int = 0
    slot_size: int = 0
    max_slot: int = 0
    ring_capacity: int = 0
    max_ring: int = 0
    speech_queue_size: int = 0
    max_speech_queue: int = 0
    rss_samples_mb: list[tuple[int, float]] = dataclasses.field(default_factory=list)
    rss_warm_mb: float = 0.0
    rss_end_mb: float = 0.0

    @property
    def rss_growth_mb(self) -> float:
        return self.rss_end_mb - self.rss_warm_mb

    def problems(self, rss_margin_mb: float) -> list[str]:
        """What went wrong, in words (empty: the soak passed)."""
        found = []
        if not self.transcript_matches:
            found.append("the transcript does not hold exactly the decoded words")
        if self.words_decoded != self.repeats:
            found.append(f"{self.words_decoded} words decoded from {self.repeats} copies")
        if self.max_slot > self.slot_size:
            found.append(f"capture slot held {self.max_slot} > {self.slot_size}")
        if self.max_ring > self.ring_capacity:
            found.append(f"ring held {self.max_ring} > {self.ring_capacity}")
        if self.max_speech_queue > self.speech_queue_size:
            found.append(f"speech queue held {self.max_speech_queue} > {self.speech_queue_size}")
        accounted = self.utterances_spoken + self.utterances_dropped + self.utterances_failed
        if accounted != self.utterances_queued:
            found.append(f"{self.utterances_queued} utterances queued, {accounted} accounted for")
        if self.rss_growth_mb > rss_margin_mb:
            found.append(f"RSS grew {self.rss_growth_mb:.1f} MB after warm-up")
        return found


class ProbeSource:
    """The replay, looking at the daemon's bounds on every frame it hands to the capture thread
    and sampling RSS every `rss_every` frames."""

    def __init__(self, inner: LandmarkReplaySource, report: SoakReport, rss_every: int) -> None:
        self.inner = inner
        self.name, self.live, self.paced = inner.name, inner.live, inner.paced
        self.report = report
        self.rss_every = rss_every
        self.daemon: Daemon | None = None
        self._process = psutil.Process()
        self._count = 0

    def open(self) -> None:
        self.inner.open()

    def read(self) -> Frame | None:
        daemon, report = self.daemon, self.report
        if daemon is not None:
            report.max_slot = max(report.max_slot, daemon.capture.pending())
            report.max_ring = max(report.max_ring, len(daemon.pipeline.ring))
            report.max_speech_queue = max(report.max_speech_queue, daemon.speaker.queue_length)
        if self._count % self.rss_every == 0:
            rss = self._process.memory_info().rss / 2**20
            report.rss_samples_mb.append((self._count, round(rss, 2)))
        self._count += 1
        return self.inner.read()

    def close(self) -> None:
        self.inner.close()


def soak_config(workdir: Path) -> Config:
    config = load_config()
    return dataclasses.replace(
        config,
        transcript=dataclasses.replace(config.transcript, path=str(workdir / "transcript.txt")),
        speech=dataclasses.replace(config.speech, letter_feedback="letter"),
        camera=dataclasses.replace(config.camera, realtime=False),
    )


def run_soak(workdir: Path, repeats: int, rss_every: int = 500) -> SoakReport:
    """Run the daemon on `repeats` copies of HELLO; everything it writes goes to `workdir`."""
    workdir.mkdir(parents=True, exist_ok=True)
    csv_path, stream_s = soak_csv(workdir / "soak.csv", repeats)
    config = soak_config(workdir)
    report = SoakReport(repeats=repeats, stream_s=stream_s)
    probe = ProbeSource(LandmarkReplaySource(csv_path, realtime=False), report, rss_every)
    sink = WavFileSink(workdir / "speech.wav")
    daemon = Daemon(config, source=probe, player=sink, tracker=NoTracker())
    probe.daemon = daemon
    started = time.monotonic()
    summary = daemon.run()
    report.wall_s = time.monotonic() - started

    path = config.transcript_path()
    written = [line.split("\t")[1] for line in path.read_text(encoding="utf-8").splitlines()]
    speaker = daemon.speaker
    report.frames = summary.frames
    report.words_decoded = summary.words.total
    report.words_in_transcript = len(written)
    report.transcript_matches = (
        written[-len(summary.words) :] == summary.words
        and len(written) == summary.words.total
        and daemon.transcript.pending == 0
    )
    report.distinct_words = sorted(set(summary.words))
    report.utterances_queued = summary.letters.total + summary.words.total
    report.utterances_spoken = speaker.spoken
    report.utterances_dropped = speaker.dropped
    report.utterances_failed = speaker.failed
    report.slot_size = config.camera.frame_slot_size
    report.ring_capacity = daemon.pipeline.ring.capacity
    report.speech_queue_size = config.speech.queue_size
    report.max_speech_queue = max(report.max_speech_queue, speaker.queue_high_water)
    samples = [rss for _, rss in report.rss_samples_mb]
    fifth = max(1, len(samples) // 5)
    report.rss_warm_mb = statistics.median(samples[fifth : 2 * fifth] or samples)
    report.rss_end_mb = statistics.median(samples[-fifth:])
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=float, default=1.0, help="hours of signing (1)")
    parser.add_argument("--rss-margin-mb", type=float, default=5.0, help="allowed growth (5)")
    parser.add_argument("--json", type=Path, help="write the report as JSON")
    parser.add_argument("--keep", type=Path, help="keep the transcript/WAV in this folder")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    repeats = max(1, round(args.hours * 3600 / copy_seconds()))
    with tempfile.TemporaryDirectory(prefix="sign2sound-soak-") as tmp:
        report = run_soak(args.keep or Path(tmp), repeats)
    data = dataclasses.asdict(report) | {"rss_growth_mb": report.rss_growth_mb}
    problems = report.problems(args.rss_margin_mb)
    data["problems"] = problems
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(data, indent=2) + "\n")
    print(
        f"{report.stream_s / 3600:.2f} h of signing ({report.frames} frames) in "
        f"{report.wall_s:.0f} s: {report.words_decoded} words decoded, "
        f"{report.words_in_transcript} in the transcript; slot max {report.max_slot}/"
        f"{report.slot_size}, ring max {report.max_ring}/{report.ring_capacity}, speech queue "
        f"max {report.max_speech_queue}/{report.speech_queue_size} ({report.utterances_dropped} "
        f"of {report.utterances_queued} utterances dropped to keep up); RSS "
        f"{report.rss_warm_mb:.1f} -> {report.rss_end_mb:.1f} MB after warm-up"
    )
    for problem in problems:
        print(f"FAIL: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
