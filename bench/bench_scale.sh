#!/usr/bin/env bash
# Benchmark (not a test): sweeps of many tiny trials, as whole `sweeplab` commands. What a run costs per trial
# beyond its training, the disk a trial takes, and what reading the sweep back costs (time and peak memory).
#
#   BUILD=./build bench/bench_scale.sh [--trials 10000,100000] [--jobs 2] [--reps 3] [--build DIR] [--keep DIR]
#
# For each N of --trials: `sweeplab run doughnut-batch -o batch_size=64 -o epochs=1 -o seeds=N -j JOBS -q` into a
# fresh experiments folder, then the same with -o checkpoint.keep_final=false into another. Printed per N:
#   run             wall time and peak memory of the run; per trial: wall / N, and the bookkeeping: the run's wall
#                   time less that of the same run with --no-save (trains the same groups in the same workers,
#                   writes nothing), times jobs, over N: what a trial's files, locks and index rows cost a core.
#   disk            du --apparent-size and du (4 KB blocks) per trial, with and without final checkpoints.
#   status, export, best, report (every figure), a run with nothing left to do: each as a whole command on the
#                   sweep of N trials, the median of --reps runs, with its peak memory (/usr/bin/time %M) and
#                   that memory per trial.
# The doughnut task is configs/doughnut-batch.yaml (2000 points, 1600 to train: 25 steps of batch size 64).
# --keep DIR keeps the experiments folders there (they are large: ~50 KB a trial with final checkpoints).
set -euo pipefail
self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
cd "$(dirname "$0")/.."
build=${BUILD:-./build}
sizes=10000,100000
jobs=2
reps=3
keep=""
while [ $# -gt 0 ]; do
  case $1 in
    --trials) sizes=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --keep) keep=$2; shift 2 ;;
    -h|--help) sed -n 2,19p "$self"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
sweeplab=$(cd "$build" && pwd)/sweeplab
[ -x "$sweeplab" ] || { echo "missing $sweeplab: build it (cmake --build $build --target sweeplab sweeplab-trainer)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (apt-get install -y time)" >&2; exit 1; }
scratch=${keep:-$(mktemp -d)}
mkdir -p "$scratch"
[ -n "$keep" ] || trap 'rm -rf "$scratch"' EXIT
configs=$(pwd)/configs

# timed OUT COMMAND...: runs it, output to /dev/null; prints "SECONDS PEAK_KB"
timed() {
  /usr/bin/time -f "%e %M" -o "$scratch/time.txt" "$@" > /dev/null 2> "$scratch/err.txt" || {
    echo "failed: $*" >&2; cat "$scratch/err.txt" >&2; exit 1; }
  cat "$scratch/time.txt"
}
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "# $(date -u +%FT%TZ) $(uname -n): $(nproc) cores; sweeplab $("$sweeplab" --version | head -1)"
IFS=, read -r -a ns <<< "$sizes"
for n in "${ns[@]}"; do
  overrides=(-o batch_size=64 -o epochs=1 -o seeds="$n")
  for variant in kept none; do
    experiments=$scratch/experiments-$n-$variant
    rm -rf "$experiments"
    extra=()
    [ "$variant" = none ] && extra=(-o checkpoint.keep_final=false)
    read -r wall peak < <(timed "$sweeplab" --configs "$configs" --experiments "$experiments" --max-trials "$n" \
                             run doughnut-batch "${overrides[@]}" "${extra[@]}" -j "$jobs" -q)
    trials=$experiments/doughnut-batch/trials
    apparent=$(du -s --apparent-size -B1 "$trials" | cut -f1)
    blocks=$(du -s -B1 "$trials" | cut -f1)
    label=$([ "$variant" = kept ] && echo "with final checkpoints" || echo "checkpoint.keep_final=false")
    if [ "$variant" = kept ]; then
      read -r unsaved _ < <(timed "$sweeplab" --configs "$configs" --experiments "$scratch/none" --max-trials "$n" \
                               run doughnut-batch "${overrides[@]}" -j "$jobs" -q --no-save)
    fi
    awk -v n="$n" -v j="$jobs" -v w="$wall" -v p="$peak" -v u="$unsaved" -v a="$apparent" -v b="$blocks" -v l="$label" 'BEGIN {
      printf "N=%d run (-j %d, %s): %.1f s (--no-save %.1f s), peak %.0f MB; per trial %.3f ms, of it bookkeeping %.3f ms of a core\n",
             n, j, l, w, u, p / 1024, w / n * 1000, (w - u) * j / n * 1000
      printf "N=%d disk per trial (%s): %.1f KB (apparent %.1f KB)\n", n, l, b / n / 1024, a / n / 1024 }'
  done
  experiments=$scratch/experiments-$n-kept
  for command in status export best report noop-run; do
    case $command in
      report) args=(report doughnut-batch "${overrides[@]}") ;;
      noop-run) args=(run doughnut-batch "${overrides[@]}" -j "$jobs" -q) ;;
      *) args=("$command" doughnut-batch "${overrides[@]}") ;;
    esac
    walls=(); peaks=()
    for ((r = 0; r < reps; r++)); do
      read -r wall peak < <(timed "$sweeplab" --configs "$configs" --experiments "$experiments" --max-trials "$n" "${args[@]}")
      walls+=("$wall"); peaks+=("$peak")
    done
    awk -v n="$n" -v c="$command" -v w="$(median "${walls[@]}")" -v p="$(median "${peaks[@]}")" 'BEGIN {
      printf "N=%d %-8s %.3f s, peak %.1f MB (%.2f KB a trial)\n", n, c, w, p / 1024, p / n }'
  done
  [ -n "$keep" ] || rm -rf "$scratch/experiments-$n-kept" "$scratch/experiments-$n-none"
done
