#!/usr/bin/env bash
# Install poppler-utils (pdftoppm, pdftotext, pdffonts) for the tests that render every PDF the way a
# reader without Chinese fonts does, and poppler-data (the Adobe-GB1 character maps, without which
# pdftotext cannot read the text of the control PDF in the non-embedded CID font). Idempotent; apt runs under /tmp/apt.lock, so several installs on one
# machine wait for each other.
set -euo pipefail

if command -v pdftoppm >/dev/null && command -v pdffonts >/dev/null \
    && [ -d /usr/share/poppler/cMap/Adobe-GB1 ]; then
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
flock /tmp/apt.lock apt-get update -q
flock /tmp/apt.lock apt-get install -y -q --no-install-recommends poppler-utils poppler-data
