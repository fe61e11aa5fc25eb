#!/bin/bash
# A sweep as N GNU parallel jobs on one or more machines (--sshlogin), then the merge:
#   deploy/parallel.sh examples/sweeps/guest-accuracy.yaml 4 results
set -euo pipefail
SWEEP=${1:?sweep file}; N=${2:-4}; RESULTS=${3:-results}; VPMU=${VPMU:-npx vpmu}
mkdir -p "$RESULTS"
seq 0 $((N - 1)) | parallel --halt now,fail=1 \
  "$VPMU sweep $SWEEP --shard {}/$N --jobs 1 --resume -o $RESULTS/part-{}.jsonl"
$VPMU sweep merge "$RESULTS/sweep.jsonl" $(seq -f "$RESULTS/part-%g.jsonl" 0 $((N - 1)))
