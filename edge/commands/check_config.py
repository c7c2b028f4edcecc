"""`sign2sound check-config`: validate a config file and print the effective settings."""

from __future__ import annotations

import argparse
import dataclasses

import yaml

from edge.cli import add_common_arguments
from edge.config import load_config

HELP = "validate a config file (and --set overrides) and print the effective configuration"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser)


def main(args: argparse.Namespace) -> int:
    config = load_config(args.config, args.overrides)
    print(yaml.safe_dump(dataclasses.asdict(config), sort_keys=False), end="")
    print(f"# {args.config or 'config.yaml'}: OK")
    return 0
