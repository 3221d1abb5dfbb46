#!/usr/bin/env bash
# Debian's chromium for the browser tests (tests/browser), driven by Playwright through its
# executable_path: Playwright's own browser download is never used. Run as root; idempotent.
set -euo pipefail
if [ ! -x /usr/bin/chromium ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
/usr/bin/chromium --version
