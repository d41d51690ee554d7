#!/usr/bin/env bash
# A one-node Slurm cluster on 127.0.0.1, for the cluster tests, CI and trying
# `snakemake --profile slurm` on a workstation.
#
#   tools/slurm_local.sh install   # Debian slurm-wlm + munge, only when missing (needs root)
#   tools/slurm_local.sh start     # munged, slurmctld, slurmd as background daemons
#   tools/slurm_local.sh status    # daemons alive? (exit 0) + sinfo
#   tools/slurm_local.sh env       # prints `export SLURM_CONF=...` for this cluster
#   tools/slurm_local.sh stop      # stops the daemons by their recorded pids
#
# Everything (slurm.conf, munge key and socket, spool, logs, pid files) lives in
# the state dir, ${PATHFM_SLURM_DIR:-/tmp/pathfm-slurm-$UID}. As root, `start`
# also copies slurm.conf to /etc/slurm/slurm.conf (unless a site's own file is
# there) and `stop` removes it again: Snakemake's Slurm jobstep plugin drops
# SLURM_CONF from the environment of the `srun` it runs inside each job, so jobs
# only find the cluster at the compiled-in path. Removing it on stop matters: with
# the plugin installed every `snakemake` start runs `scontrol show config`, which
# takes ~10 s when a config names a controller that is down, but fails at once
# when there is no config. A stopped local cluster thus costs nothing.
#
# Ports default to 6817/6818 (Slurm's own); set PATHFM_SLURM_PORT to move both.
set -euo pipefail

STATE=${PATHFM_SLURM_DIR:-/tmp/pathfm-slurm-$(id -u)}
PORT=${PATHFM_SLURM_PORT:-6817}
CONF=$STATE/slurm.conf
SYS_CONF=${PATHFM_SLURM_SYS_CONF:-/etc/slurm/slurm.conf}
MARK="# Written by tools/slurm_local.sh"
NODE=localhost
DAEMONS=(slurmd slurmctld munged) # stop order: the reverse of start

log() { printf 'slurm_local: %s\n' "$*" >&2; }

have_tools() {
  command -v slurmctld >/dev/null && command -v slurmd >/dev/null &&
    command -v munged >/dev/null && command -v sbatch >/dev/null
}

cmd_install() {
  if have_tools; then
    log "slurm-wlm and munge already installed"
    return 0
  fi
  if [[ $(id -u) -ne 0 ]]; then
    log "installing needs root: sudo apt-get install slurm-wlm munge"
    return 1
  fi
  # The package lists may be empty on a fresh image; refresh them once.
  if ! apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      slurm-wlm munge
  fi
  have_tools
}

pid_alive() { # pid_alive NAME: the daemon recorded under NAME runs
  local f=$STATE/$1.pid
  [[ -s $f ]] && kill -0 "$(cat "$f")" 2>/dev/null
}

write_conf() {
  local cpus mem_mb def_mem user
  cpus=$(nproc)
  # Leave a fifth of the memory to the OS and the daemons; MB as Slurm counts them.
  mem_mb=$(awk '/MemTotal/ {printf "%d", $2 / 1024 * 0.8}' /proc/meminfo)
  # Without DefMemPerCPU a job without --mem takes the whole node's memory and jobs
  # run one at a time.
  def_mem=$((mem_mb / cpus))
  user=$(id -un)
  cat >"$CONF" <<EOF
$MARK: one node on 127.0.0.1, no accounting database.
ClusterName=pathfm-local
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=$user
SlurmdUser=$user
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$STATE/munge.sock
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
# No cgroups in containers: track processes through /proc, bind no tasks.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
# No slurmdbd, so no sacct: Snakemake's Slurm plugin must poll squeue, and squeue
# only remembers finished jobs for MinJobAge seconds. The plugin falls back to sacct
# when MinJobAge < 3 x its 40 s poll interval, so keep it well above 120 s.
MinJobAge=600
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=$def_mem
SchedulerType=sched/backfill
MailProg=/bin/true
ReturnToService=2
# Preempted or requeued jobs may run again (sbatch --requeue, scontrol requeue).
JobRequeue=1
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=local Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
}

cmd_start() {
  have_tools || { log "Slurm is not installed: run '$0 install' first"; return 1; }
  mkdir -p "$STATE/ctld" "$STATE/spool"
  chmod 700 "$STATE"
  if pid_alive slurmctld && pid_alive slurmd && pid_alive munged; then
    log "already running (state in $STATE)"
    return 0
  fi
  cmd_stop >/dev/null 2>&1 || true
  write_conf
  if [[ ! -e $SYS_CONF ]] || grep -qF "$MARK" "$SYS_CONF"; then
    if mkdir -p "$(dirname "$SYS_CONF")" 2>/dev/null && cp "$CONF" "$SYS_CONF" 2>/dev/null; then
      log "installed $SYS_CONF (removed again by stop)"
    else
      log "cannot write $SYS_CONF: jobs' nested srun will not find this cluster"
    fi
  else
    log "$SYS_CONF belongs to a site cluster: left alone; use SLURM_CONF=$CONF"
  fi
  if [[ ! -s $STATE/munge.key ]]; then
    # 1 KiB of randomness, as mungekey writes; private to this cluster.
    head -c 1024 /dev/urandom >"$STATE/munge.key"
    chmod 600 "$STATE/munge.key"
  fi
  # --force: munged refuses a socket under world-writable /tmp otherwise.
  munged --force --socket="$STATE/munge.sock" --key-file="$STATE/munge.key" \
    --pid-file="$STATE/munged.pid" --log-file="$STATE/munged.log" \
    --seed-file="$STATE/munged.seed"
  export SLURM_CONF=$CONF
  # -c: a clean start, forgetting jobs of a previous run of this state dir.
  slurmctld -c -f "$CONF"
  slurmd -N "$NODE" -f "$CONF"
  local i
  for i in $(seq 1 100); do
    if sinfo -h -N -o '%t' 2>/dev/null | grep -qE '^(idle|mix|alloc)'; then
      log "running: SLURM_CONF=$CONF ($(nproc) CPUs; logs in $STATE)"
      return 0
    fi
    sleep 0.1
  done
  log "the node did not come up in 10 s; see $STATE/slurmctld.log and slurmd.log"
  sinfo -N -l >&2 || true
  return 1
}

cmd_stop() {
  local name pid i
  for name in "${DAEMONS[@]}"; do
    pid_alive "$name" || continue
    pid=$(cat "$STATE/$name.pid")
    kill "$pid"
    for i in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    log "stopped $name ($pid)"
  done
  rm -f "$STATE"/{slurmd,slurmctld,munged}.pid
  if [[ -f $SYS_CONF ]] && grep -qF "$MARK" "$SYS_CONF"; then
    rm -f "$SYS_CONF"
  fi
}

cmd_status() {
  local name ok=0
  for name in munged slurmctld slurmd; do
    if pid_alive "$name"; then
      echo "$name: running ($(cat "$STATE/$name.pid"))"
    else
      echo "$name: stopped"
      ok=1
    fi
  done
  if [[ $ok -eq 0 ]]; then
    SLURM_CONF=$CONF sinfo -N -l
  fi
  return $ok
}

cmd_env() { echo "export SLURM_CONF=$CONF"; }

case ${1:-} in
  install | start | stop | status | env) "cmd_$1" ;;
  *)
    echo "usage: $0 {install|start|stop|status|env}" >&2
    exit 2
    ;;
esac
