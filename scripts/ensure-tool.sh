#!/usr/bin/env bash
# Installs a tool a test needs from Debian's packages when it is missing:
#   bash scripts/ensure-tool.sh <command> <package>
# promtool and prometheus (package prometheus) for the metrics tests, chromium for the dashboard
# test, tmux for `corral monit`'s. Says what is missing and how to install it when it cannot.
set -euo pipefail
command_name="$1"
package="$2"
if command -v "$command_name" >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "this needs '$command_name': install it with 'sudo apt-get install -y $package'." >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "this needs '$command_name' (Debian's package '$package'), and this machine has no apt-get: install it by hand." >&2
  exit 1
fi
echo "Installing $package from Debian's packages (for $command_name)..." >&2
# One update per machine is enough for every tool (apt's lists stay).
if [ ! -f /tmp/.corral-apt-updated ]; then
  apt-get update -qq >/dev/null
  touch /tmp/.corral-apt-updated
fi
# A package such as prometheus would start a system server (:9090); tests run their own (no-service-start.sh).
. "$(dirname "$0")/no-service-start.sh"
install_package() {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$package" >/dev/null
}
without_service_start install_package
command -v "$command_name" >/dev/null 2>&1
