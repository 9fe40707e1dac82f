#!/usr/bin/env bash
# Set up ./.venv for hardmo-hf on a fresh machine (Python 3.11, CPU).
#   scripts/install.sh          the library, CLI and demo
#   scripts/install.sh --test   the same plus the test tools and a headless Chromium for UI tests
# torch is installed first from its pinned CPU build and kept pinned (constraints.txt), so nothing
# pulls a CUDA build in.
set -euo pipefail
cd "$(dirname "$0")/.."

extras="demo"
if [[ "${1:-}" == "--test" ]]; then
  extras="test"
fi

python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check torch==2.13.0
.venv/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[${extras}]"
# An editable install is not byte-compiled, and where PYTHONDONTWRITEBYTECODE is set (this machine) every
# command would compile the package again (~40 ms of each build's serial start-up). Stale files are ignored.
.venv/bin/python -m compileall -q hardmo_hf

if [[ "$extras" == "test" ]]; then
  bash scripts/install_browser.sh
fi
echo "hardmo-hf installed in $(pwd)/.venv"
