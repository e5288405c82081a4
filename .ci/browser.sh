#!/usr/bin/env bash
# The UI's browser tests drive Debian's chromium with Playwright (never `playwright install`,
# which downloads browsers). Installs chromium and chromium-driver; fails loudly if it cannot.
set -euo pipefail
if ! command -v chromium >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends chromium chromium-driver
fi
chromium --headless=new --no-sandbox --disable-gpu --dump-dom about:blank >/dev/null 2>&1 \
  || { echo "ERROR: chromium is installed but does not start headless." >&2; exit 1; }
echo "chromium: $(chromium --version)"
