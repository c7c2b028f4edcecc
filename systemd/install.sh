#!/usr/bin/env bash
# Install Sign2Sound Edge as a systemd service on Raspberry Pi OS (Bookworm or Trixie, 64-bit).
#
#   sudo systemd/install.sh                      install or update; safe to run again
#   sudo systemd/install.sh --uninstall          remove the service and /opt/sign2sound; keeps
#                                                the transcript (/var/lib/sign2sound) and the
#                                                config (/etc/sign2sound)
#   sudo systemd/install.sh --uninstall --purge  also remove those and the sign2sound user
#   systemd/install.sh --dry-run [...]           print every step and command, change nothing
#
# Other options:
#   --no-pi-packages  skip python3-picamera2 and python3-lgpio (plain Debian with a USB camera)
#   --no-start        install and enable the service, but do not (re)start it now
#   --prefix DIR      with --dry-run only: show the paths under DIR (used by the tests)
#
# What it does: apt packages -> the 'sign2sound' system user -> a copy of this checkout in
# /opt/sign2sound -> a venv with the system site packages (apt's picamera2 and lgpio) and the
# locked dependencies of uv.lock -> /etc/sign2sound/config.yaml (an existing one is never
# overwritten) -> the unit -> systemctl enable + restart. Logs: journalctl -u sign2sound -f
set -euo pipefail

SRC_DIR=$(cd "$(dirname "$0")/.." && pwd)
SERVICE=sign2sound.service
SERVICE_USER=sign2sound
# Same uv as .ci/setup (tests/test_systemd.py checks they agree): the lock CI tested.
UV_VERSION=0.13.9
# apt's picamera2 on Bookworm is built against numpy 1.x (Bookworm ships 1.24.2). With numpy
# 1.24.2 the locked opencv (needs numpy 2), matplotlib 3.11 (imported by mediapipe; needs >= 1.25)
# and ml-dtypes 0.6 (imported by ai-edge-litert; needs numpy.exceptions, 1.25+) do not import, so
# they step back too. Checked with Python 3.11: the demo video still gives HELLO through
# MediaPipe and LiteRT, and `uv pip check` reports only the two overrides of pyproject.toml.
# Trixie's picamera2 uses numpy 2: no pin there.
BOOKWORM_PINS=("numpy==1.24.2" "opencv-python-headless<4.12" "matplotlib<3.10" "ml-dtypes<0.5")
OS_RELEASE=${SIGN2SOUND_OS_RELEASE:-/etc/os-release}

dry_run=0
uninstall=0
purge=0
pi_packages=1
start=1
prefix=""

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
die() { echo "install.sh: error: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) dry_run=1 ;;
    --uninstall) uninstall=1 ;;
    --purge) purge=1 ;;
    --no-pi-packages) pi_packages=0 ;;
    --no-start) start=0 ;;
    --prefix)
      [ $# -ge 2 ] || die "--prefix needs a directory"
      prefix=$2
      shift
      ;;
    --prefix=*) prefix=${1#--prefix=} ;;
    -h | --help) usage; exit 0 ;;
    *) echo "install.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

if [ "$purge" -eq 1 ] && [ "$uninstall" -eq 0 ]; then
  echo "install.sh: --purge only goes with --uninstall" >&2
  exit 2
fi
if [ -n "$prefix" ]; then
  [ "$dry_run" -eq 1 ] || { echo "install.sh: --prefix only goes with --dry-run" >&2; exit 2; }
  prefix=${prefix%/}
fi

APP_DIR=$prefix/opt/sign2sound
VENV=$APP_DIR/.venv
CONF_DIR=$prefix/etc/sign2sound
STATE_DIR=$prefix/var/lib/sign2sound
UNIT_DIR=$prefix/etc/systemd/system

step() { printf '\n== %s\n' "$*"; }
note() { printf '# %s\n' "$*"; }
# Every change goes through run: it prints the exact command, then runs it unless --dry-run.
# Words with shell-special characters are shown in single quotes, so each line can be pasted.
run() {
  local word line="+"
  for word in "$@"; do
    if [[ $word =~ ^[A-Za-z0-9_./=:,@%+-]+$ ]]; then
      line+=" $word"
    else
      line+=" '${word//\'/\'\\\'\'}'"
    fi
  done
  printf '%s\n' "$line"
  if [ "$dry_run" -eq 0 ]; then "$@"; fi
}

if [ "$dry_run" -eq 0 ] && [ "$(id -u)" -ne 0 ]; then
  die "run as root: sudo $0 $* (or --dry-run to see the steps)"
fi
if [ "$dry_run" -eq 1 ]; then note "dry run: printing the steps, changing nothing"; fi

