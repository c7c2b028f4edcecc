"""The service unit and its installer: systemd-analyze verify/security, shellcheck, --dry-run.

`systemd-analyze verify` checks that ExecStart's binary exists and is executable. The unit names
/opt/sign2sound/.venv/bin/sign2sound, which exists only on an installed box, and systemd 252's
`--root=DIR` does not help (it still looks for ExecStart on the host and wants a whole unit tree:
"Unit sysinit.target not found"). So the test verifies a copy in which exactly one line differs:
ExecStart points at this venv's own `sign2sound` console script. verify exits 0 even for unknown
keys or bad values (it only warns), so the test also requires its output to be empty.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edge.config import Config

REPO = Path(__file__).resolve().parent.parent
UNIT = REPO / "systemd" / "sign2sound.service"
INSTALL = REPO / "systemd" / "install.sh"
INSTALLED_EXEC = "/opt/sign2sound/.venv/bin/sign2sound"
VENV_SCRIPT = Path(sys.executable).parent / "sign2sound"


def _unit_entries(text: str) -> list[tuple[str, str, str]]:
    """(section, key, value) for every assignment; repeated keys such as DeviceAllow kept."""
    entries, section = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        entries.append((section, key.strip(), value.strip()))
    return entries


def _values(key: str) -> list[str]:
    return [v for _, k, v in _unit_entries(UNIT.read_text()) if k == key]


def _value(key: str) -> str:
    values = _values(key)
    assert len(values) == 1, f"{key} appears {len(values)} times in {UNIT.name}"
    return values[0]


def _verify(unit_text: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "sign2sound.service"
    path.write_text(unit_text)
    return subprocess.run(
        ["systemd-analyze", "verify", str(path)], capture_output=True, text=True, timeout=60
    )


def _testable_unit() -> str:
    text = UNIT.read_text()
    assert text.count(INSTALLED_EXEC) == 1
    assert VENV_SCRIPT.exists(), f"{VENV_SCRIPT} missing: run .ci/setup"
    return text.replace(INSTALLED_EXEC, str(VENV_SCRIPT))


# --- the unit --------------------------------------------------------------------------------
def test_systemd_analyze_verify_is_clean(tmp_path: Path) -> None:
    result = _verify(_testable_unit(), tmp_path)
    assert result.returncode == 0, result.stderr
    assert (result.stdout + result.stderr).strip() == ""


def test_verify_harness_catches_a_bad_line(tmp_path: Path) -> None:
    """Negative control: a misspelt key only warns, and the test above would see it."""
    broken = _testable_unit().replace("WatchdogSec=30", "WatchdogSecs=30")
    result = _verify(broken, tmp_path)
    assert "WatchdogSecs" in result.stdout + result.stderr


def test_unit_without_its_binary_fails_verify(tmp_path: Path) -> None:
    """Why the copy above is needed: verify checks that ExecStart's binary exists."""
    text = UNIT.read_text().replace(INSTALLED_EXEC, str(tmp_path / "no" / "sign2sound"))
    result = _verify(text, tmp_path)
    assert result.returncode != 0
    assert "not executable" in result.stderr


def test_security_exposure_is_low(tmp_path: Path) -> None:
    path = tmp_path / "sign2sound.service"
    path.write_text(_testable_unit())
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", "--no-pager", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert match, result.stdout[-500:]
    assert float(match.group(1)) <= 3.0, result.stdout


def test_unit_is_a_watched_notify_service() -> None:
    assert _value("Type") == "notify"
    assert _value("NotifyAccess") == "main"
    assert 10 <= int(_value("WatchdogSec")) <= 120
    assert _value("Restart") == "on-failure"
    assert _value("RestartPreventExitStatus") == "2"  # config errors (UsageError) do not loop
    assert int(_value("StartLimitBurst")) >= 1
    assert _value("ExecReload") == "/bin/kill -HUP $MAINPID"
    assert _value("ExecStart") == f"{INSTALLED_EXEC} run --config /etc/sign2sound/config.yaml"


def test_unit_runs_unprivileged_with_device_groups() -> None:
    assert _value("User") == "sign2sound"
    assert set(_value("SupplementaryGroups").split()) == {"video", "gpio", "audio"}
    assert _value("CapabilityBoundingSet") == ""
    assert _value("NoNewPrivileges") == "yes"
    assert "PrivateUsers" not in {k for _, k, _ in _unit_entries(UNIT.read_text())}


