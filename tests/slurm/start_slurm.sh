#!/usr/bin/env bash
# Start a single-node Slurm cluster for tests (see /work/shared/SLURM.md): munged, slurmctld and
# slurmd, all configured and stateful under one directory <dir>, then wait until the node is idle.
#
#   tests/slurm/start_slurm.sh <dir>      # then: export SLURM_CONF=<dir>/slurm.conf
#   tests/slurm/stop_slurm.sh <dir>
#
# Needs root (the daemons run as root and munge). Installs slurm-wlm and munge with apt-get when
# slurmctld is missing. Ports are chosen free at start, so several test sessions can run side by
# side. Daemons left over in <dir> by an earlier, killed session are stopped first, and the
# controller starts with its saved state cleared (-c), so starting again on the same <dir> works.
# Exit codes: 0 cluster idle; 3 cannot run here (not root, or no apt-get to install with);
# 1 any other failure (the daemon logs under <dir>/log are printed).
set -euo pipefail

if [ $# -ne 1 ]; then echo "usage: $0 <dir>" >&2; exit 2; fi
here="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$1"
D="$(cd "$1" && pwd)"

if [ "$(id -u)" -ne 0 ]; then
  echo "start_slurm.sh: must run as root to start slurmctld/slurmd/munged" >&2; exit 3
fi
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  if ! command -v apt-get >/dev/null; then
    echo "start_slurm.sh: slurmctld/munged missing and no apt-get to install slurm-wlm munge" >&2
    exit 3
  fi
  echo "start_slurm.sh: installing slurm-wlm munge" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >&2
fi
if [ ! -s /etc/munge/munge.key ]; then  # normally created by the munge package
  install -d -o munge -g munge -m 700 /etc/munge
  dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
  chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
fi

"$here/stop_slurm.sh" "$D"  # leftovers of an earlier session in the same directory

# The munge user must reach its socket directory: the parents of $D must be traversable.
chmod 755 "$D"
mkdir -p "$D/munge" "$D/spool/ctld" "$D/spool/d" "$D/log"
chown munge:munge "$D/munge"

host="$(hostname -s)"
cpus="$(nproc)"
mem_mb=$(( $(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024 * 8 / 10 ))
read -r ctld_port slurmd_port < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))')

cat > "$D/slurm.conf" <<CONF
ClusterName=test
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$D/munge/munge.socket.2
StateSaveLocation=$D/spool/ctld
SlurmdSpoolDir=$D/spool/d
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
SchedulerType=sched/backfill
# Backfill every second (default 30) so array tasks queued behind busy CPUs start promptly.
SchedulerParameters=bf_interval=1
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=300
KillWait=5
Waittime=0
# One GPU in name only (gres.conf maps it to /dev/null): jobs that ask for --gres=gpu:1 on
# partition gpu, as conf/slurm.conf's --gpu does, are accepted and run, on the CPU.
GresTypes=gpu
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb Gres=gpu:1 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
PartitionName=gpu Nodes=ALL MaxTime=INFINITE State=UP OverSubscribe=NO
CONF
cat > "$D/gres.conf" <<CONF
AutoDetect=off
NodeName=$host Name=gpu File=/dev/null
CONF
export SLURM_CONF="$D/slurm.conf"

fail() {
  echo "start_slurm.sh: $*" >&2
  tail -n 20 "$D"/log/*.log "$D/munge/munged.log" >&2 2>/dev/null || true
  "$here/stop_slurm.sh" "$D"
  exit 1
}

runuser -u munge -- /usr/sbin/munged --force --socket="$D/munge/munge.socket.2" \
  --pid-file="$D/munge/munged.pid" --log-file="$D/munge/munged.log" \
  --seed-file="$D/munge/munged.seed" --key-file=/etc/munge/munge.key || fail "munged did not start"
/usr/sbin/slurmctld -c -f "$SLURM_CONF" || fail "slurmctld did not start"
/usr/sbin/slurmd -c -f "$SLURM_CONF" || fail "slurmd did not start"

for _ in $(seq 300); do
  if [ "$(sinfo -h -N -o %t 2>/dev/null | sort -u)" = idle ]; then  # one line per partition
    echo "start_slurm.sh: node $host idle ($cpus CPUs, ${mem_mb} MB); SLURM_CONF=$SLURM_CONF" >&2
    exit 0
  fi
  sleep 0.1
done
fail "node did not become idle within 30 s: $(sinfo -h -N -o '%t %E' 2>&1)"
