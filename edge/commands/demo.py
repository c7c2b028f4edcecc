"""`sign2sound demo`: spell and speak the bundled sample word, no camera needed.

The sample (models/demo/, made from real clips of one signer, see its README) is a video of the
word HELLO fingerspelled, H-E-L-L-O, so it shows the whole device at work: MediaPipe finds the
hand in every frame, the classifier reads the letters, the decoder keeps the double L and ends
the word when the hand drops, espeak-ng speaks it. `--replay` feeds the recorded landmarks of the
same frames instead (no MediaPipe). The transcript goes to a temporary folder unless
`--set transcript.path=...` says otherwise.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import tempfile
from pathlib import Path

from edge.cli import add_common_arguments
from edge.config import REPO_ROOT
from edge.errors import Sign2SoundError

HELP = "spell and speak the bundled sample word, no camera needed"

DEMO_DIR = REPO_ROOT / "models" / "demo"
DEMO_VIDEO = DEMO_DIR / "hello.mp4"
DEMO_LANDMARKS = DEMO_DIR / "hello_landmarks.csv"
DEMO_WORD = "HELLO"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser)
    parser.add_argument(
        "--wav", type=Path, metavar="OUT.wav", help="write the speech to this WAV file instead"
    )
    parser.add_argument(
        "--replay",
        action="store_true",
        help="replay the sample's recorded landmarks instead of running MediaPipe on its video",
    )
    parser.add_argument(
        "--realtime", action="store_true", help="play the sample at its own pace (13 s)"
    )


def main(args: argparse.Namespace) -> int:
    from edge.config import load_config
    from edge.daemon import Daemon
    from edge.decoder import DecoderEvent
    from edge.speech import WavFileSink, wav_duration

    if args.log_level is None:  # the letters on stdout tell the story; --log-level INFO for more
        logging.getLogger().setLevel(logging.WARNING)
    overrides = list(args.overrides)
    source = f"replay:{DEMO_LANDMARKS}" if args.replay else str(DEMO_VIDEO)
    config = load_config(args.config, overrides)
    config = dataclasses.replace(
        config,
        camera=dataclasses.replace(config.camera, source=source, realtime=args.realtime),
    )
    with tempfile.TemporaryDirectory(prefix="sign2sound-demo-") as tmp:
        if not any(o.startswith("transcript.path=") for o in overrides):
            config = dataclasses.replace(
                config,
                transcript=dataclasses.replace(
                    config.transcript, path=str(Path(tmp) / "transcript.txt")
                ),
            )
        player = WavFileSink(args.wav) if args.wav else None

        def show(event: DecoderEvent) -> None:
            if event.kind == "letter":
                print(event.text, end=" ", flush=True)
            elif event.kind == "word":
                print(f"-> {event.text}", flush=True)

        print(f"spelling the bundled sample ({DEMO_WORD}): ", end="", flush=True)
        summary = Daemon(config, player=player, on_event=show).run()
    if not summary.words:
        print(flush=True)
        raise Sign2SoundError(
            f"no word recognised in the bundled sample (letters seen: "
            f"{' '.join(summary.letters) or 'none'}); the classifier model does not read it"
        )
    if args.wav:
        print(f"speech written to {args.wav} ({wav_duration(args.wav):.1f} s)")
    if summary.words != [DEMO_WORD]:
        print(
            f"sign2sound demo: expected {DEMO_WORD}, recognised {' '.join(summary.words)}",
            file=sys.stderr,
        )
        return 1
    return 0