def test_unit_directories_and_environment() -> None:
    assert _value("StateDirectory") == "sign2sound"
    assert _value("ConfigurationDirectory") == "sign2sound"
    env = dict(v.split("=", 1) for v in _values("Environment"))
    assert env["MPLCONFIGDIR"].startswith("%S/sign2sound")
    assert env["LG_WD"].startswith("%t/sign2sound")  # lgpio's FIFOs, / is read-only
    assert _value("WorkingDirectory") == "%S/sign2sound"


def test_unit_hardening_leaves_camera_gpio_and_sound_reachable() -> None:
    assert _value("ProtectSystem") == "strict"
    assert _value("ProtectHome") == "yes"
    assert _value("PrivateTmp") == "yes"
    assert _value("PrivateDevices") == "no"
    assert _value("DevicePolicy") == "closed"
    allowed = {v.split()[0]: v.split()[1] for v in _values("DeviceAllow")}
    for group in ("char-video4linux", "char-media", "char-dma_heap", "char-gpiochip", "char-alsa"):
        assert allowed.get(group) == "rw", f"DeviceAllow={group} rw missing"
    families = _value("RestrictAddressFamilies").split()
    assert "AF_UNIX" in families
    assert not {"AF_INET", "AF_INET6", "AF_PACKET"} & set(families)  # no network port


# The socket libudev monitors read: netlink uevent, group 2 = what udevd re-broadcasts after
# processing a device (libcamera's DeviceEnumeratorUdev listens there for cameras coming and
# going). LISTEN prints 'ready', then 'got' or 'nothing' within 3 s; with 'send' it also sends
# one such broadcast itself, from its own network namespace, once it listens.
_UEVENT = """
import socket, sys
listen = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, 15)
listen.bind((0, 2))
listen.settimeout(3)
print("ready", flush=True)
if sys.argv[1:] == ["send"]:
    sender = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, 15)
    sender.bind((0, 0))
    sender.sendto(b"libudev\\0add@/devices/usb1/video4linux/video0", (0, 2))
try:
    listen.recv(4096)
    print("got", flush=True)
except TimeoutError:
    print("nothing", flush=True)
"""


def test_private_network_stays_off_because_camera_hotplug_events_cannot_reach_it() -> None:
    """The daemon needs no network, but PrivateNetwork=yes would cost camera hot-plugging:
    udevd's device broadcasts stay in the network namespace they are sent in, so picamera2
    (libcamera) in a private one would never hear of a USB camera plugged back in. Shown here
    with two real network namespaces: the broadcast reaches a listener beside the sender and
    not one in another namespace. Network access is closed by RestrictAddressFamilies and
    IPAddressDeny instead (test_unit_hardening_...)."""
    keys = {k for _, k, _ in _unit_entries(UNIT.read_text())}
    assert "PrivateNetwork" not in keys
    assert "AF_NETLINK" in _value("RestrictAddressFamilies").split()  # libcamera's udev monitor
    assert _value("IPAddressDeny") == "any"
    as_root = [] if os.geteuid() == 0 else ["--map-root-user"]
    netns = ["unshare", "--net", *as_root, sys.executable, "-c", _UEVENT]
    elsewhere = subprocess.Popen(netns, stdout=subprocess.PIPE, text=True)
    assert elsewhere.stdout is not None and elsewhere.stdout.readline() == "ready\n"
    beside = subprocess.run([*netns, "send"], capture_output=True, text=True, timeout=30)
    assert beside.returncode == 0, beside.stderr
    assert beside.stdout.split() == ["ready", "got"]  # the listener beside the sender hears it
    assert elsewhere.stdout.readline() == "nothing\n"  # another network namespace does not
    assert elsewhere.wait(10) == 0


def test_relative_transcript_lands_in_the_state_directory(monkeypatch, tmp_path: Path) -> None:
    """The unit's StateDirectory is where the daemon puts transcript.txt."""
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "state"))
    assert Config().transcript_path() == tmp_path / "state" / "transcript.txt"


