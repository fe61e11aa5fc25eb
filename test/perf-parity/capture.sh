#!/usr/bin/env bash
# Captures the real perf tool's `perf stat` output for fixed counts (see fake-counts.c):
# for each cases/NAME.case (line 1: perf stat arguments; then the spec lines, one per event, or
# one per event of each CPU for a case whose arguments hold `-C A-B`), writes
# captured/NAME.txt (text) and captured/NAME.csv (-x,), and captured/COMMANDS.txt with the
# exact commands. Needs perf 6.1 (Debian linux-perf), a C compiler and the en_US.UTF-8
# locale (perf groups digits by the locale; vpmu renders as perf under en_US).
# Usage: test/perf-parity/capture.sh   (rewrites captured/; review the diff, then commit)
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cc -O2 -shared -fPIC -Wall -o "$tmp/fake-counts.so" fake-counts.c -ldl
mkdir -p captured
{
  echo "# $(perf --version), LC_ALL=en_US.UTF-8, shim: test/perf-parity/fake-counts.c"
  echo "# env for every command: VPMU_FAKE_T0_NS=1000000000000 VPMU_FAKE_ELAPSED_NS=100000000"
} > captured/COMMANDS.txt
for c in cases/*.case; do
  name=$(basename "$c" .case)
  args=$(head -n 1 "$c")
  tail -n +2 "$c" > "$tmp/spec"
  for mode in txt csv; do
    extra=""
    [ "$mode" = csv ] && extra="-x,"
    cmd="perf stat $extra $args true"
    per_cpu=""
    case "$args" in *"-C "*-*) per_cpu=1 ;; esac
    env ${per_cpu:+VPMU_FAKE_PER_CPU=1} LC_ALL=en_US.UTF-8 VPMU_FAKE_SPEC="$tmp/spec" VPMU_FAKE_T0_NS=1000000000000 \
      VPMU_FAKE_ELAPSED_NS=100000000 LD_PRELOAD="$tmp/fake-counts.so" \
      bash -c "$cmd" 2> "captured/$name.$mode" > /dev/null || true
    echo "$name.$mode: $cmd   (spec: cases/$name.case)" >> captured/COMMANDS.txt
  done
done
