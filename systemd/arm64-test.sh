#!/usr/bin/env bash
# The Pi path without a Pi, as far as emulation goes. Run by hand, as root (not in CI: about
# 20 minutes, most of it MediaPipe emulated at a few seconds per frame):
#
#   systemd/arm64-test.sh            build (or reuse) an arm64 Debian 12 root, boot it, check
#   systemd/arm64-test.sh --keep     also keep this run's root, for a look afterwards
#   systemd/arm64-test.sh --rebuild  build the cached arm64 root again first
#   systemd/arm64-test.sh --pi4      the same as a Raspberry Pi 4 (Cortex-A72, no LSE atomics):
#                                    .ci/setup installs .ci/armv8.0-requirements.txt over the lock
#
# An arm64 Debian 12 (bookworm) minbase root (debootstrap --arch=arm64; qemu-user-static runs its
# programs through binfmt_misc) is cached beside the container test's and booted with
# systemd-nspawn, made to look like a Raspberry Pi 5 as far as qemu-user allows: qemu emulates a
# Cortex-A76 (QEMU_CPU) and the Pi's /proc/cpuinfo is bound over the host's. A oneshot unit in it
# runs this script with --inside, which, on a copy of this checkout, runs README's first command
# (`.ci/setup && .venv/bin/sign2sound demo`: MediaPipe and LiteRT on aarch64), the replay demo,
# `systemd/install.sh --no-pi-packages --no-start`, the service itself under systemd with the
# recorded HELLO landmarks as its camera (READY, HELLO in the transcript), and last shows why the
# Pi look is needed and what stays unproven: LiteRT with qemu's default CPU model and with the
# host's /proc/cpuinfo, and MediaPipe on a Pi 4's Cortex-A72 and a Pi 3's Cortex-A53.
# Each line says PASS, FAIL or NOTE; the exit code is non-zero on a FAIL.
set -euo pipefail

# say, die, report/pass/fail, prop, need_tools, cached_root, boot_root and the settings
# shellcheck source=/dev/null
source "$(dirname "$0")/container-test.sh"

ARM_TIME_LIMIT_S=3600
# The CPU qemu emulates, and the /proc/cpuinfo the container sees: a Raspberry Pi 5's. (A Pi 4's
# Cortex-A72 is tried at the end: MediaPipe's library does not load on it under qemu.)
PI_CPU=cortex-a76
PI_CPUINFO_FILE=/etc/pi-cpuinfo
PI_CPUINFO="$(for n in 0 1 2 3; do
  printf 'processor\t: %s\nBogoMIPS\t: 108.00\n' "$n"
  printf 'Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid'
  printf ' asimdrdm lrcpc dcpop asimddp\n'
  printf 'CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x4\nCPU part\t: 0xd0b\n'
  printf 'CPU revision\t: 1\n\n'
done)
Revision	: c04170
Model		: Raspberry Pi 5 Model B Rev 1.0"
# An ARMv8.0 Pi's (a Pi 4: Cortex-A72, no LSE atomics, no dot product), for the probes on the
# A72 and A53 models: a cpuinfo must not claim what the emulated CPU lacks (XNNPACK believes it).
PI4_CPUINFO_FILE=/etc/pi4-cpuinfo
PI4_CPUINFO="$(for n in 0 1 2 3; do
  printf 'processor\t: %s\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\n' "$n"
  printf 'CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd08\n'
  printf 'CPU revision\t: 3\n\n'
done)
Revision	: c03111
Model		: Raspberry Pi 4 Model B Rev 1.1"

note() { report "NOTE  $*"; }

# ---- inside the arm64 container ------------------------------------------------------------
# The shipped classifier on fixed int8 inputs: its top letters with XNNPACK (what the daemon
# runs) and with LiteRT's reference kernels, to see whether an emulated CPU computes them right.
CLASSIFIER_PROBE='
import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType
MODEL = "models/letters_int8.tflite"
shape = tuple(Interpreter(model_path=MODEL).get_input_details()[0]["shape"])  # as the model says
inputs = np.random.default_rng(0).integers(-128, 127, size=(8, *shape), dtype=np.int8)
def top(**options):
    i = Interpreter(model_path=MODEL, **options)
    i.allocate_tensors()
    tops = []
    for x in inputs:
        i.set_tensor(i.get_input_details()[0]["index"], x)
        i.invoke()
        tops.append(int(i.get_tensor(i.get_output_details()[0]["index"])[0].argmax()))
    return tops