# --- the installer ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "script",
    [
        *sorted((REPO / "systemd").glob("*.sh")),
        REPO / "models" / "build_hand_landmarker.sh",
        *(p for p in sorted((REPO / ".ci").iterdir()) if p.read_bytes().startswith(b"#!")),
    ],
    ids=lambda path: path.relative_to(REPO).as_posix(),
)
def test_shell_scripts_pass_shellcheck(script: Path) -> None:
    assert shutil.which("shellcheck"), "shellcheck missing: run .ci/setup --dev"
    result = subprocess.run(
        ["shellcheck", "--severity=style", str(script)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout
    assert result.stdout == ""


def test_install_sh_uses_the_same_uv_as_ci_setup() -> None:
    setup_uv = re.search(r'"uv==([0-9.]+)"', (REPO / ".ci" / "setup").read_text())
    install_uv = re.search(r"^UV_VERSION=([0-9.]+)$", INSTALL.read_text(), re.MULTILINE)
    assert setup_uv and install_uv
    assert setup_uv.group(1) == install_uv.group(1)


# --- waiting for another apt ------------------------------------------------------------------
APT_WAIT = REPO / ".ci" / "apt-get-wait"


def test_every_apt_get_of_the_install_scripts_waits_for_the_lock() -> None:
    """On a Pi's first boot unattended-upgrades holds dpkg's lock: a bare apt-get fails at once."""
    for script in (INSTALL, REPO / ".ci" / "setup"):
        code = [ln for ln in script.read_text().splitlines() if not ln.lstrip().startswith("#")]
        calls = [ln for ln in code if re.search(r"\bapt-get\b(?!-wait)", ln)]
        assert calls == [], f"{script.name} runs apt-get without .ci/apt-get-wait: {calls}"
        assert sum(".ci/apt-get-wait" in ln for ln in code) == 2, script.name


@pytest.fixture
def private_apt(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """A real apt-get on its own empty state (APT_CONFIG is read before the host's config and
    replaces it): its locks live in tmp_path and nothing of the host's apt is touched."""
    root = tmp_path / "apt"
    for sub in ("admin", "lists/partial", "cache/archives/partial", "parts", "log"):
        (root / sub).mkdir(parents=True)
    for empty in ("admin/status", "sources.list", "apt.conf"):
        (root / empty).write_text("")
    settings = {
        "Dir::State::status": "admin/status",
        "Dir::State::Lists": "lists",
        "Dir::Cache": "cache",
        "Dir::Etc::sourcelist": "sources.list",
        "Dir::Etc::sourceparts": "parts",
        "Dir::Etc::parts": "parts",
        "Dir::Etc::main": "apt.conf",
        "Dir::Log": "log",
    }
    config = root / "apt-config"
    config.write_text("".join(f'{key} "{root / value}";\n' for key, value in settings.items()))
    return dict(os.environ, APT_CONFIG=str(config)), root


def _hold_lock(path: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process holding apt's lock as apt and dpkg take it (fcntl F_SETLK, which
    flock(1) does not conflict with); returns once the lock is held."""
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import fcntl, os, sys, time\n"
         f"fd = os.open({str(path)!r}, os.O_RDWR | os.O_CREAT)\n"
         "fcntl.lockf(fd, fcntl.LOCK_EX); print('held', flush=True)\n"
         f"time.sleep({seconds})"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    return holder


@pytest.mark.parametrize(
    ("lock", "args"),
    [("admin/lock-frontend", ["install", "-y", "--no-download"]), ("lists/lock", ["update"])],
    ids=["dpkg frontend lock (install)", "package lists lock (update)"],
)
def test_apt_get_wait_waits_for_a_held_lock_then_runs(private_apt, lock: str, args) -> None:
    env, root = private_apt
    holder = _hold_lock(root / lock, 1.5)
    started = time.monotonic()
    result = subprocess.run(
        [str(APT_WAIT), *args], env={**env, "SIGN2SOUND_APT_LOCK_TIMEOUT": "60"},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    waited = time.monotonic() - started
    holder.wait(10)
    assert result.returncode == 0, result.stderr
    assert f"lock held by process {holder.pid}" in result.stderr
    assert "waiting up to 60 s" in result.stderr
    assert waited >= 1.4  # it really waited for the holder instead of failing


def test_apt_get_wait_gives_up_after_its_timeout(private_apt) -> None:
    env, root = private_apt
    holder = _hold_lock(root / "admin" / "lock-frontend", 60)
    try:
        started = time.monotonic()
        result = subprocess.run(
            [str(APT_WAIT), "install", "-y", "--no-download"],
            env={**env, "SIGN2SOUND_APT_LOCK_TIMEOUT": "2"},
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        waited = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode != 0
    assert "still holds its lock after 2 s" in result.stderr
    assert 1.5 <= waited < 20


def test_apt_get_wait_reports_other_failures_at_once(private_apt) -> None:
    env, _ = private_apt
    result = subprocess.run(
        [str(APT_WAIT), "install", "-y", "sign2sound-no-such-package"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode != 0
    assert "Unable to locate package sign2sound-no-such-package" in result.stderr
    assert "waiting" not in result.stderr


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _accounts() -> tuple[bool, bool]:
    def exists(*cmd: str) -> bool:
        return subprocess.run(cmd, capture_output=True).returncode == 0

    return exists("getent", "group", "gpio"), exists("getent", "passwd", "sign2sound")


def _dry_run(
    tmp_path: Path, *args: str, codename: str = "bookworm", env: dict[str, str] | None = None
) -> tuple[Path, str]:
    os_release = tmp_path / "os-release"
    os_release.write_text(f'ID=debian\nVERSION_CODENAME="{codename}"\n')
    prefix = tmp_path / "root"
    prefix.mkdir(exist_ok=True)
    env = dict(os.environ, SIGN2SOUND_OS_RELEASE=str(os_release), **(env or {}))
    result = subprocess.run(
        ["bash", str(INSTALL), "--dry-run", "--prefix", str(prefix), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return prefix, result.stdout


def _commands(output: str) -> list[str]:
    return [line[2:] for line in output.splitlines() if line.startswith("+ ")]


def test_dry_run_prints_every_install_step_and_changes_nothing(tmp_path: Path) -> None:
    accounts_before = _accounts()
    prefix, out = _dry_run(tmp_path)
    cmds = _commands(out)
    app, venv = f"{prefix}/opt/sign2sound", f"{prefix}/opt/sign2sound/.venv"

    def has(*parts: str) -> bool:
        return any(all(p in c for p in parts) for c in cmds)

    apt = next(c for c in cmds if f"{REPO}/.ci/apt-get-wait install" in c)
    assert has(f"{REPO}/.ci/apt-get-wait update")
    for package in (
        "python3-picamera2",
        "python3-lgpio",
        "espeak-ng",
        "alsa-utils",
        "libegl1",
        "libgles2",
        "python3-venv",
    ):
        assert f" {package}" in apt
    gpio_group, user = accounts_before
    assert has("useradd --system", "sign2sound") != user
    assert has("groupadd --system gpio") != gpio_group
    assert has("usermod --append --groups video,gpio,audio sign2sound")
    assert has("rsync -a --delete", f"{REPO}/", f"{app}/")
    assert has(f"/usr/bin/python3 -m venv --system-site-packages {venv}")
    assert has("pip install", "uv==")
    assert has(f"UV_PROJECT_ENVIRONMENT={venv}", "uv sync --frozen --inexact", f"--project {app}")
    assert has(
        "uv pip install",
        "numpy==1.24.2",
        "'opencv-python-headless<4.12'",
        "'matplotlib<3.10'",
        "'ml-dtypes<0.5'",
    )
    assert has(
        "import numpy, cv2, mediapipe.tasks.python.vision, ai_edge_litert.interpreter, "
        "picamera2, lgpio"
    )
    assert has(f"install -m 0644 {app}/config.yaml {prefix}/etc/sign2sound/config.yaml")
    assert has("check-config --config", f"{prefix}/etc/sign2sound/config.yaml")
    assert has(f"{prefix}/etc/systemd/system/sign2sound.service")
    assert has(f"systemd-analyze verify {prefix}/etc/systemd/system/sign2sound.service")
    assert cmds[-4:] == [
        "systemctl daemon-reload",
        "systemctl enable sign2sound.service",
        "systemctl restart sign2sound.service",
        "systemctl --no-pager status sign2sound.service",
    ]
    # Nothing ran: the prefix is still empty and no account appeared.
    assert _snapshot(prefix) == {} and list(prefix.iterdir()) == []
    assert _accounts() == accounts_before


# --- a CPU without the ARMv8.1 atomics (Pi 4, Pi 3) -------------------------------------------
NEEDS_ARMV80 = REPO / ".ci" / "needs-armv8.0"
ARMV80_REQUIREMENTS = REPO / ".ci" / "armv8.0-requirements.txt"
# The Features lines of the kernels' /proc/cpuinfo (the same as systemd/arm64-test.sh's Pi look)
CPU_FEATURES = {
    "pi4": "fp asimd evtstrm crc32 cpuid",  # Cortex-A72, ARMv8.0
    "pi5": "fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc "
    "dcpop asimddp",  # Cortex-A76, ARMv8.2
}


def _cpu_env(tmp_path: Path, cpu: str, machine: str = "aarch64") -> dict[str, str]:
    cpuinfo = tmp_path / f"cpuinfo-{cpu}"
    cpuinfo.write_text(
        "".join(f"processor\t: {n}\nBogoMIPS\t: 108.00\nFeatures\t: {CPU_FEATURES[cpu]}\n\n"
                for n in range(4))
    )  # fmt: skip
    return {"SIGN2SOUND_MACHINE": machine, "SIGN2SOUND_CPUINFO": str(cpuinfo)}


@pytest.mark.parametrize(
    ("cpu", "machine", "needed"),
    [("pi4", "aarch64", True), ("pi5", "aarch64", False), ("pi4", "x86_64", False)],
)
def test_only_an_arm_cpu_without_atomics_needs_the_armv8_0_set(
    tmp_path: Path, cpu: str, machine: str, needed: bool
) -> None:
    env = dict(os.environ, **_cpu_env(tmp_path, cpu, machine))
    assert subprocess.run([str(NEEDS_ARMV80)], env=env).returncode == (0 if needed else 1)


def test_this_machine_and_an_unreadable_cpuinfo_keep_the_lock(tmp_path: Path) -> None:
    """CI's x86 machine keeps uv.lock, and so does an ARM board whose cpuinfo cannot be read."""
    assert subprocess.run([str(NEEDS_ARMV80)]).returncode == 1
    env = dict(os.environ, SIGN2SOUND_MACHINE="aarch64", SIGN2SOUND_CPUINFO=str(tmp_path / "no"))
    assert subprocess.run([str(NEEDS_ARMV80)], env=env).returncode == 1


def test_the_armv8_0_set_pins_a_mediapipe_that_loads_without_atomics() -> None:
    """Installed with --no-deps, so it must pin every package exactly and leave out what the
    overrides drop (jax and the GUI OpenCV would otherwise arrive on the next rebuild)."""
    pins = dict(
        line.split("==")
        for line in ARMV80_REQUIREMENTS.read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert pins["mediapipe"] == "0.10.18"
    assert int(pins["numpy"].split(".")[0]) == 1 and pins["protobuf"].startswith("4.")
    assert all(re.fullmatch(r"[0-9][0-9A-Za-z.]*", version) for version in pins.values())
    overrides = (REPO / ".ci" / "armv8.0-overrides.txt").read_text()
    dropped = re.findall(r"^([a-z0-9-]+);", overrides, re.MULTILINE)
    assert "jax" in dropped and not set(dropped) & set(pins)
    locked = re.search(
        r'name = "ai-edge-litert"\nversion = "([^"]+)"', (REPO / "uv.lock").read_text()
    )
    assert locked and pins["ai-edge-litert"] == locked.group(1)  # the classifier is the lock's


def test_dry_run_on_a_pi_4_installs_the_armv8_0_set_between_the_lock_and_the_bookworm_pins(
    tmp_path: Path,
) -> None:
    _, out = _dry_run(tmp_path, env=_cpu_env(tmp_path, "pi4"))
    cmds = _commands(out)
    sync = next(i for i, c in enumerate(cmds) if "uv sync --frozen" in c)
    armv80 = next(i for i, c in enumerate(cmds) if str(ARMV80_REQUIREMENTS) in c)
    bookworm = next(i for i, c in enumerate(cmds) if "numpy==1.24.2" in c)
    assert sync < armv80 < bookworm
    assert "uv pip install" in cmds[armv80] and "--no-deps" in cmds[armv80]
    _, out = _dry_run(tmp_path, env=_cpu_env(tmp_path, "pi5"))
    assert "armv8.0" not in out


def test_dry_run_on_trixie_does_not_pin_numpy(tmp_path: Path) -> None:
    _, out = _dry_run(tmp_path, codename="trixie")
    assert "numpy==" not in out
    assert "uv sync --frozen --inexact" in out


def test_dry_run_without_pi_packages(tmp_path: Path) -> None:
    _, out = _dry_run(tmp_path, "--no-pi-packages", "--no-start")
    assert "picamera2" not in out and "lgpio" not in out
    assert "import numpy, cv2, mediapipe" in out
    assert "numpy==" not in out  # the pin only exists for apt's picamera2
    assert "armv8.0" not in out  # this x86 machine keeps the locked mediapipe
    assert "systemctl restart" not in out and "systemctl enable sign2sound.service" in out


def test_rerun_keeps_an_edited_config_and_an_existing_venv(tmp_path: Path) -> None:
    prefix = tmp_path / "root"
    config = prefix / "etc" / "sign2sound" / "config.yaml"
    config.parent.mkdir(parents=True)
    config.write_text("speech:\n  alsa_device: plughw:1,0  # edited by the owner\n")
    venv = prefix / "opt" / "sign2sound" / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to("/usr/bin/python3")
    (venv / "pyvenv.cfg").write_text("include-system-site-packages = true\n")
    before = _snapshot(prefix)

    _, out = _dry_run(tmp_path)
    cmds = _commands(out)
    assert not any(c.endswith(f" {config}") and c.startswith("install -m") for c in cmds)
    assert any(c.endswith(f" {config}.default") for c in cmds)
    assert "keeping the existing" in out
    assert not any("-m venv" in c or c.startswith("rm -rf") for c in cmds)
    assert "venv exists" in out
    assert _snapshot(prefix) == before


def test_uninstall_keeps_transcript_and_config_unless_purge(tmp_path: Path) -> None:
    prefix, out = _dry_run(tmp_path, "--uninstall")
    cmds = _commands(out)
    assert f"rm -rf {prefix}/opt/sign2sound" in cmds
    assert f"rm -f {prefix}/etc/systemd/system/sign2sound.service" in cmds
    assert not any("var/lib/sign2sound" in c or "etc/sign2sound" in c.split()[-1] for c in cmds)
    assert "kept" in out

    prefix, out = _dry_run(tmp_path, "--uninstall", "--purge")
    assert f"rm -rf {prefix}/var/lib/sign2sound {prefix}/etc/sign2sound" in _commands(out)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--prefix", "/tmp/x"], "--prefix only goes with --dry-run"),
        (["--purge"], "--purge only goes with --uninstall"),
        (["--bogus"], "unknown option '--bogus'"),
    ],
)
def test_bad_options_exit_2_with_a_message(args: list[str], message: str) -> None:
    result = subprocess.run(["bash", str(INSTALL), *args], capture_output=True, text=True)
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stdout == ""


def test_real_install_needs_root() -> None:
    """As an ordinary user (nobody) it refuses before touching anything."""
    as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    prefix = as_nobody if os.geteuid() == 0 else []  # a non-root CI user is ordinary already
    result = subprocess.run([*prefix, "bash", str(INSTALL)], capture_output=True, text=True)
    assert result.returncode == 1
    assert "run as root" in result.stderr
    assert "apt-get" not in result.stdout


def test_help_prints_the_usage_only() -> None:
    result = subprocess.run(["bash", str(INSTALL), "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    assert "--uninstall --purge" in result.stdout and "--dry-run" in result.stdout
    assert "set -euo" not in result.stdout and not result.stdout.startswith("!")


def test_readme_deploy_section_covers_what_a_new_user_needs() -> None:
    readme = (REPO / "README.md").read_text()
    assert "## Deploy on a Raspberry Pi" in readme
    section = readme.split("## Deploy on a Raspberry Pi", 1)[1].split("\n## ", 1)[0]
    for needed in (
        "sudo systemd/install.sh",
        "--dry-run",
        "camera.source",
        "aplay -l",
        "speech.alsa_device",
        "gpio.pin",
        "check-config --config /etc/sign2sound/config.yaml",
        "journalctl -u sign2sound",
        "--uninstall",
    ):
        assert needed in section, f"README deploy section lacks {needed!r}"
