#!/usr/bin/env bash
# Install the headless browser the demo's UI tests drive (Debian's chromium), if it is missing.
# Playwright drives this system browser through `executable_path`; it never downloads a browser of its own.
set -euo pipefail

BROWSER="${HARDMO_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$BROWSER" ]; then
  echo "install_browser: $BROWSER is already installed ($("$BROWSER" --version 2>/dev/null || echo unknown version))"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install_browser: $BROWSER is missing and apt-get is not available; install Chromium by hand" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends chromium chromium-driver fonts-dejavu-core
echo "install_browser: installed $("$BROWSER" --version 2>/dev/null || echo chromium)"
