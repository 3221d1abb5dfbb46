#!/usr/bin/env bash
# Set up the real PC/SC stack for the chip tests: pcscd with the vpcd virtual reader, pyscard,
# and vsmartcard's vicc (a foreign ISO 7816 card; its Python needs pycryptodome's `Crypto`).
#
# Usage (as root):  scripts/pcsc-setup.sh [VENV]      (VENV defaults to .venv)
#
# Idempotent: installs only the Debian packages that are missing (running `apt-get update` only
# when something must be installed), starts pcscd only when its socket does not answer, and
# installs pyscard only when the venv cannot import it. Containers have no systemd, so pcscd is
# started directly; it daemonises itself and keeps running until the container stops.
set -euo pipefail

VENV="${1:-.venv}"
PACKAGES=(pcscd libpcsclite-dev vsmartcard-vpcd vsmartcard-vpicc python3-virtualsmartcard
    python3-pycryptodome swig gcc python3-dev)
APT_LOCK=/tmp/apt.lock  # several installs may run at once on one machine
PCSCD_SOCKET=/run/pcscd/pcscd.comm

log() { printf 'pcsc-setup: %s\n' "$*"; }

missing_packages() {
    local pkg
    for pkg in "${PACKAGES[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
            printf '%s\n' "$pkg"
        fi
    done
}

install_packages() {
    local missing
    mapfile -t missing < <(missing_packages)
    if [ "${#missing[@]}" -eq 0 ]; then
        log "Debian packages already installed"
        return
    fi
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    flock "$APT_LOCK" apt-get update -qq
    flock "$APT_LOCK" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

pcscd_running() {
    [ -S "$PCSCD_SOCKET" ] && pgrep -x pcscd >/dev/null
}

start_pcscd() {
    if pcscd_running; then
        log "pcscd already running"
        return
    fi
    rm -f "$PCSCD_SOCKET" /run/pcscd/pcscd.pid
    mkdir -p /run/pcscd
    log "starting pcscd"
    pcscd
    local _
    for _ in $(seq 1 50); do
        if [ -S "$PCSCD_SOCKET" ]; then
            return
        fi
        sleep 0.1
    done
    log "pcscd did not create $PCSCD_SOCKET" >&2
    exit 1
}

install_pyscard() {
    local python="$VENV/bin/python"
    if [ ! -x "$python" ]; then
        log "no python in venv $VENV" >&2
        exit 1
    fi
    if "$python" -c 'import smartcard' 2>/dev/null; then
        log "pyscard already installed in $VENV"
        return
    fi
    log "installing pyscard into $VENV"
    "$python" -m pip install -q 'pyscard>=2.2'
}

if [ "$(id -u)" -ne 0 ]; then
    log "must run as root" >&2
    exit 1
fi
install_packages
start_pcscd
install_pyscard
log "vpcd listens on port $(awk '/^DEVICENAME/ {split($2, a, ":"); print a[2]}' /etc/reader.conf.d/vpcd 2>/dev/null || echo '?')"
