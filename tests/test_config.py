"""config.yaml and the typed config sections agree; bad input is named precisely."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from edge.config import (
    DEFAULT_CONFIG_PATH,
    SECTIONS,
    Config,
    ConfigError,
    load_config,
)


def test_default_config_file_loads_to_the_defaults() -> None:
    assert load_config() == Config()


def test_default_config_file_lists_every_key() -> None:
    data = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    for name, cls in SECTIONS.items():
        assert set(data[name]) == {f.name for f in dataclasses.fields(cls)}, name


def test_override_changes_one_key() -> None:
    config = load_config(overrides=["decoder.threshold=0.85", "gpio.pin=17"])
    assert config.decoder.threshold == 0.85
    assert config.gpio.pin == 17
    assert config.decoder.hold_s == Config().decoder.hold_s


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("decoder:\n  treshold: 0.5\n", "unknown key 'decoder.treshold'"),
        ("decoder:\n  treshold: 0.5\n", "threshold"),  # the allowed keys are listed
        ("speaker:\n  voice: en\n", "unknown section 'speaker'"),
        ("decoder:\n  threshold: 1.5\n", "decoder.threshold: 1.5 is above the maximum 1.0"),
        ("decoder:\n  threshold: high\n", "decoder.threshold: expected a number"),
        ("gpio:\n  pin: 40\n", "gpio.pin: 40 is above the maximum 27"),
        ("speech:\n  enabled: 1\n", "speech.enabled: expected true or false"),
        ("speech:\n  letter_feedback: loud\n", "allowed values: 'none', 'beep', 'letter'"),
        ("decoder: [1, 2]\n", "section 'decoder' must be a mapping"),
        ("decoder:\n  threshold: [0.5\n", "YAML does not parse at line"),
        ("", "the file is empty"),
    ],
)
def test_bad_config_is_named(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    assert expected in str(info.value)
    assert str(tmp_path / "config.yaml") in str(info.value)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_check_config_cli_exit_codes(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "edge.cli", "check-config"]
    ok = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert "threshold: 0.4" in ok.stdout

    bad = subprocess.run(
        [*cmd, "--config", str(write(tmp_path, "decoder:\n  hold: 1\n"))],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2
    assert "unknown key 'decoder.hold'" in bad.stderr
    assert "Traceback" not in bad.stderr
