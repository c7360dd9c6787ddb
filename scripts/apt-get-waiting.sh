# Sourced by setup.sh: apt_get_waiting ARGS... runs `apt-get ARGS...` as root (setup.sh's as_root), non-interactive,
# and waits for another apt or dpkg process to release the package locks instead of failing at once, for at most
# APT_LOCK_WAIT seconds (default 600). On a fresh machine unattended-upgrades often holds them for minutes.
# apt-get waits for dpkg's lock itself when told to (DPkg::Lock::Timeout), but not for the package lists' lock
# (update) nor the download cache's: those attempts are repeated every 2 s while apt-get says it could not lock.
# Uses setup.sh's say and as_root.
apt_get_waiting() {
  local wait_seconds=${APT_LOCK_WAIT:-600}
  local deadline=$((SECONDS + wait_seconds)) errors status told=0
  errors=$(mktemp)
  while true; do
    status=0
    as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout="$wait_seconds" "$@" 2>"$errors" || status=$?
    if [ "$status" -eq 0 ] || ! grep -q -e 'Could not get lock' -e 'Unable to lock' "$errors" || [ "$SECONDS" -ge "$deadline" ]; then
      cat "$errors" >&2
      rm -f "$errors"
      return "$status"
    fi
    if [ "$told" = 0 ]; then
      say "another apt or dpkg process holds the package lock ($(grep -m1 -e 'Could not get lock' -e 'Unable to lock' "$errors" | sed 's/^E: //')); waiting for it, at most ${wait_seconds} s" >&2
      told=1
    fi
    sleep 2
  done
}