fast = top()
ref = top(experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
print("same" if fast == ref else f"differ: XNNPACK {fast}, reference kernels {ref}")
'

# emulated CPU CPUINFO CODE: run Python CODE in the checkout with qemu emulating CPU and CPUINFO
# (a file, or "host" for the host's own) as /proc/cpuinfo, in a mount namespace of its own.
emulated() {
  local cpu=$1 cpuinfo=$2 code=$3
  # shellcheck disable=SC2016  # $0..$3 are the inner shell's
  (cd /root/sign2sound && timeout 900 unshare --mount sh -c \
    'umount /proc/cpuinfo; [ "$1" = host ] || mount --bind "$1" /proc/cpuinfo || exit 99
     exec env QEMU_CPU="$0" .venv/bin/python -c "$2"' "$cpu" "$cpuinfo" "$code" 2>&1)
}

# outcome RC OUTPUT: "exit N (signal S): <the line that says why>" for a NOTE.
outcome() {
  local rc=$1 why
  why=$(grep -m 1 -E 'FATAL ERROR|Fatal Python error|uncaught target signal' <<<"$2" || true)
  echo "exit $rc$( ((rc > 128)) && echo " (signal $((rc - 128)))")${why:+: $why}"
}

# classifier_probe CPU CPUINFO LABEL: the shipped classifier's kernels there; a NOTE.
classifier_probe() {
  local out rc=0
  out=$(emulated "$1" "$2" "$CLASSIFIER_PROBE") || rc=$?
  if [ "$rc" -eq 0 ]; then
    note "LiteRT on $3: XNNPACK and reference kernels $(tail -n 1 <<<"$out")"
  else
    note "LiteRT on $3: $(outcome "$rc" "$out")"
  fi
}

inside_arm64() {
  [ "$(uname -m)" = aarch64 ] || fail "the container runs $(uname -m), not aarch64"
  mount --bind "$PI_CPUINFO_FILE" /proc/cpuinfo || fail "cannot bind $PI_CPUINFO_FILE over /proc/cpuinfo"
  pass "aarch64 Debian $(cat /etc/debian_version) under qemu-user (QEMU_CPU=${QEMU_CPU:-unset}), /proc/cpuinfo: $(sed -n 's/^Model\t*: //p' /proc/cpuinfo)"
  mkdir -p /root/sign2sound
  tar -C /src --exclude=./.venv --exclude=./.git --exclude=./runs -cf - . | tar -C /root/sign2sound -xf -
  cd /root/sign2sound

  local t0=$SECONDS
  .ci/setup >/results/setup.log 2>&1 \
    || fail ".ci/setup; its last lines:"$'\n'"$(tail -n 30 /results/setup.log)"
  pass ".ci/setup: the locked aarch64 wheels and apt packages ($((SECONDS - t0)) s)"
  local mediapipe
  mediapipe=$(.venv/bin/python -c 'from importlib.metadata import version; print(version("mediapipe"))')
  if .ci/needs-armv8.0; then
    grep -qx "mediapipe==$mediapipe" .ci/armv8.0-requirements.txt \
      || fail "a CPU without ARMv8.1 atomics got mediapipe $mediapipe, not that of .ci/armv8.0-requirements.txt"
    pass "no ARMv8.1 atomics in /proc/cpuinfo: .ci/armv8.0-requirements.txt over the lock (mediapipe $mediapipe)"
  fi

  local rc=0 out
  t0=$SECONDS
  # stdout only: with no sound card the speech error (stderr) would land among the letters
  out=$(timeout 2400 .venv/bin/sign2sound demo 2>/results/demo.err) || rc=$?
  { [ "$rc" -eq 0 ] && grep -q -- 'H E L L O -> HELLO' <<<"$out"; } \
    || fail "sign2sound demo (MediaPipe on the video): exit $rc:"$'\n'"$out"$'\n'"$(tail -n 20 /results/demo.err)"
  pass "sign2sound demo, README's first command (MediaPipe + LiteRT on aarch64): $(grep -m 1 -- '-> HELLO' <<<"$out") ($((SECONDS - t0)) s emulated)"

  rc=0
  out=$(timeout 900 .venv/bin/sign2sound demo --replay 2>/results/replay.err) || rc=$?
  { [ "$rc" -eq 0 ] && grep -q -- 'H E L L O -> HELLO' <<<"$out"; } \
    || fail "sign2sound demo --replay: exit $rc:"$'\n'"$out"$'\n'"$(tail -n 20 /results/replay.err)"
  pass "sign2sound demo --replay (LiteRT INT8 on aarch64): $(grep -m 1 -- '-> HELLO' <<<"$out")"

  t0=$SECONDS
  systemd/install.sh --no-pi-packages --no-start >/results/install.log 2>&1 \
    || fail "systemd/install.sh --no-pi-packages --no-start; its last lines:"$'\n'"$(tail -n 30 /results/install.log)"
  pass "systemd/install.sh --no-pi-packages --no-start ($((SECONDS - t0)) s)"

  local config=/etc/sign2sound/config.yaml transcript=/var/lib/sign2sound/transcript.txt
  sed -i 's|^  source: auto$|  source: replay:/opt/sign2sound/models/demo/hello_landmarks.csv|' "$config"
  grep -q '^  source: replay:' "$config" || fail "could not set camera.source in $config"
  # The unit's ProtectProc= gives the service a /proc of its own: the Pi's cpuinfo again there.
  mkdir -p /etc/systemd/system/sign2sound.service.d
  printf '[Service]\nBindReadOnlyPaths=%s:/proc/cpuinfo\n' "$PI_CPUINFO_FILE" \
    >/etc/systemd/system/sign2sound.service.d/emulated-pi.conf
  systemctl daemon-reload
  systemctl start sign2sound || fail "systemctl start: READY=1 never came"
  for _ in $(seq 300); do
    case "$(prop ActiveState)" in inactive | failed) break ;; esac
    sleep 1
  done
  { [ "$(prop Result)" = success ] && grep -q $'\tHELLO$' "$transcript" 2>/dev/null; } \
    || fail "the service on the replay: Result=$(prop Result), transcript: $(cat "$transcript" 2>&1)"
  pass "the service under systemd and its sandbox (recorded landmarks as the camera): READY, HELLO in $transcript, exit 0"

  # What emulation gets wrong, and what only a Pi can settle, shown rather than told.
  printf '%s\n' "$PI4_CPUINFO" >"$PI4_CPUINFO_FILE"
  classifier_probe cortex-a72 "$PI4_CPUINFO_FILE" "a Pi 4's Cortex-A72 (ARMv8.0, its cpuinfo)"
  classifier_probe cortex-a53 "$PI4_CPUINFO_FILE" "a Pi 3's Cortex-A53 (ARMv8.0)"
  classifier_probe max "$PI_CPUINFO_FILE" "qemu's default CPU model 'max'"
  classifier_probe "$PI_CPU" host "the $PI_CPU with the host's x86 /proc/cpuinfo"
  local cpu
  for cpu in cortex-a72 cortex-a53; do
    rc=0
    out=$(emulated "$cpu" "$PI4_CPUINFO_FILE" \
      'from edge.landmarks import HandTracker; HandTracker("models/hand_landmarker.task")') \
      || rc=$?
    note "MediaPipe's HandLandmarker on $cpu (ARMv8.0, a Pi 4's cpuinfo): $(outcome "$rc" "$out")"
  done
}

# ---- on the host ---------------------------------------------------------------------------
arm64_main() {
  local keep=0 rebuild="" arg
  case "${1:-}" in
    --inside) inside_arm64; exit 0 ;;
  esac
  for arg in "$@"; do
    case "$arg" in
      --keep) keep=1 ;;
      --rebuild) rebuild=--rebuild ;;
      --pi4) PI_CPU=cortex-a72 PI_CPUINFO=$PI4_CPUINFO ;;
      -h | --help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
      *) die "unknown option '$arg' (allowed: --keep, --rebuild, --pi4)" ;;
    esac
  done
  [ "$(id -u)" -eq 0 ] || die "run as root (debootstrap, binfmt_misc and systemd-nspawn need it)"
  mkdir -p "$CACHE/apt-archives-arm64/partial" "$CACHE/uv"
  need_tools debootstrap:debootstrap systemd-nspawn:systemd-container \
    qemu-aarch64-static:qemu-user-static update-binfmts:binfmt-support
  # qemu-user runs the arm64 programs: binfmt_misc mounted, the aarch64 entry enabled, with the
  # F flag (the interpreter is opened now, so it works inside the container's root too).
  if [ ! -e /proc/sys/fs/binfmt_misc/status ]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  fi
  [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || update-binfmts --enable qemu-aarch64
  grep -q '^flags: .*F' /proc/sys/fs/binfmt_misc/qemu-aarch64 \
    || die "the qemu-aarch64 binfmt entry lacks the F flag: $(cat /proc/sys/fs/binfmt_misc/qemu-aarch64)"
  local start=$SECONDS base
  base=$(cached_root arm64 "$INCLUDE" "$(basename "$0")" $rebuild)
  run=$(mktemp -d /var/tmp/sign2sound-arm64.XXXXXX)  # global: the EXIT trap needs it
  if [ "$keep" -eq 0 ]; then trap 'rm -rf "$run"' EXIT; fi
  cp -a --reflink=auto "$base" "$run/root"
  # As a Pi 5 as far as qemu-user can: its CPU model for every process (PID 1 and, through
  # DefaultEnvironment, every unit) and its /proc/cpuinfo, bound over /proc/cpuinfo by the
  # checks (nspawn cannot bind onto /proc); see the NOTE lines for why.
  printf '%s\n' "$PI_CPUINFO" >"$run/cpuinfo"
  mkdir -p "$run/root/etc/systemd/system.conf.d"
  printf '[Manager]\nDefaultEnvironment=QEMU_CPU=%s\n' "$PI_CPU" \
    >"$run/root/etc/systemd/system.conf.d/qemu-cpu.conf"
  say "booting the arm64 container (systemd-nspawn --boot, emulated); each step prints as it ends"
  local rc=0
  boot_root "$run" "$ARM_TIME_LIMIT_S" --setenv=QEMU_CPU="$PI_CPU" \
    --bind-ro="$run/cpuinfo:$PI_CPUINFO_FILE" \
    --bind="$CACHE/apt-archives-arm64:/var/cache/apt/archives" --bind="$CACHE/uv:/var/cache/uv" \
    || rc=$?
  if [ "$keep" -eq 1 ]; then say "kept $run"; fi
  [ "$rc" -eq 0 ] || die "FAILED (exit code $rc) after $((SECONDS - start)) s"
  say "all steps passed in $((SECONDS - start)) s"
}

arm64_main "$@"
