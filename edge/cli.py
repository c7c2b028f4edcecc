"""`sign2sound`: one console script, one module per subcommand under `edge.commands`.

Each command module defines HELP, `add_arguments(parser)` and `main(args) -> int`, and imports its
heavy dependencies (MediaPipe, TensorFlow) inside `main`, so `--help` stays fast on a Pi.
Errors derived from Sign2SoundError are printed as one line without a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from edge.errors import Sign2SoundError

COMMANDS = {
    "run": "edge.commands.run",
    "demo": "edge.commands.demo",
    "check-config": "edge.commands.check_config",
    "convert-data": "edge.commands.convert_data",
    "train": "edge.commands.train",
    "export": "edge.commands.export",
    "eval": "edge.commands.evaluate",
    "enroll": "edge.commands.enroll",
}


def bounded_number(kind: type, lowest: float, *, inclusive: bool = True):
    """An argparse type: a number of `kind` at least (or, if not inclusive, above) `lowest`."""
    noun = "a whole number" if kind is int else "a number"
    rule = f"at least {lowest}" if inclusive else f"above {lowest}"

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {noun}, got {text!r}") from None
        if not (value >= lowest if inclusive else value > lowest):
            raise argparse.ArgumentTypeError(f"must be {rule}, got {value}")
        return value

    return parse


positive_int = bounded_number(int, 1)
non_negative_int = bounded_number(int, 0)
positive_float = bounded_number(float, 0, inclusive=False)


def comma_names(text: str) -> tuple[str, ...]:
    """An argparse type: 'a, b,c' -> ('a', 'b', 'c') (source names and the like; blanks dropped)."""
    return tuple(n.strip() for n in text.split(",") if n.strip())


def comma_positive_floats(text: str) -> tuple[float, ...]:
    """An argparse type: '0.5,1,2' -> (0.5, 1.0, 2.0), each above 0 (speeds, frame rates)."""
    values = tuple(positive_float(n) for n in comma_names(text))
    if not values:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}")
    return values


def parse_command_line(parser: argparse.ArgumentParser, argv: Sequence[str] | None):
    """parse_args, except that an unknown option is reported with the usage of the subcommand
    it was given to (`check-config --sett` shows check-config's options, not the top level's).

    Each subcommand's parser is expected in its defaults as `_parser`.
    """
    args, extras = parser.parse_known_args(argv)
    if extras:
        getattr(args, "_parser", parser).error(f"unrecognized arguments: {' '.join(extras)}")
    return args


def add_config_arguments(
    parser: argparse.ArgumentParser, example: str = "decoder.threshold=0.8"
) -> None:
    """--config and --set (into `args.config`, `args.overrides`), for anything that reads
    config.yaml: the sign2sound commands and `edge-bench pipeline`."""
    parser.add_argument("--config", help="config file (default: config.yaml of the install)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help=f"override one config key, e.g. --set {example} (repeatable)",
    )


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """--config, --set and --log-level, shared by the commands that read config.yaml."""
    add_config_arguments(parser)
    # also accepted after the subcommand (`sign2sound run --log-level DEBUG`); SUPPRESS keeps
    # the top-level value when it is not given here
    parser.add_argument(
        "--log-level",
        default=argparse.SUPPRESS,
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        help="logging level on stderr (default: service.log_level of the config, else INFO)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sign2sound",
        description="Fingerspelled ASL letters to spoken words, headless on a Raspberry Pi.",
    )
    parser.add_argument(
        "--log-level",
        default=None,
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        help="logging level on stderr (default: service.log_level of the config, else INFO)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        cmd = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(cmd)
        cmd.set_defaults(_module=module, _parser=cmd)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from edge import nativelog
    from edge.logs import setup_logging

    parser = build_parser()
    args = parse_command_line(parser, argv)
    setup_logging(args.log_level or "INFO")
    nativelog.configure_environment()  # before any command imports OpenCV or TensorFlow
    try:
        return int(args._module.main(args) or 0)
    except Sign2SoundError as exc:
        logging.getLogger("sign2sound").debug("details", exc_info=True)
        print(f"sign2sound {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
