#!/usr/bin/env bash
# Apoena's one entry point for people and CI:
#   ./dev.sh demo    set up, then play a recorded call through the concierge (apoena simulate)
#   ./dev.sh test    set up, then run the whole test suite (extra args go to pytest)
#   ./dev.sh setup   only set up: system packages if missing, .venv/, the package and its models
#   ./dev.sh bench   set up, then run the benchmarks in bench/
# Every step is idempotent: a second run does nothing that is already done.
set -euo pipefail
cd "$(dirname "$0")"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing system packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

find_python() {
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  echo "error: Python >= 3.11 is needed (apt-get install python3)" >&2
  return 1
}

setup() {  # setup EXTRAS: the package with those extras (the tests also run the CrewAI brain)
  local extras=${1:-dev}
  local python
  python=$(find_python)
  if ! "$python" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    apt_install python3-venv
  fi
  if [ ! -x .venv/bin/python ]; then
    log "creating .venv with $python"
    "$python" -m venv .venv
  fi
  local stamp=.venv/.apoena-installed
  local want
  want="$(sha256sum pyproject.toml | cut -c1-16) $extras"
  if ! grep -qxF "$want" "$stamp" 2>/dev/null; then
    log "installing apoena[$extras] and its dependencies into .venv"
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e ".[$extras]"
    echo "$want" >>"$stamp"
  fi
}

case "${1:-}" in
  setup)
    apt_install ffmpeg  # .mp3/.ogg/.m4a recordings (concierge.audio.recordings, via pydub)
    setup
    ;;
  demo)
    setup
    log "a delivery at the gate: fixtures/calls/entrega.slin through the whole voice pipeline"
    .venv/bin/apoena simulate fixtures/calls/entrega.slin
    ;;
  test)
    apt_install chromium ffmpeg postgresql redis-server  # the page's browser test (tests/web/test_page.py); recordings in every format (tests/audio); a real PostgreSQL and Redis for records and live state (tests/servers.py)
    setup dev,crewai,azure
    shift
    # Three workers (pytest-xdist) on two cores: most slow tests wait on real-time audio, not the CPU
    # (a full run went from ~19 to ~12 minutes). APOENA_TEST_WORKERS=0 runs everything in one process.
    .venv/bin/python -m pytest -n "${APOENA_TEST_WORKERS:-3}" "$@"
    ;;
  bench)
    setup
    for script in bench/*.py; do
      log "$script"
      .venv/bin/python "$script"
    done
    ;;
  *)
    sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
