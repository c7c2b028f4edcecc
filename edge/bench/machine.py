"""Describe the machine a result came from, so a Pi result can be compared with a desktop one.

Everything is read from the OS and package metadata (no subprocesses, nothing that can hang):
CPU model, core counts, frequency and load at the start, RAM, OS and kernel, Python, the
versions of the packages that dominate the figures, and the Raspberry Pi model when there is one.
"""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from pathlib import Path

import psutil

PACKAGES = (
    "numpy",
    "mediapipe",
    "ai-edge-litert",
    "onnxruntime",
    "opencv-python-headless",
    "psutil",
    "sign2sound-edge",
)


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def cpu_model() -> str:
    """The CPU's marketing name; on ARM boards /proc/cpuinfo has no 'model name', so fall back."""
    cpuinfo = _read("/proc/cpuinfo")
    for key in ("model name", "Hardware", "Model", "cpu model"):
        for line in cpuinfo.splitlines():
            if line.split(":", 1)[0].strip() == key and ":" in line:
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def board_model() -> str | None:
    """'Raspberry Pi 4 Model B Rev 1.5' and the like, from the device tree; None elsewhere."""
    text = _read("/proc/device-tree/model").strip("\x00\n ")
    return text or None


def os_name() -> str:
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip().strip('"')
    return platform.platform()


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def describe_machine() -> dict[str, object]:
    """The machine section of every JSON result."""
    freq = psutil.cpu_freq()
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = None
    return {
        "hostname": platform.node(),
        "arch": platform.machine(),
        "cpu_model": cpu_model(),
        "board": board_model(),
        "cores_logical": psutil.cpu_count(logical=True),
        "cores_physical": psutil.cpu_count(logical=False),
        "cores_usable": affinity,
        "cpu_max_mhz": round(freq.max, 1) if freq and freq.max else None,
        "load_average_at_start": load,
        "memory_total_mb": round(psutil.virtual_memory().total / 2**20, 1),
        "os": os_name(),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "packages": package_versions(),
    }


def machine_slug(machine: dict[str, object]) -> str:
    """A short file-name-safe label such as 'x86_64-amd-epyc' or 'aarch64-raspberry-pi-4'."""
    label = str(machine.get("board") or machine.get("cpu_model") or "unknown")
    words = "".join(c.lower() if c.isalnum() else " " for c in label).split()[:4]
    return "-".join([str(machine.get("arch", "unknown")), *words])
