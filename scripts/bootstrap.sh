# Sourced by demo.sh and check.sh: make a virtual environment in $VENV and install sscard.
# Usage: EXTRAS=dev source scripts/bootstrap.sh
VENV="${SSCARD_VENV:-.venv}"
if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    # Debian ships venv/ensurepip in a separate package
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    else
        echo "python3 -m venv is missing: run 'sudo apt-get install python3-venv' first" >&2
        exit 1
    fi
fi
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -e ".${EXTRAS:+[$EXTRAS]}"
