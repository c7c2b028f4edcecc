#!/usr/bin/env bash
# The service under a real systemd: install it into a Debian 12 container and check what the
# unit promises. Run as root (CI runs it after the tests, from .ci/run):
#
#   systemd/container-test.sh            build (or reuse) the root, boot it, install, check
#   systemd/container-test.sh --keep     also keep this run's root, for a look afterwards
#   systemd/container-test.sh --rebuild  build the cached Debian root again first
#
# A Debian 12 (bookworm) minbase root made with debootstrap is cached in
# $SIGN2SOUND_CONTAINER_CACHE (default /var/cache/sign2sound-container) and copied for each run.
# The copy is booted with systemd-nspawn; a oneshot unit in it runs this script with --inside,
# which runs `systemd/install.sh --no-pi-packages --no-start` from this checkout, then checks:
# READY reached (no camera: active, STATUS says the camera is being retried), no watchdog
# restart in 45 s while the pings arrive, a SIGHUP reload and a SIGTERM stop through systemctl,
# the service user unable to write outside its state folder (probed as an ExecStartPre= of the
# unit, so under its own user and sandbox), the demo video spelling HELLO into
# /var/lib/sign2sound/transcript.txt under the full hardening, only the daemon's own lines in
# its journal, and the rating of `systemd-analyze security`. It prints PASS or FAIL per check
# and exits non-zero (with the journal) on the first failure.
#
# The container shares the host's network and trusts what the host trusts (its CA bundle,
# read-only: a machine behind a TLS-inspecting proxy needs it); apt's and uv's caches are kept
# beside the root, so a second run downloads nothing.
set -euo pipefail

SUITE=bookworm
INCLUDE=systemd,systemd-sysv,dbus,python3,python3-venv
MIRROR=${SIGN2SOUND_DEBIAN_MIRROR:-http://deb.debian.org/debian}
CACHE=${SIGN2SOUND_CONTAINER_CACHE:-/var/cache/sign2sound-container}
TIME_LIMIT_S=600
WATCHDOG_WAIT_S=45
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
# a line of the service's own: "<python logger>: ...", "sign2sound run: error: ...", the probe's
OWN_LINE='^([a-z_][a-z0-9_]*(\.[a-z0-9_]+)*|sign2sound [a-z-]+|write-probe): '
REPO=$(cd "$(dirname "$0")/.." && pwd)

say() { printf '%s: %s\n' "$(basename "$0" .sh)" "$*"; }
die() { say "error: $*" >&2; exit 1; }

# ---- inside the container ------------------------------------------------------------------
# Results go to /results (a folder of the host): report.txt, one line per check.
report() { printf '%s\n' "$*" | tee -a /results/report.txt; }
pass() { report "PASS  $*"; }
fail() {
  report "FAIL  $*"
  {
    echo "--- systemctl status sign2sound"
    systemctl --no-pager status sign2sound 2>&1 || true
    echo "--- journalctl -u sign2sound (last 60 lines)"
    journalctl --no-pager -u sign2sound -n 60 2>&1 || true
  } | tee -a /results/report.txt
  exit 1
}
prop() { systemctl show -P "$1" sign2sound.service; }
unit_lines() { journalctl --no-pager -o cat _SYSTEMD_UNIT=sign2sound.service; }

# Run under the unit itself (an ExecStartPre= drop-in), so as its user in its sandbox. The
# folders outside the state folder that the user could write by permissions alone were made
# world-writable (or given to it) by check_write_probe: only the sandbox can stop these writes.
write_probe() {
  local dir
  for dir in "$STATE_DIRECTORY" "$RUNTIME_DIRECTORY" /tmp /var/tmp /dev/shm \
    /opt/sign2sound /opt/sign2sound/models /etc/sign2sound /srv/probe /var/lib/probe \
    /var/cache/probe /usr/local/probe; do
    if (: >"$dir/.write-probe") 2>/dev/null; then
      rm -f "$dir/.write-probe"
      echo "write-probe: writable $dir"
    else
      echo "write-probe: denied $dir"
    fi
  done
}

check_install() {
  local t0=$SECONDS
  if ! /src/systemd/install.sh --no-pi-packages --no-start >/results/install.log 2>&1; then
    fail "systemd/install.sh --no-pi-packages --no-start; its last lines:"$'\n'"$(tail -n 40 /results/install.log)"
  fi
  pass "systemd/install.sh --no-pi-packages --no-start ($((SECONDS - t0)) s)"
}

prepare_write_probe() {
  local dir
  for dir in /srv/probe /var/lib/probe /var/cache/probe /usr/local/probe; do
    install -d -m 1777 "$dir"
  done
  chown sign2sound /opt/sign2sound /opt/sign2sound/models /etc/sign2sound
  mkdir -p /etc/systemd/system/sign2sound.service.d
  printf '[Service]\nExecStartPre=%s --write-probe\n' "/opt/sign2sound/systemd/$(basename "$0")" \
    >/etc/systemd/system/sign2sound.service.d/write-probe.conf
  systemctl daemon-reload
}

check_ready_without_camera() {
  local t0=$SECONDS status
  systemctl start sign2sound || fail "systemctl start: READY=1 never came"
  [ "$(prop ActiveState)/$(prop SubState)" = active/running ] \
    || fail "after start: $(prop ActiveState)/$(prop SubState), expected active/running"
  status=$(prop StatusText)
  case "$status" in
    *camera*retrying*) ;;
    *) fail "STATUS '$status' does not say the camera is being retried" ;;
  esac
  pass "READY: systemctl start returned after $((SECONDS - t0)) s (Type=notify), active (running), STATUS: $status"
}

