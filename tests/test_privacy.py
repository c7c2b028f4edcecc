"""Privacy: the box stores no camera frame and opens no network port.

A real `sign2sound run` process is traced with strace (every thread and child: the capture thread,
MediaPipe's, the speech worker's aplay), so nothing a library does natively escapes the check:
every file it opens for writing, creates, renames or links, and every socket it makes, binds or
listens on. Its folders (HOME, TMPDIR, STATE_DIRECTORY, RUNTIME_DIRECTORY, MPLCONFIGDIR) are
private temporary ones, as systemd gives the service. While it runs, psutil also looks at its
open connections the way an administrator would (`ss -p`).

The service unit adds a second wall (RestrictAddressFamilies=AF_UNIX AF_NETLINK, IPAddressDeny=
any; checked in test_systemd); these tests prove the program itself needs neither.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import psutil
import pytest
from reliability_helpers import DEMO_CSV, DEMO_VIDEO, NotifySocket, transcript_words

from edge.config import REPO_ROOT

WRITE_CALLS = (
    "open,openat,openat2,creat,rename,renameat,renameat2,link,linkat,symlink,symlinkat,"
    "mkdir,mkdirat,truncate"
)
NET_CALLS = "socket,bind,listen,connect"
_WRITE_FLAGS = re.compile(r"O_WRONLY|O_RDWR|O_CREAT|O_TRUNC")
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
_SYSCALL = re.compile(r"^\d+\s+(\w+)\((.*)")


@dataclass
class Trace:
    written: list[str] = field(default_factory=list)  # paths opened to write, renamed, linked
    folders: list[str] = field(default_factory=list)  # mkdir: a folder holds no data itself
    sockets: list[str] = field(default_factory=list)  # socket(...) calls, as strace shows them
    binds: list[str] = field(default_factory=list)
    listens: list[str] = field(default_factory=list)
    connects: list[str] = field(default_factory=list)


def parse_strace(text: str, cwd: Path) -> Trace:
    trace = Trace()
    for line in text.splitlines():
        match = _SYSCALL.match(line)
        if not match:
            continue  # "<... resumed>" halves, exits and signals carry no new path
        call, args = match.groups()
        if call == "socket":
            trace.sockets.append(args)
        elif call == "bind":
            trace.binds.append(args)
        elif call == "listen":
            trace.listens.append(args)
        elif call == "connect":
            trace.connects.append(args)
        elif call.startswith("open") and not _WRITE_FLAGS.search(args):
            continue  # read-only open
        else:
            paths = _QUOTED.findall(args)
            if call.startswith("rename") or call.startswith("link") or call.startswith("sym"):
                paths = paths[-1:]  # the new name is what gets written
            for path in paths[:1]:
                path = str(cwd / path) if not path.startswith("/") else path
                (trace.folders if call.startswith("mkdir") else trace.written).append(path)
    return trace


def run_traced(tmp_path: Path, *settings: str) -> tuple[subprocess.CompletedProcess, Trace, dict]:
    """`sign2sound run` under strace with private folders; returns the result, the trace and
    the folders it was given."""
    dirs = {name: tmp_path / name for name in ("home", "tmp", "state", "run", "mpl", "work")}
    for path in dirs.values():
        path.mkdir()
    notify = NotifySocket(tmp_path / "notify.sock")
    env = dict(
        os.environ,
        HOME=str(dirs["home"]),
        TMPDIR=str(dirs["tmp"]),
        STATE_DIRECTORY=str(dirs["state"]),
        RUNTIME_DIRECTORY=str(dirs["run"]),
        MPLCONFIGDIR=str(dirs["mpl"]),
        NOTIFY_SOCKET=str(notify.path),
        PYTHONDONTWRITEBYTECODE="1",
    )
    trace_file = tmp_path / "strace.txt"
    cmd = [
        "strace", "-f", "-qq", "--seccomp-bpf", "-s", "256", "-o", str(trace_file),
        "-e", f"trace={WRITE_CALLS},{NET_CALLS}",
        sys.executable, "-m", "edge.cli", "run", "--allow-root",
        "--set", "camera.realtime=false", "--set", "speech.alsa_device='null'", *settings,
    ]  # fmt: skip
    result = subprocess.run(
        cmd, capture_output=True, text=True, timeout=300, cwd=dirs["work"], env=env
    )
    notify.close()
    return result, parse_strace(trace_file.read_text(), dirs["work"]), dirs


def not_allowed_writes(trace: Trace, dirs: dict) -> list[str]:
    """Every written path that is not the transcript, a speech WAV, or a library's own cache."""
    run, mpl = str(dirs["run"]), str(dirs["mpl"])
    home, tmp = str(dirs["home"]), str(dirs["tmp"])
    bad = []
    for path in trace.written:
        allowed = (
            path in ("/dev/null", str(dirs["state"] / "transcript.txt"))
            or path.startswith("/dev/snd/")
            or (path.startswith(run + "/sign2sound-speech-") and path.endswith(".wav"))
            or path.startswith(mpl + "/")  # matplotlib's font cache (imported by MediaPipe)
            or path.startswith(home + "/.config/pulse")  # aplay's ALSA->pulse plugin runtime link
            or path.startswith(tmp + "/pulse-")
        )
        if not allowed:
            bad.append(path)
    return bad


