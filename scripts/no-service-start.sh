# Sourced by the tool installers: runs a command with Debian's policy-rc.d saying 101 ("action
# forbidden"), so that a package installed meanwhile does not start its service (nginx on :80,
# prometheus on :9090). The tests and the bench run their own servers, and stopping a started one
# afterwards would mean ending processes by name, possibly other users'. An existing policy-rc.d
# is left as it was.
without_service_start() {
  local policy=/usr/sbin/policy-rc.d
  if [ -e "$policy" ]; then
    "$@"
    return
  fi
  printf '#!/bin/sh\nexit 101\n' > "$policy"
  chmod 755 "$policy"
  local status=0
  "$@" || status=$?
  rm -f "$policy"
  return "$status"
}
