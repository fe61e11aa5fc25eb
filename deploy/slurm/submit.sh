#!/bin/bash
# Submits the array, then the merge with a dependency on every task of it.
set -euo pipefail
cd "$(dirname "$0")/../.."
jobid=$(sbatch --parsable deploy/slurm/sweep.sbatch)
sbatch --dependency="afterok:${jobid%%;*}" deploy/slurm/merge.sbatch
