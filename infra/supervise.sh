#!/usr/bin/env bash
# Sourced by ./crm: keeps a process running under `./crm up`. A service that crashes or is
# killed is started again after a short pause (doubling up to 30 s while it keeps failing at
# start); TERM or INT stops the process and the loop. One loop per replica.

supervise() {  # supervise NAME LOGFILE COMMAND...
  local name=$1 logfile=$2 child='' pause=1 started rc
  shift 2
  set +e  # a child's failure is what this loop handles, not a reason to stop it
  trap '[ -n "$child" ] && kill -TERM "$child" 2>/dev/null; wait "$child" 2>/dev/null; exit 0' TERM INT
  while true; do
    started=$SECONDS
    "$@" >>"$logfile" 2>&1 &
    child=$!
    wait "$child"
    rc=$?
    child=''
    # A process that ran for a while gets the short pause again; one failing at start waits longer.
    if [ $((SECONDS - started)) -ge 30 ]; then pause=1; fi
    printf '\033[1m[crm]\033[0m %s exited (status %s); starting it again in %s s\n' "$name" "$rc" "$pause" >&2
    printf '[crm] %s exited (status %s); started again in %s s\n' "$name" "$rc" "$pause" >>"$logfile"
    sleep "$pause" &
    wait $!
    pause=$((pause * 2 > 30 ? 30 : pause * 2))
  done
}