check_write_probe() {
  local lines denied writable
  lines=$(unit_lines | grep '^write-probe: ' || true)
  [ -n "$lines" ] || fail "the write probe (ExecStartPre) printed nothing"
  grep -qx "write-probe: writable /var/lib/sign2sound" <<<"$lines" \
    || fail "the service cannot write its state folder /var/lib/sign2sound"$'\n'"$lines"
  for dir in /opt/sign2sound /opt/sign2sound/models /etc/sign2sound /srv/probe /var/lib/probe \
    /var/cache/probe /usr/local/probe; do
    grep -qx "write-probe: denied $dir" <<<"$lines" \
      || fail "the service user can write $dir (outside its state folder)"$'\n'"$lines"
  done
  denied=$(sed -n 's/^write-probe: denied //p' <<<"$lines" | paste -sd ' ')
  writable=$(sed -n 's/^write-probe: writable //p' <<<"$lines" | grep -vx /var/lib/sign2sound \
    | paste -sd ' ' || true)
  pass "service user (its own sandbox) cannot write: $denied; writable besides /var/lib/sign2sound: ${writable:-none}"
  rm /etc/systemd/system/sign2sound.service.d/write-probe.conf
  systemctl daemon-reload
}

check_watchdog() {
  local pid ping1 ping2 restarts
  [ "$(prop WatchdogUSec)" = 30s ] || fail "WatchdogUSec is $(prop WatchdogUSec), expected 30s"
  pid=$(prop MainPID)
  ping1=$(prop WatchdogTimestampMonotonic)
  sleep "$WATCHDOG_WAIT_S"
  ping2=$(prop WatchdogTimestampMonotonic)
  restarts=$(prop NRestarts)
  { [ "$(prop MainPID)" = "$pid" ] && [ "$restarts" = 0 ]; } \
    || fail "restarted within ${WATCHDOG_WAIT_S} s (NRestarts=$restarts)"
  [ "$(prop ActiveState)" = active ] || fail "not active after ${WATCHDOG_WAIT_S} s"
  [ "$ping2" -gt "$ping1" ] || fail "no WATCHDOG=1 received in ${WATCHDOG_WAIT_S} s"
  pass "watchdog: same process after ${WATCHDOG_WAIT_S} s (WatchdogSec=30, NRestarts=0), pings arriving (systemd's last-ping time moved $(((ping2 - ping1) / 1000000)) s)"
}

check_reload() {
  local pid before
  pid=$(prop MainPID)
  before=$(unit_lines | grep -ci 'reload' || true)
  systemctl reload sign2sound || fail "systemctl reload failed"
  for _ in $(seq 20); do
    if [ "$(unit_lines | grep -ci 'reload' || true)" -gt "$before" ]; then break; fi
    sleep 0.5
  done
  [ "$(unit_lines | grep -ci 'reload' || true)" -gt "$before" ] \
    || fail "the daemon logged no reload within 10 s of systemctl reload (SIGHUP)"
  { [ "$(prop MainPID)" = "$pid" ] && [ "$(prop ActiveState)" = active ]; } \
    || fail "not the same running process after the reload"
  pass "SIGHUP: systemctl reload -> '$(unit_lines | grep -i reload | tail -n 1)', same PID $pid"
}

check_stop() {
  local t0=$SECONDS
  systemctl stop sign2sound || fail "systemctl stop failed"
  { [ "$(prop Result)" = success ] && [ "$(prop ExecMainStatus)" = 0 ]; } \
    || fail "stop: Result=$(prop Result) ExecMainStatus=$(prop ExecMainStatus), expected success/0"
  pass "SIGTERM: systemctl stop -> exit code 0 after $((SECONDS - t0)) s (Result=success, no SIGKILL)"
}

