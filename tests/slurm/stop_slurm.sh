#!/usr/bin/env bash
# Stop the test cluster started by start_slurm.sh <dir>: kill slurmd, slurmctld and munged by the
# PIDs in their pid files under <dir>, wait for them to exit, and remove the pid files. A pid file
# whose process is gone or is not that daemon (a PID reused after a reboot) is just removed.
set -uo pipefail

if [ $# -ne 1 ]; then echo "usage: $0 <dir>" >&2; exit 2; fi
D="$1"

stop() {  # <pid file> <process name>
  local pidfile=$1 name=$2 pid
  [ -f "$pidfile" ] || return 0
  pid="$(cat "$pidfile")"
  if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ]; then
    kill "$pid" 2>/dev/null
    for _ in $(seq 100); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
    if [ -d "/proc/$pid" ]; then kill -9 "$pid" 2>/dev/null; fi
  fi
  rm -f "$pidfile"
}

stop "$D/slurmd.pid" slurmd
stop "$D/slurmctld.pid" slurmctld
stop "$D/munge/munged.pid" munged
exit 0
