#!/usr/bin/env bash
# Installs wrk (the benchmark's load generator) from Debian's packages when it is missing.
set -euo pipefail
if command -v wrk >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "npm run bench needs wrk: install it with 'sudo apt-get install -y wrk'." >&2
  exit 1
fi
echo "Installing wrk from Debian's packages..." >&2
apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
command -v wrk >/dev/null
