"""`sign2sound enroll`: teach the box its signer's own letters (live, from a recording, or reset).

Live: the box says "sign A", beeps, and watches about 2 s of the held letter, for each of the 24
held letters (J and Z are motions the model reads from the hand's path), re-asking a letter whose
frames were too few or unsteady; about 70 s in all. Runs the daemon's own loop (camera, hand
tracker, classifier, speech) in enrolment mode and stops when done, so stop the service first
(`sudo systemctl stop sign2sound`), or hold the button on a running box instead (gpio.enrol_hold_s).
`--from FILE.csv` enrols from a recording in the data CSV format, `--letters` redoes some letters,
`--reset` removes the profile. The profile (classifier.profile, under the state folder) holds
derived numbers only, never a frame.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
from pathlib import Path

from edge import service
from edge.cli import add_common_arguments

HELP = "teach the box its signer's own letters: live, --from a recording, or --reset"

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser)
    service.add_arguments(parser)
    parser.add_argument(
        "--from",
        dest="recording",
        type=Path,
        metavar="FILE.csv",
        help="enrol from a recording in the data CSV format (rows labelled with their letter: "
        "single frames or clips) instead of the camera",
    )
    parser.add_argument(
        "--letters",
        default=None,
        metavar="A,B,...",
        help="enrol only these letters, keeping the others of the existing profile",
    )
    parser.add_argument(
        "--reset", action="store_true", help="remove the signer profile: back to the model alone"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        metavar="PATH",
        help="the profile file (default: classifier.profile of the config, under the state folder)",
    )


def main(args: argparse.Namespace) -> int:
    from edge.config import load_config
    from edge.enrolment import EnrolmentError, parse_letters, profile_target

    config = load_config(args.config, args.overrides)
    service.apply_config_log_level(config, args.log_level)
    if args.profile is not None:
        config = dataclasses.replace(
            config,
            classifier=dataclasses.replace(config.classifier, profile=str(args.profile.resolve())),
        )
    if args.reset:
        if args.recording or args.letters:
            raise EnrolmentError("--reset removes the profile: give it without --from/--letters")
        return _reset(profile_target(config))
    letters = parse_letters(args.letters)
    if args.recording is not None:
        return _from_recording(config, args.recording, letters)
    service.refuse_root(config.service.allow_root or args.allow_root)
    return _live(config, args, letters)


def _reset(path: Path) -> int:
    from edge.signer_profile import reset_profile

    if reset_profile(path):
        print(f"removed the signer profile {path}: the box reads with the model alone")
    else:
        print(f"no signer profile at {path}: nothing to remove")
    return 0


def _from_recording(config, recording: Path, letters: tuple[str, ...]) -> int:
    from edge.dataset import load_many
    from edge.enrolment import (
        MIN_RECORDING_FRAMES,
        EnrolmentError,
        base_profile,
        fit_profile,
        profile_target,
        samples_from_table,
    )
    from edge.pipeline import load_classifier
    from edge.signer_profile import save_profile

    path = profile_target(config)
    classifier = load_classifier(config)
    table = load_many([recording], allowed_labels=list(classifier.labels))
    samples = samples_from_table(table, classifier, config, letters)
    need = MIN_RECORDING_FRAMES
    usable = samples.usable(need)
    for letter in letters:
        offered, kept = samples.offered.get(letter, 0), len(samples.features.get(letter, []))
        state = "enrolled" if letter in usable else f"skipped ({need} steady frames needed)"
        print(f"  {letter}: {kept} of {offered} frames steady, {state}")
    if not usable:
        raise EnrolmentError(
            f"{recording}: no letter of {''.join(letters)} has {need} steady frames; "
            "nothing enrolled"
        )
    base = base_profile(config, classifier, letters)
    profile = fit_profile(usable, classifier=classifier, base=base)
    save_profile(profile, path)
    print(f"wrote {path} ({profile.describe()}; derived numbers only, no frames)")
    return 0


def _live(config, args: argparse.Namespace, letters: tuple[str, ...]) -> int:
    from edge.daemon import Daemon
    from edge.enrolment import EnrolmentError

    daemon = Daemon(
        config,
        config_path=args.config,
        overrides=args.overrides,
        enrol=letters,
        stop_after_enrolment=True,
        log_level_from_config=args.log_level is None,  # as `run`: a reload may change it
    )
    daemon.run()
    session = daemon.last_enrolment
    if session is None or not session.done:
        raise EnrolmentError("enrolment did not finish (the source ended or it was stopped)")
    for out in session.outcomes:
        state = "enrolled" if out.accepted else f"skipped: {out.reason}"
        print(f"  {out.letter}: {out.frames} steady frames, {out.attempts} attempt(s), {state}")
    if session.state is None:
        raise EnrolmentError("no letter was steady enough: nothing enrolled")
    print(f"wrote {session.path}: {session.state.summary}; derived numbers only, no frames")
    return 0
