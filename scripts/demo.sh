#!/usr/bin/env bash
# The main job on the embedded default: database, API, a simulated outlet and its agent, until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS="" source scripts/bootstrap.sh
exec "$VENV/bin/sscard" demo "$@"
