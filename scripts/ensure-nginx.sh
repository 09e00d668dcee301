#!/usr/bin/env bash
# Installs nginx (a benchmark peer: the balancer bench puts it in front of plain node processes
# with round-robin and least_conn upstreams) from Debian's packages when it is missing.
set -euo pipefail
if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "npm run bench needs nginx: install it with 'sudo apt-get install -y nginx-light' (or nginx)." >&2
  exit 1
fi
echo "Installing nginx from Debian's packages..." >&2
apt-get update -qq >/dev/null
# The package would start a system nginx on port 80; the bench runs its own (no-service-start.sh).
. "$(dirname "$0")/no-service-start.sh"
install_nginx() {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null
}
without_service_start install_nginx
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]
