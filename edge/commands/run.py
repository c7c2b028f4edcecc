"""`sign2sound run`: the recognition daemon, camera to spoken words, until stopped."""

from __future__ import annotations

import argparse

from edge import service
from edge.cli import add_common_arguments

HELP = "run the recognition daemon: camera to spoken words, until stopped"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser)
    service.add_arguments(parser)
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=None,
        metavar="S",
        help="stop after S seconds (tests, trials); a video file or replay also stops at its end",
    )


def main(args: argparse.Namespace) -> int:
    from edge.config import load_config
    from edge.daemon import Daemon
    from edge.transcript import TranscriptError

    config = load_config(args.config, args.overrides)
    level_from_config = service.apply_config_log_level(config, args.log_level)
    service.refuse_root(config.service.allow_root or args.allow_root)
    daemon = Daemon(
        config,
        config_path=args.config,
        overrides=args.overrides,
        max_seconds=args.max_seconds,
        log_level_from_config=level_from_config,
    )
    summary = daemon.run()
    if summary.unwritten_words:
        # a run that lost words must not look like a success to systemd or a script
        raise TranscriptError(
            f"{summary.unwritten_words} of {summary.words.total} word(s) did not reach the "
            f"transcript {summary.transcript_path}; they are only in the log above"
        )
    return 0
