#!/usr/bin/env bash
# Every check, in order: lint, format, types, layers, tests (unit, integration, e2e, PC/SC stack,
# pages in chromium)
# and a smoke run of every benchmark (each once, untimed). Installs what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS=dev source scripts/bootstrap.sh
if [ "$(id -u)" = 0 ]; then
    bash scripts/pcsc-setup.sh "$VENV"   # pcscd + vpcd + pyscard: the PC/SC-stack tests run, not skip
    bash scripts/browser-setup.sh        # Debian's chromium: the browser tests run, not skip
    bash scripts/poppler-setup.sh        # pdftoppm, pdftotext, pdffonts: the PDF rendering tests run
else
    echo "not root: the PC/SC stack, chromium and poppler are not installed; their tests may be skipped" >&2
fi
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
"$VENV/bin/mypy"
"$VENV/bin/lint-imports"
"$VENV/bin/pytest" tests "$@"
"$VENV/bin/pytest" benchmarks -q --benchmark-disable 
