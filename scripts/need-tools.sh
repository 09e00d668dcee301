#!/usr/bin/env bash
# Says which of the named commands are missing and how to get them (`npm run setup:tools`), and
# fails; installs nothing. `npm run bench` runs it first: bash scripts/need-tools.sh wrk nginx
set -euo pipefail
missing=()
for command_name in "$@"; do
  command -v "$command_name" >/dev/null 2>&1 || { [ "$command_name" = nginx ] && [ -x /usr/sbin/nginx ]; } || missing+=("$command_name")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "this needs ${missing[*]}, not installed here: run 'npm run setup:tools' (as root, or it prints the apt-get command)" >&2
  exit 1
fi
