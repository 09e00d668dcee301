#!/usr/bin/env bash
# npm run setup:tools: installs, once, what the tests and the bench drive beyond `npm install`,
# so that `npm test` itself installs nothing (a test whose tool is missing fails and names this
# command). CI (.ci/run) runs it first.
#   - Debian's packages, through apt-get (as root): prometheus (promtool, prometheus: the metrics
#     tests), chromium (the dashboard test), tmux (`corral monit`'s), systemd (systemd-analyze,
#     systemd-notify: the unit and Type=notify tests), python3-minimal (the notify test's socket),
#     wrk and nginx-light (the bench);
#   - Node.js 20.18.3 into .cache/ (the test of corral's error on an unsupported Node).
# Without root it installs nothing from Debian and prints the one apt-get command to run; it
# fails then unless only the bench's tools are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# command:package, for each tool: the tests', then the bench's.
TEST_TOOLS=(
  promtool:prometheus prometheus:prometheus chromium:chromium tmux:tmux
  systemd-analyze:systemd systemd-notify:systemd python3:python3-minimal
)
BENCH_TOOLS=(wrk:wrk nginx:nginx-light)
TOOLS=("${TEST_TOOLS[@]}" "${BENCH_TOOLS[@]}")
has() {
  command -v "$1" >/dev/null 2>&1 || { [ "$1" = nginx ] && [ -x /usr/sbin/nginx ]; }
}
# The Debian packages of those of `tools` (command:package pairs) that are missing, once each.
missing_packages() {
  local packages=() tool
  for tool in "$@"; do
    if ! has "${tool%%:*}" && [[ " ${packages[*]-} " != *" ${tool#*:} "* ]]; then packages+=("${tool#*:}"); fi
  done
  echo "${packages[*]-}"
}

# Needs neither root nor apt-get.
node scripts/ensure-node.js 20.18.3 >/dev/null

read -r -a missing <<< "$(missing_packages "${TOOLS[@]}")"
if [ "${#missing[@]}" -gt 0 ]; then
  read -r -a missing_for_tests <<< "$(missing_packages "${TEST_TOOLS[@]}")"
  if ! command -v apt-get >/dev/null 2>&1 || [ "$(id -u)" -ne 0 ]; then
    if ! command -v apt-get >/dev/null 2>&1; then
      echo "setup:tools: this machine has no apt-get; install these Debian packages' tools by hand: ${missing[*]}" >&2
    else
      echo "setup:tools: installing Debian's packages needs root. Run: sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    fi
    # Only the bench's tools missing: the tests can run.
    if [ "${#missing_for_tests[@]}" -eq 0 ]; then
      echo "setup:tools: the tests have every tool they need; npm run bench needs ${missing[*]}" >&2
      exit 0
    fi
    exit 1
  fi
  echo "setup:tools: installing ${missing[*]} from Debian's packages..." >&2
  apt-get update -qq >/dev/null
  # A package such as prometheus or nginx would start a system server (:9090, :80); the tests
  # and the bench run their own (no-service-start.sh).
  . scripts/no-service-start.sh
  install_packages() {
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  }
  if ! without_service_start install_packages "${missing[@]}"; then
    # Some Debian releases have no nginx-light: nginx is the same server.
    without_service_start install_packages "${missing[@]/nginx-light/nginx}"
  fi
fi

still=()
for tool in "${TOOLS[@]}"; do has "${tool%%:*}" || still+=("${tool%%:*}"); done
if [ "${#still[@]}" -gt 0 ]; then
  echo "setup:tools: still missing after the install: ${still[*]}" >&2
  exit 1
fi
echo "setup:tools: every tool is present (${#TOOLS[@]} commands, Node.js 20.18.3 in .cache/)"