# ---------------------------------------------------------------------------------------------
uninstall_all() {
  step "stop and remove the service"
  if [ -e "$UNIT_DIR/$SERVICE" ] || systemctl cat "$SERVICE" >/dev/null 2>&1; then
    run systemctl disable --now "$SERVICE"
  else
    note "$SERVICE is not installed"
  fi
  run rm -f "$UNIT_DIR/$SERVICE"
  run systemctl daemon-reload
  # Forget a failed state so a later reinstall starts clean (no error if there is none).
  run systemctl reset-failed "$SERVICE" || true

  step "remove the program"
  case "$APP_DIR" in
    */opt/sign2sound) run rm -rf "$APP_DIR" ;;
    *) die "refusing to remove unexpected path '$APP_DIR'" ;;
  esac

  if [ "$purge" -eq 1 ]; then
    step "purge the transcript, the config and the user"
    run rm -rf "$STATE_DIR" "$CONF_DIR"
    if id -u "$SERVICE_USER" >/dev/null 2>&1; then
      run userdel "$SERVICE_USER"
    else
      note "no user $SERVICE_USER"
    fi
  else
    step "keep the transcript and the config"
    note "kept $STATE_DIR (transcript) and $CONF_DIR (config.yaml); --uninstall --purge removes them"
  fi
  note "apt packages (espeak-ng, python3-picamera2, ...) are left installed"
  note "sign2sound uninstalled"
}

# ---------------------------------------------------------------------------------------------
check_system() {
  step "check the system"
  local codename="" arch
  if [ -r "$OS_RELEASE" ]; then
    codename=$(sed -n 's/^VERSION_CODENAME=//p' "$OS_RELEASE" | tr -d '"')
  fi
  arch=$(uname -m)
  note "os: ${codename:-unknown}, arch: $arch"
  case "$codename" in
    bookworm | trixie) ;;
    *) note "WARNING: tested on Raspberry Pi OS Bookworm and Trixie; '${codename:-unknown}' may differ" ;;
  esac
  case "$arch" in
    aarch64 | x86_64) ;;
    *) note "WARNING: $arch: the locked wheels (mediapipe, ai-edge-litert) need a 64-bit OS" ;;
  esac
  CODENAME=$codename
}

install_packages() {
  step "install system packages (apt)"
  # espeak-ng + alsa-utils (aplay): speech; libegl1/libgles2: MediaPipe links them even on the
  # CPU path; python3-venv: the venv; rsync: the copy below; procps: /bin/kill, the unit's
  # ExecReload (a minimal Debian has no procps).
  local packages=(python3 python3-venv espeak-ng alsa-utils libegl1 libgles2 rsync procps)
  if [ "$pi_packages" -eq 1 ]; then
    # Pi camera (libcamera) and the lgpio pin factory gpiozero uses on a Pi 4 and Pi 5.
    # Only apt has working builds of these; the venv sees them through --system-site-packages.
    packages+=(python3-picamera2 python3-lgpio)
  fi
  # apt-get-wait: apt-get that waits (up to 15 min, SIGN2SOUND_APT_LOCK_TIMEOUT) while another
  # apt or dpkg holds the lock, as unattended-upgrades does on a Pi's first boot.
  run env DEBIAN_FRONTEND=noninteractive "$SRC_DIR/.ci/apt-get-wait" update -qq
  # --no-install-recommends: picamera2 would otherwise pull in the Qt/OpenGL preview stack.
  run env DEBIAN_FRONTEND=noninteractive "$SRC_DIR/.ci/apt-get-wait" install -y -qq \
    --no-install-recommends "${packages[@]}"
}

create_user() {
  step "create the service user '$SERVICE_USER'"
  # The unit's SupplementaryGroups needs every group to exist; Raspberry Pi OS has gpio (its
  # udev rules give /dev/gpiochip* to it), a plain Debian may not.
  if getent group gpio >/dev/null; then
    note "group gpio exists"
  else
    run groupadd --system gpio
  fi
  if id -u "$SERVICE_USER" >/dev/null 2>&1; then
    note "user $SERVICE_USER exists"
  else
    run useradd --system --user-group --no-create-home --home-dir /var/lib/sign2sound \
      --shell /usr/sbin/nologin --comment "Sign2Sound Edge service" "$SERVICE_USER"
  fi
  # Also in the user's own groups so `sudo -u sign2sound sign2sound check-config` can test
  # devices by hand; the service gets them from SupplementaryGroups= either way.
  run usermod --append --groups video,gpio,audio "$SERVICE_USER"
}

