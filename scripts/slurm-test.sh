#!/usr/bin/env bash
# A sweep on a real SLURM: installs SLURM and munge from Debian's packages (slurm-wlm, munge), writes
# a one-node configuration for this machine, starts munged, slurmctld and slurmd, and then
#
#  1. plans a small reproduction as a sweep, submits it with sbatch, waits, merges it, and checks
#     that the merged results equal the same sweep run with `sweep run --local` (bit for bit for
#     the metrics: same seeds, same thread count);
#  2. submits one longer job, cancels it with scancel while it trains, resubmits it, and checks that
#     it resumed from its last epoch (its resources say so) rather than starting again, and that
#     its result equals the same job run without interruption.
#
# Every daemon it started is stopped when it ends, however it ends. Needs root (apt-get and the
# daemons) and a built smallscale: SMALLSCALE=/path/to/smallscale, default target/debug/smallscale.
#
#   scripts/slurm-test.sh              # about two minutes once SLURM is installed
#   KEEP=1 scripts/slurm-test.sh       # keep the work directory to look at
set -euo pipefail
cd "$(dirname "$0")/.."
SMALLSCALE=$(realpath "${SMALLSCALE:-target/debug/smallscale}")
[ -x "$SMALLSCALE" ] || { echo "slurm-test: no smallscale at $SMALLSCALE: build it (cargo build -p smallscale-cli) or set SMALLSCALE" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "slurm-test: run as root (it installs packages and starts daemons)" >&2; exit 2; }

log() { echo "[slurm-test $(date +%T)] $*"; }

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  log "installing slurm-wlm and munge"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
  # Where the packages started their system daemons, stop them: this test runs its own.
  for service in slurmd slurmctld munge; do service "$service" stop >/dev/null 2>&1 || true; done
fi

WORK=$(mktemp -d /tmp/smallscale-slurm-test.XXXXXX)
CONF_DIR=$WORK/etc
RUN_DIR=$WORK/run
chmod 755 "$WORK" # munged runs as the munge user and reads its folder
mkdir -p "$CONF_DIR" "$RUN_DIR" "$WORK/spool/ctld" "$WORK/spool/d" "$WORK/munge"
export SLURM_CONF=$CONF_DIR/slurm.conf

