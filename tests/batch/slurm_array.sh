#!/usr/bin/env bash
# slurm_array.sh — a real one-node Slurm in a temporary folder runs an `ingot batch` manifest
# as a 4-task job array (examples/slurm/ingot-batch.sbatch), then merges the shards.
#
#   tests/batch/slurm_array.sh INGOT_BIN MANIFEST OUT_DIR WORK_DIR
#
# Installs Debian's slurm-wlm and munge when missing (as root, with apt-get), starts munged,
# slurmctld and slurmd with a minimal slurm.conf under WORK_DIR, submits the array with
# `sbatch --wait`, runs `ingot batch --merge OUT_DIR`, and stops the daemons by PID on exit.
# Exit: 0 passed; 77 skipped (the packages cannot be installed; the reason on stdout);
# anything else failed (the daemons' logs are printed).
set -u
INGOT=$1 MANIFEST=$2 OUT=$3 T=$4
ROOT=$(cd "$(dirname "$0")/../.." && pwd)

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        echo "skip: slurm-wlm and munge are not installed and cannot be (not root, or no apt-get)"; exit 77
    fi
    if ! DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq slurm-wlm munge >"$T/apt.log" 2>&1; then
        echo "skip: apt-get install slurm-wlm munge failed: $(tail -n 1 "$T/apt.log")"; exit 77
    fi
fi

mkdir -p "$T/munge" "$T/state" "$T/spool" "$T/log"
chmod 700 "$T/munge"
pids=()
cleanup() {
    for f in "$T/slurmd.pid" "$T/slurmctld.pid" "$T/munge/munged.pid"; do
        [ -s "$f" ] && kill "$(cat "$f")" 2>/dev/null
    done
    sleep 1
    for f in "$T/slurmd.pid" "$T/slurmctld.pid" "$T/munge/munged.pid"; do
        [ -s "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null
    done
    return 0
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*"
    for l in "$T"/log/*.log "$T"/munge/munged.log; do [ -f "$l" ] && { echo "== $l"; tail -n 20 "$l"; }; done
    exit 1
}

# munge: a fresh key, its own socket
dd if=/dev/urandom of="$T/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$T/munge/munge.key"
munged --force --key-file="$T/munge/munge.key" --socket="$T/munge/munge.socket" \
    --pid-file="$T/munge/munged.pid" --log-file="$T/munge/munged.log" --seed-file="$T/munge/munge.seed" \
    || fail "munged did not start"

host=$(hostname -s)
port=$((20000 + RANDOM % 20000))
cat >"$T/slurm.conf" <<CONF
ClusterName=ingot-test
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
AuthInfo=socket=$T/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/log/slurmctld.log
SlurmdLogFile=$T/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MpiDefault=none
NodeName=$host CPUs=$(nproc) RealMemory=1000 State=UNKNOWN
PartitionName=batch Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
CONF
export SLURM_CONF=$T/slurm.conf
slurmctld -f "$SLURM_CONF" || fail "slurmctld did not start"
slurmd -f "$SLURM_CONF" || fail "slurmd did not start"
for _ in $(seq 60); do
    sinfo -h -o %t 2>/dev/null | grep -q 'idle\|mix\|alloc' && break
    sleep 0.5
done
sinfo -h -o %t 2>/dev/null | grep -q 'idle\|mix\|alloc' || fail "the node did not come up: $(sinfo 2>&1)"

cd "$ROOT"
INGOT=$INGOT sbatch --wait --array=0-3 --cpus-per-task=1 --mem=100 --time=10 -o "$T/log/task-%a.out" \
    examples/slurm/ingot-batch.sbatch "$MANIFEST" >"$T/log/sbatch.out" 2>&1
rc=$?
for f in "$T"/log/task-*.out; do echo "== $f"; cat "$f"; done
[ $rc = 0 ] || fail "sbatch --wait exited $rc: $(cat "$T/log/sbatch.out")"
n=$(ls "$OUT"/report.shard-*-of-4.json 2>/dev/null | wc -l)
[ "$n" = 4 ] || fail "$n of 4 shard reports in $OUT"
"$INGOT" batch --merge "$OUT" -q || fail "ingot batch --merge exited $?"
echo "ok: 4 array tasks, merged into $OUT/report.json"