def inet_sockets(trace: Trace) -> list[str]:
    return [s for s in trace.sockets if re.match(r"AF_(INET6?|PACKET)\b", s)]


def test_a_replay_run_writes_only_the_transcript_and_makes_no_network_socket(
    tmp_path: Path,
) -> None:
    result, trace, dirs = run_traced(tmp_path, "--set", f"camera.source=replay:{DEMO_CSV}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert transcript_words(dirs["state"] / "transcript.txt") == ["HELLO"]
    # the trace really saw the process: the transcript, speech WAVs and sd_notify's socket
    assert str(dirs["state"] / "transcript.txt") in trace.written
    assert any(p.endswith(".wav") for p in trace.written)
    assert any(s.startswith("AF_UNIX, SOCK_DGRAM") for s in trace.sockets)
    assert not_allowed_writes(trace, dirs) == []
    assert inet_sockets(trace) == []
    assert trace.binds == [] and trace.listens == []


@pytest.mark.parametrize("save_debug_frames", [False, True])
def test_a_camera_run_with_mediapipe_stores_no_frame_unless_asked_and_listens_on_no_port(
    tmp_path: Path, save_debug_frames: bool
) -> None:
    """The demo video through OpenCV and the real MediaPipe, as a camera would be read. Nothing is
    written but the transcript and the speech WAVs; with `service.save_debug_frames` the frames
    letters were accepted on, and only those, as JPEGs in debug-frames/ beside the transcript.
    No socket is bound or listening, whatever the libraries do inside."""
    flag = "true" if save_debug_frames else "false"
    result, trace, dirs = run_traced(
        tmp_path,
        "--set", f"camera.source={DEMO_VIDEO}",
        "--set", f"service.save_debug_frames={flag}",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert transcript_words(dirs["state"] / "transcript.txt") == ["HELLO"]
    debug_dir = dirs["state"] / "debug-frames"
    images = [p for p in trace.written if re.search(r"\.(png|jpe?g|bmp|ppm|npy|raw|mp4)$", p)]
    debug_frames = sorted(debug_dir.glob("*.jpg")) if save_debug_frames else []
    assert sorted(images) == [str(p) for p in debug_frames]
    if save_debug_frames:
        # one per accepted letter, named by it, a real picture of the whole camera frame
        assert [p.stem.rsplit("-", 1)[1] for p in debug_frames] == list("HELLO")
        assert all(cv2.imread(str(p)).shape == (480, 270, 3) for p in debug_frames)
        assert "save_debug_frames is on" in result.stderr  # said loudly at start
    others = [p for p in not_allowed_writes(trace, dirs) if p not in images]
    assert others == []
    assert trace.binds == [] and trace.listens == []
    # after the run, the private folders hold the transcript (and the asked-for frames) only
    left = sorted(
        str(p.relative_to(tmp_path))
        for name in ("home", "tmp", "state", "run", "work")
        for p in dirs[name].rglob("*")
        if p.is_file()
    )
    expected = [str(p.relative_to(tmp_path)) for p in debug_frames] + ["state/transcript.txt"]
    assert left == sorted(expected)


def test_a_running_daemon_shows_no_network_connection(tmp_path: Path) -> None:
    """What an administrator would check on the box (`ss -tunap`): psutil's view of the live
    process, sampled until it exits (the replay is paced in real time, about 13 s)."""
    env = dict(os.environ, STATE_DIRECTORY=str(tmp_path), RUNTIME_DIRECTORY=str(tmp_path))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "edge.cli",
            "run",
            "--allow-root",
            "--max-seconds",
            "4",
            "--set",
            f"camera.source=replay:{DEMO_CSV}",
            "--set",
            "speech.enabled=false",
        ],  # fmt: skip
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    process = psutil.Process(proc.pid)
    seen: list = []
    samples = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal samples
        while not stop.is_set():
            try:
                seen.extend(process.net_connections(kind="inet"))
                samples += 1
            except psutil.NoSuchProcess:
                return
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = proc.communicate(timeout=120)
    stop.set()
    sampler.join(5)
    assert proc.returncode == 0, err[-3000:]
    assert samples >= 10  # it really was looked at while running
    assert seen == []
