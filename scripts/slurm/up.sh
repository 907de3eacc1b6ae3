#!/usr/bin/env bash
# Starts a one-node Slurm cluster on 127.0.0.1 for the end-to-end tests and benchmarks (Debian 12, root):
# munged and slurmctld/slurmd from the Debian packages slurm-wlm and munge, all state under $VF_SLURM_DIR
# (default /tmp/voxelflow-slurm); the host's /etc/slurm is only bind-mounted over inside slurmd's own mount
# namespace. Prints `export SLURM_CONF=…` on success; scripts/slurm/down.sh stops what this started.
# Exit code 3 when the packages cannot be installed or this is not root (callers skip with that message).
set -euo pipefail
base=${VF_SLURM_DIR:-/tmp/voxelflow-slurm}

if [ "$(id -u)" != 0 ]; then echo "slurm: needs root (daemons, munge key owner, bind mount)" >&2; exit 3; fi
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
  if ! { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null 2>&1 \
      || { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null 2>&1; }; }; then
    echo "slurm: cannot install the Debian packages slurm-wlm and munge" >&2; exit 3
  fi
fi

mkdir -p "$base"/{etc,state,spool,log,run} "$base/munge/key" "$base/munge/run"
# munged refuses a key directory others can read and a socket directory they cannot enter.
[ -s "$base/munge/key/munge.key" ] || head -c 1024 /dev/urandom > "$base/munge/key/munge.key"
chown -R munge:munge "$base/munge"
chmod 755 "$base/munge" "$base/munge/run"; chmod 700 "$base/munge/key"; chmod 400 "$base/munge/key/munge.key"
socket="$base/munge/run/munge.socket"
if ! { [ -s "$base/munge/run/munged.pid" ] && kill -0 "$(cat "$base/munge/run/munged.pid")" 2>/dev/null; }; then
  rm -f "$socket" "$socket.lock"
  runuser -u munge -- /usr/sbin/munged --key-file="$base/munge/key/munge.key" --socket="$socket" \
    --pid-file="$base/munge/run/munged.pid" --log-file="$base/munge/run/munged.log" --seed-file="$base/munge/run/munged.seed"
fi
for _ in $(seq 50); do [ -S "$socket" ] && break; sleep 0.1; done
munge -S "$socket" -n | unmunge -S "$socket" >/dev/null || { echo "slurm: munge does not work" >&2; exit 1; }

cpus=$(nproc)
mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
cat > "$base/etc/slurm.conf" <<CONF
ClusterName=voxelflow-ci
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=16817
SlurmdPort=16818
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket
# bind to 127.0.0.1, not every address
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
StateSaveLocation=$base/state
SlurmdSpoolDir=$base/spool
SlurmctldPidFile=$base/run/slurmctld.pid
SlurmdPidFile=$base/run/slurmd.pid
SlurmctldLogFile=$base/log/slurmctld.log
SlurmdLogFile=$base/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MaxArraySize=100001
MinJobAge=600
DefMemPerCPU=2048
NodeName=localhost NodeAddr=127.0.0.1 NodeHostname=localhost CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=ci Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
# slurmd of Slurm 22.05 loads a cgroup plugin whatever it is told; nothing is constrained.
printf 'CgroupPlugin=cgroup/v1\nCgroupAutomount=no\nConstrainCores=no\nConstrainRAMSpace=no\n' > "$base/etc/cgroup.conf"
export SLURM_CONF="$base/etc/slurm.conf"

pidalive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
pidalive "$base/run/slurmctld.pid" || slurmctld -f "$SLURM_CONF"
mkdir -p /etc/slurm
pidalive "$base/run/slurmd.pid" || unshare -m --propagation private sh -c \
  "mount --bind '$base/etc' /etc/slurm && exec slurmd -f '$SLURM_CONF' -N localhost"
state=""
for _ in $(seq 150); do
  state=$(sinfo -h -N -o '%t' 2>/dev/null || true)
  [ "$state" = idle ] || [ "$state" = mix ] || [ "$state" = alloc ] && break
  sleep 0.2
done
if [ "$state" != idle ] && [ "$state" != mix ] && [ "$state" != alloc ]; then
  echo "slurm: the node did not become ready (state '$state'; logs in $base/log)" >&2; exit 1
fi
echo "export SLURM_CONF=$SLURM_CONF"