check_demo_video() {
  local config=/etc/sign2sound/config.yaml transcript=/var/lib/sign2sound/transcript.txt t0=$SECONDS
  grep -q '^  source: auto$' "$config" || fail "$config has no '  source: auto' line to change"
  sed -i 's|^  source: auto$|  source: /opt/sign2sound/models/demo/hello.mp4|' "$config"
  systemctl start sign2sound || fail "start with the demo video: READY=1 never came"
  for _ in $(seq 120); do
    case "$(prop ActiveState)" in inactive | failed) break ;; esac
    sleep 1
  done
  { [ "$(prop ActiveState)" = inactive ] && [ "$(prop Result)" = success ] \
    && [ "$(prop ExecMainStatus)" = 0 ]; } \
    || fail "demo video: $(prop ActiveState), Result=$(prop Result), exit $(prop ExecMainStatus)"
  grep -q $'\tHELLO$' "$transcript" 2>/dev/null \
    || fail "HELLO is not in $transcript: $(cat "$transcript" 2>&1)"
  pass "demo video: HELLO in $transcript ('$(grep $'\tHELLO$' "$transcript" | tail -n 1)') under the full hardening, exit 0 after $((SECONDS - t0)) s"
}

check_journal_is_own_lines() {
  local others
  # Through the daemon's logging: "<logger>: message" (edge.daemon: ..., also a Python library's
  # logger such as matplotlib's), "sign2sound run: error: ..."; and the write probe's lines.
  # (A native library's own lines look like "INFO: Created ...", "W0000 ...", "[mov,mp4 @ ...".)
  others=$(unit_lines | grep -Ev "$OWN_LINE" || true)
  [ -z "$others" ] || fail "lines in the service's journal not from its logging:"$'\n'"$others"
  pass "journal: all $(unit_lines | wc -l) lines of the service came through its logging (no native library lines)"
}

check_security() {
  local line score
  line=$(systemd-analyze security --no-pager sign2sound.service | tail -n 1)
  score=$(grep -oE '[0-9]+\.[0-9]+ [A-Z]+' <<<"$line" || true)
  case "$score" in
    *" SAFE" | *" OK") pass "systemd-analyze security: $score" ;;
    *) fail "systemd-analyze security: '$line' (expected SAFE or OK)" ;;
  esac
}

inside() {
  check_install
  prepare_write_probe
  check_ready_without_camera
  check_write_probe
  check_watchdog
  check_reload
  check_stop
  check_demo_video
  check_journal_is_own_lines
  check_security
}

# ---- on the host (shared with systemd/arm64-test.sh, which sources this file) --------------
# need_tools COMMAND:PACKAGE...: install (apt) the packages whose command is missing.
need_tools() {
  local pair missing=()
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    >"$CACHE/apt-tools.log" 2>&1 || { cat "$CACHE/apt-tools.log" >&2; die "apt-get install failed"; }
}

# cached_root ARCH INCLUDE SCRIPT [--rebuild]: the cached Debian root for ARCH with INCLUDE
# (debootstrap's list), booting into `/src/systemd/SCRIPT --inside`; built if missing or stale.
cached_root() {
  local arch=$1 include=$2 script=$3 rebuild=${4:-} base stamp t0=$SECONDS
  base=$CACHE/$SUITE-$arch
  stamp="debootstrap --arch=$arch --variant=minbase --include=$include $SUITE $MIRROR; $script"
  if [ -z "$rebuild" ] && [ "$(cat "$base/.sign2sound-base" 2>/dev/null)" = "$stamp" ]; then
    say "reusing the Debian $SUITE $arch root in $base" >&2
    echo "$base"
    return
  fi
  say "building the Debian $SUITE $arch root in $base (debootstrap --variant=minbase)" >&2
  rm -rf "$base.new"
  if ! debootstrap --arch="$arch" --variant=minbase --include="$include" "$SUITE" "$base.new" \
    "$MIRROR" >"$CACHE/debootstrap-$arch.log" 2>&1; then
    tail -n 30 "$CACHE/debootstrap-$arch.log" >&2
    die "debootstrap failed (log: $CACHE/debootstrap-$arch.log)"
  fi
  # The unit that runs the checks, and the exit code it hands back to systemd-nspawn.
  cat >"$base.new/etc/systemd/system/sign2sound-container-test.service" <<UNIT
[Unit]
Description=Sign2Sound Edge: checks under systemd ($script)
After=multi-user.target

[Service]
Type=oneshot
EnvironmentFile=-/results/environment
ExecStart=/src/systemd/$script --inside
ExecStopPost=/bin/sh -c 'case "\$\$EXIT_STATUS" in ""|*[!0-9]*) code=1 ;; *) code=\$\$EXIT_STATUS ;; esac; systemctl exit "\$\$code"'
TimeoutStartSec=infinity
StandardOutput=journal+console

[Install]
WantedBy=multi-user.target
UNIT
  ln -s /etc/systemd/system/sign2sound-container-test.service \
    "$base.new/etc/systemd/system/multi-user.target.wants/sign2sound-container-test.service"
  printf '%s\n' "$stamp" >"$base.new/.sign2sound-base"
  rm -rf "$base"
  mv "$base.new" "$base"
  say "built the root in $((SECONDS - t0)) s ($(du -sh "$base" | cut -f1))" >&2
  echo "$base"
}