cleanup() {
  local status=$?
  set +e
  scancel --quiet --full -u root >/dev/null 2>&1
  # Let the cancelled tasks end before their daemons go.
  for _ in $(seq 30); do
    squeue -h 2>/dev/null | grep -q . || break
    sleep 1
  done
  for pid_file in "$RUN_DIR/slurmd.pid" "$RUN_DIR/slurmctld.pid" "$WORK/munge/munged.pid"; do
    [ -f "$pid_file" ] && kill "$(cat "$pid_file")" 2>/dev/null
  done
  sleep 1
  for pid_file in "$RUN_DIR/slurmd.pid" "$RUN_DIR/slurmctld.pid" "$WORK/munge/munged.pid"; do
    [ -f "$pid_file" ] && kill -9 "$(cat "$pid_file")" 2>/dev/null
  done
  if [ $status -ne 0 ]; then
    echo "slurm-test FAILED; the daemons' logs:" >&2
    tail -n 30 "$WORK"/*.log "$WORK"/munge/*.log >&2 2>/dev/null
    for f in "$WORK"/*/logs/*.out; do [ -f "$f" ] && { echo "== $f" >&2; tail -n 20 "$f" >&2; }; done
  fi
  if [ -z "${KEEP:-}" ]; then rm -rf "$WORK"; else echo "kept $WORK"; fi
  exit $status
}
trap cleanup EXIT

# munge: a key of this test's own, a daemon of this test's own.
dd if=/dev/urandom bs=1 count=1024 of="$WORK/munge/munge.key" status=none
chmod 400 "$WORK/munge/munge.key"
chown -R munge:munge "$WORK/munge" 2>/dev/null || true
MUNGE_SOCKET=$WORK/munge/munge.socket
runuser -u munge -- munged --force --key-file="$WORK/munge/munge.key" --socket="$MUNGE_SOCKET" \
  --pid-file="$WORK/munge/munged.pid" --log-file="$WORK/munge/munged.log" --seed-file="$WORK/munge/seed" \
  || munged --force --key-file="$WORK/munge/munge.key" --socket="$MUNGE_SOCKET" \
  --pid-file="$WORK/munge/munged.pid" --log-file="$WORK/munge/munged.log" --seed-file="$WORK/munge/seed"

HOST=$(hostname -s)
CTLD_PORT=$((20000 + ($$ % 5000) * 2)) # two runs on one host do not share ports
CPUS=$(nproc)
MEM_MB=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 * 9 / 10 ))
cat > "$SLURM_CONF" <<EOF
ClusterName=smallscale-test
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCKET
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
KillWait=5
SlurmctldPidFile=$RUN_DIR/slurmctld.pid
SlurmdPidFile=$RUN_DIR/slurmd.pid
SlurmctldPort=$CTLD_PORT
SlurmdPort=$((CTLD_PORT + 1))
StateSaveLocation=$WORK/spool/ctld
SlurmdSpoolDir=$WORK/spool/d
SlurmctldLogFile=$WORK/slurmctld.log
SlurmdLogFile=$WORK/slurmd.log
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=test Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF

log "starting slurmctld and slurmd ($HOST: $CPUS CPUs, $MEM_MB MB)"
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
for _ in $(seq 60); do
  sinfo -h -o %T 2>/dev/null | grep -qx idle && break
  sleep 1
done
sinfo -h -o %T | grep -qx idle || { echo "slurm-test: the node did not come up" >&2; sinfo >&2; exit 1; }

wait_for() { # JOBID TIMEOUT_S
  local out
  for _ in $(seq "$2"); do
    if out=$(squeue -h -j "$1" 2>&1); then
      [ -z "$out" ] && return 0
    elif grep -q "Invalid job id" <<<"$out"; then
      return 0 # purged: it ended
    fi # otherwise slurmctld did not answer this time: ask again
    sleep 1
  done
  echo "slurm-test: job $1 did not end within $2 s" >&2
  squeue >&2
  return 1
}

SWEEP=(reproduce --quick --epochs 2 --bits 3 --width 4 --seeds 2)
# Two threads per job: the results must not depend on where a multi-threaded job ran.
PLAN=(--cpus-per-task 2 --mem 1G --time 10 --max-parallel 2 --quiet)

# 1. The sweep through SLURM, and the same sweep on this machine.
log "1. planning and submitting a sweep of 6 jobs"
"$SMALLSCALE" sweep plan "$WORK/on-slurm" "${PLAN[@]}" "${SWEEP[@]}"
JOB=$(cd "$WORK/on-slurm" && sbatch --parsable sweep.sbatch | cut -d';' -f1)
log "   array job $JOB submitted"
wait_for "$JOB" 600
"$SMALLSCALE" sweep status "$WORK/on-slurm"
"$SMALLSCALE" sweep status "$WORK/on-slurm" --json | python3 -c '
import json, sys
jobs = json.load(sys.stdin)["jobs"]
bad = [j["job"]["label"] for j in jobs if j["state"] != "done"]
ran_by_slurm = [j for j in jobs if j.get("owner") and j["owner"].get("slurm_task")]
assert not bad, f"not done: {bad}"
assert len(ran_by_slurm) == len(jobs), "every job ran in a SLURM task"
print(f"   every job done, each in its SLURM task ({len(jobs)} jobs)")'
"$SMALLSCALE" sweep merge "$WORK/on-slurm" --quiet
"$SMALLSCALE" sweep plan "$WORK/here" "${PLAN[@]}" "${SWEEP[@]}"
"$SMALLSCALE" sweep run "$WORK/here" --local --jobs 2 --quiet
"$SMALLSCALE" sweep merge "$WORK/here" --quiet
python3 - "$WORK/on-slurm/reproduce" "$WORK/here/reproduce" <<'EOF'
import json, sys
def metrics(d, seed):
    runs = json.load(open(f"{d}/seed-{seed}/results.json"))["results"]["runs"]
    out = []
    for r in runs:
        history = [{k: v for k, v in e.items() if k != "seconds"} for e in r["training"]["history"]]
        out.append((r["label"], r["test"], r["training"]["best_epoch"], history))
    return out
a, b = sys.argv[1], sys.argv[2]
for seed in (0, 1):
    assert metrics(a, seed) == metrics(b, seed), f"seed {seed}: SLURM and --local differ"
sa = json.load(open(f"{a}/summary.json"))["summary"]["per_bit"]
sb = json.load(open(f"{b}/summary.json"))["summary"]["per_bit"]
assert sa == sb, "the summaries differ"
print("   merged from SLURM == run with --local: every test accuracy, training history and the summary")
EOF

# 2. A job cancelled while it trains resumes when resubmitted.
log "2. cancelling a running job and resubmitting it"
LONG=(reproduce --bits 3 --width 8 --epochs 16 --patience 16)
"$SMALLSCALE" sweep plan "$WORK/cancel" "${PLAN[@]}" "${LONG[@]}"
STATE=$WORK/cancel/reproduce/runs/fp/state.json
JOB=$(cd "$WORK/cancel" && sbatch --parsable --array=0 sweep.sbatch | cut -d';' -f1)
epochs_done() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["epochs_done"])' "$STATE" 2>/dev/null || echo 0; }
for _ in $(seq 300); do
  [ "$(epochs_done)" -ge 2 ] && break
  sleep 0.5
done
[ "$(epochs_done)" -ge 2 ] || { echo "slurm-test: job $JOB did not finish 2 epochs" >&2; exit 1; }
scancel "$JOB"
wait_for "$JOB" 60
AT_CANCEL=$(epochs_done)
[ "$AT_CANCEL" -lt 16 ] || { echo "slurm-test: the job finished before it was cancelled; give it more epochs" >&2; exit 1; }
"$SMALLSCALE" sweep status "$WORK/cancel" | tee "$WORK/status.txt"
grep -q "0 done, 0 running, 0 failed, 3 pending" "$WORK/status.txt"
log "   cancelled after $AT_CANCEL epochs; resubmitting"
JOB=$(cd "$WORK/cancel" && sbatch --parsable --array=0 sweep.sbatch | cut -d';' -f1)
wait_for "$JOB" 600
python3 - "$WORK/cancel/reproduce/runs/fp" "$AT_CANCEL" <<'EOF'
import json, sys
run, at = sys.argv[1], int(sys.argv[2])
state = json.load(open(f"{run}/state.json"))
assert state["finished"] and state["epochs_done"] == 16, state["epochs_done"]
notes = [n for n in json.load(open(f"{run}/resources.json"))["notes"] if "resumed at epoch" in n]
assert notes, "the resources do not say that the run was resumed"
lines = open(f"{run}/metrics.jsonl").read().splitlines()
assert len(lines) == 16, f"{len(lines)} epoch records: an epoch was trained twice"
print(f"   resumed after epoch {at}, not restarted (16 epoch records); its resources: {notes[0]}")
EOF
"$SMALLSCALE" sweep plan "$WORK/uninterrupted" "${PLAN[@]}" "${LONG[@]}"
"$SMALLSCALE" sweep run "$WORK/uninterrupted" --index 0 --quiet
python3 - "$WORK/cancel" "$WORK/uninterrupted" <<'EOF'
import glob, json, sys
def done(d):
    [path] = glob.glob(f"{d}/jobs/*/done.json")
    v = json.load(open(path))
    v.pop("seconds")
    return v
a, b = done(sys.argv[1]), done(sys.argv[2])
assert a == b, f"{a} != {b}"
print(f"   the resumed job's result equals the uninterrupted one: {a}")
EOF
log "passed"
