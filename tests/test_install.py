"""The install itself: every runtime import works and the console scripts start."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

VENV_BIN = Path(sys.executable).parent


@pytest.mark.parametrize(
    "module",
    [
        "numpy",
        "cv2",
        "yaml",
        "gpiozero",
        "psutil",
        "mediapipe.tasks.python.vision",
        "ai_edge_litert.interpreter",
    ],
)
def test_runtime_import(module: str) -> None:
    assert importlib.import_module(module) is not None


def test_opencv_is_the_headless_build() -> None:
    """mediapipe's GUI OpenCV is overridden away; the headless build has no highgui window."""
    import cv2

    info = cv2.getBuildInformation()
    assert "GUI:" in info
    gui_line = info.split("GUI:", 1)[1].splitlines()[0]
    assert "NONE" in gui_line.upper() or gui_line.strip() == ""


@pytest.mark.parametrize("script", ["sign2sound", "edge-bench"])
def test_console_script_help(script: str) -> None:
    exe = VENV_BIN / script
    assert exe.exists(), f"{script} is not installed in {VENV_BIN}"
    result = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout


def test_system_programs_present() -> None:
    for program in ("espeak-ng", "aplay", "sox"):
        assert shutil.which(program), f"{program} missing: run .ci/setup"