# boot_root RUN LIMIT_S [NSPAWN_OPTION...]: boot RUN/root, follow RUN/results/report.txt live,
# return systemd-nspawn's exit code (that of the check unit; 124 when over LIMIT_S).
boot_root() {
  local run=$1 limit=$2
  shift 2
  mkdir -p "$run/results"
  : >"$run/results/report.txt"
  {
    echo "SSL_CERT_FILE=$CA_BUNDLE"  # uv (inside install.sh) trusts only the bundle it is given
    echo "UV_CACHE_DIR=/var/cache/uv"
    local name
    for name in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
      if [ -n "${!name:-}" ]; then echo "$name=${!name}"; fi
    done
  } >"$run/results/environment"
  timeout --kill-after=30 "$limit" systemd-nspawn --quiet --register=no --keep-unit \
    --directory="$run/root" --machine="sign2sound-$(basename "$0" .sh)" --console=read-only \
    --bind-ro="$REPO:/src" --bind="$run/results:/results" --bind-ro="$CA_BUNDLE" \
    "$@" --boot </dev/null >"$run/console.log" 2>&1 &
  local container=$! rc=0
  # tail ends by itself once the container is gone (--pid), after printing what is left
  tail -n +1 -F --pid="$container" "$run/results/report.txt" 2>/dev/null \
    | grep --line-buffered -E '^(PASS|FAIL|NOTE)  ' \
    | sed -u "s/^/$(basename "$0" .sh): /" || true
  wait "$container" || rc=$?
  if [ "$rc" -ne 0 ]; then
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then say "FAIL  not done within $limit s"; fi
    sed -n '/^FAIL  /,$p' "$run/results/report.txt" | tail -n +2 | sed 's/^/  /'
    say "container console (last 30 lines):"
    tail -n 30 "$run/console.log" | sed 's/^/  /'
  fi
  return "$rc"
}

main() {
  local keep=0 rebuild="" arg
  case "${1:-}" in
    --inside) inside; exit 0 ;;
    --write-probe) write_probe; exit 0 ;;
  esac
  for arg in "$@"; do
    case "$arg" in
      --keep) keep=1 ;;
      --rebuild) rebuild=--rebuild ;;
      -h | --help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
      *) die "unknown option '$arg' (allowed: --keep, --rebuild)" ;;
    esac
  done
  [ "$(id -u)" -eq 0 ] || die "run as root (debootstrap and systemd-nspawn need it)"
  mkdir -p "$CACHE/apt-archives/partial" "$CACHE/uv"
  need_tools debootstrap:debootstrap systemd-nspawn:systemd-container
  local start=$SECONDS base
  base=$(cached_root "$(dpkg --print-architecture)" "$INCLUDE" "$(basename "$0")" $rebuild)
  run=$(mktemp -d /var/tmp/sign2sound-container.XXXXXX)  # global: the EXIT trap needs it
  if [ "$keep" -eq 0 ]; then trap 'rm -rf "$run"' EXIT; fi
  cp -a --reflink=auto "$base" "$run/root"
  say "booting the container (systemd-nspawn --boot); each check prints as it ends"
  local rc=0
  boot_root "$run" "$TIME_LIMIT_S" \
    --bind="$CACHE/apt-archives:/var/cache/apt/archives" --bind="$CACHE/uv:/var/cache/uv" \
    || rc=$?
  if [ "$keep" -eq 1 ]; then say "kept $run"; fi
  [ "$rc" -eq 0 ] || die "FAILED (exit code $rc) after $((SECONDS - start)) s"
  say "all checks passed in $((SECONDS - start)) s"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then main "$@"; fi
