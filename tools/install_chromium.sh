#!/usr/bin/env bash
# Install Debian's headless-capable Chromium (used by tests/report to render the HTML report).
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  echo "chromium: already installed ($(chromium --version 2>/dev/null || echo unknown version))"
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "chromium: installing needs root: sudo apt-get install chromium" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 || {
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium >/dev/null
}
echo "chromium: $(chromium --version)"