install_program() {
  step "copy the program to $APP_DIR"
  if [ "$SRC_DIR" = "$APP_DIR" ]; then
    note "running from $APP_DIR itself: nothing to copy"
  else
    run install -d -m 0755 "$APP_DIR"
    # root-owned and not writable by the service; the venv and caches are not copied.
    run rsync -a --delete --chown=root:root --chmod=go-w \
      --exclude=/.venv --exclude=/.git --exclude=__pycache__ --exclude=/.pytest_cache \
      --exclude=/.ruff_cache --exclude='*.egg-info' "$SRC_DIR/" "$APP_DIR/"
  fi

  step "create the venv $VENV (it sees apt's Python packages)"
  # /usr/bin/python3 on purpose: apt's picamera2/lgpio are built for the system Python.
  if [ -x "$VENV/bin/python" ] \
    && grep -q '^include-system-site-packages *= *true' "$VENV/pyvenv.cfg" 2>/dev/null; then
    note "venv exists with system site packages"
  else
    if [ -e "$VENV" ]; then run rm -rf "$VENV"; fi
    run /usr/bin/python3 -m venv --system-site-packages "$VENV"
  fi

  step "install the locked Python dependencies (uv.lock)"
  run "$VENV/bin/python" -m pip install -q --disable-pip-version-check "uv==$UV_VERSION"
  # --frozen: exactly uv.lock; --inexact: keep what uv did not install (uv itself).
  run env UV_PROJECT_ENVIRONMENT="$VENV" "$VENV/bin/uv" sync --frozen --inexact --no-progress \
    --project "$APP_DIR"
  if "$SRC_DIR/.ci/needs-armv8.0"; then
    # The locked mediapipe does not load without the ARMv8.1 atomics (a Pi 4 or 3).
    step "install mediapipe 0.10.18 and numpy 1.x for this ARMv8.0 CPU (.ci/armv8.0-requirements.txt)"
    run "$VENV/bin/uv" pip install --python "$VENV/bin/python" --no-deps \
      -r "$SRC_DIR/.ci/armv8.0-requirements.txt"
  fi
  if [ "$CODENAME" = "bookworm" ] && [ "$pi_packages" -eq 1 ]; then
    step "pin numpy 1.x for Bookworm's picamera2"
    run "$VENV/bin/uv" pip install --python "$VENV/bin/python" "${BOOKWORM_PINS[@]}"
  fi
  # Catches a numpy ABI mismatch (apt's picamera2 vs the venv's numpy) now, not at first boot.
  local imports="numpy, cv2, mediapipe.tasks.python.vision, ai_edge_litert.interpreter"
  if [ "$pi_packages" -eq 1 ]; then imports+=", picamera2, lgpio"; fi
  step "check that the venv imports the whole stack"
  run "$VENV/bin/python" -c "import $imports"
  step "compile the bytecode"
  # The service cannot write to /opt (ProtectSystem=strict): compile the bytecode now.
  run "$VENV/bin/python" -m compileall -q "$APP_DIR/edge"
}

install_config() {
  step "install the config $CONF_DIR/config.yaml"
  run install -d -m 0755 "$CONF_DIR"
  if [ -e "$CONF_DIR/config.yaml" ]; then
    note "keeping the existing $CONF_DIR/config.yaml (never overwritten)"
    # The new defaults next to it, for comparison after an update.
    run install -m 0644 "$APP_DIR/config.yaml" "$CONF_DIR/config.yaml.default"
  else
    run install -m 0644 "$APP_DIR/config.yaml" "$CONF_DIR/config.yaml"
  fi
  # Fails (and stops the install) if an edited config does not fit this version or names what
  # cannot work (a missing model, an unknown voice, ...); STATE_DIRECTORY as the unit sets it, so
  # a relative transcript.path is checked where the service will write it.
  run env STATE_DIRECTORY="$STATE_DIR" "$VENV/bin/sign2sound" check-config \
    --config "$CONF_DIR/config.yaml"
}

install_unit() {
  step "install and start the service"
  run install -m 0644 "$APP_DIR/systemd/$SERVICE" "$UNIT_DIR/$SERVICE"
  # Unknown keys or bad values only warn in systemd; show them here rather than in the journal.
  run systemd-analyze verify "$UNIT_DIR/$SERVICE"
  run systemctl daemon-reload
  run systemctl enable "$SERVICE"
  if [ "$start" -eq 0 ]; then
    note "--no-start: start it with: sudo systemctl start sign2sound"
    return
  fi
  # restart (not start) so an update takes effect; it returns once the daemon sent READY=1.
  if ! run systemctl restart "$SERVICE"; then
    run journalctl -u "$SERVICE" -n 30 --no-pager || true
    die "the service did not start; see the log above or: journalctl -u sign2sound -f"
  fi
  run systemctl --no-pager status "$SERVICE"
}

if [ "$uninstall" -eq 1 ]; then
  uninstall_all
  exit 0
fi

check_system
install_packages
create_user
install_program
install_config
install_unit
step "done"
note "logs: journalctl -u sign2sound -f    config: $CONF_DIR/config.yaml"
note "transcript: $STATE_DIR/transcript.txt    uninstall: sudo $APP_DIR/systemd/install.sh --uninstall"
