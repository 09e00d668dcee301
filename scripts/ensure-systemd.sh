#!/usr/bin/env bash
# Installs systemd's tools (systemd-analyze, for the test that verifies the unit corral writes)
# from Debian's packages when they are missing.
set -euo pipefail
if command -v systemd-analyze >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "the systemd unit test needs systemd-analyze: install it with 'sudo apt-get install -y systemd'." >&2
  exit 1
fi
echo "Installing systemd's tools from Debian's packages..." >&2
apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd >/dev/null
command -v systemd-analyze >/dev/null
