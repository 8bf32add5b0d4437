#!/usr/bin/env bash
# Benchmark (not a test): the seed-000 sweep (configs/doughnut-batch.yaml, 6 batch sizes) at reduced epochs,
# run by sweeplab with -j 1 and -j 2 and by the plain PyTorch peer (../shared/bench/peer_pytorch.py), in one
# invocation. Wall times are whole commands (start-up included), each the median of REPS runs.
#
#   bench/bench_jobs.sh [EPOCHS=20] [REPS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
epochs=${1:-20}
reps=${2:-3}
sweeplab=./build/sweeplab
peer=../shared/bench/peer_pytorch.py
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

seconds() {  # seconds COMMAND...: wall time of one run
  local start end
  start=$(date +%s.%N)
  "$@" > /dev/null 2>&1
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }'
}
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

measure() {  # measure NAME COMMAND...: the median over REPS runs, each in a fresh experiments folder
  local name=$1; shift
  local times=()
  for ((r = 0; r < reps; r++)); do
    rm -rf "$scratch/experiments"
    times+=("$(seconds "$@")")
  done
  median "${times[@]}"
}

echo "doughnut-batch, $epochs epochs, 6 batch sizes, median of $reps runs, $(nproc) cores" >&2
j1=$(measure j1 "$sweeplab" run doughnut-batch -o "epochs=$epochs" -j 1 -q --experiments "$scratch/experiments")
j2=$(measure j2 "$sweeplab" run doughnut-batch -o "epochs=$epochs" -j 2 -q --experiments "$scratch/experiments")
if [ -f "$peer" ] && /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  py=$(measure peer env OPENBLAS_NUM_THREADS=1 /usr/bin/python3 "$peer" sweep --threads 1 --epochs "$epochs")
else
  py=""
  echo "peer skipped: needs /usr/bin/python3 with torch (apt-get install python3-torch) and $peer" >&2
fi

printf '%-22s %10s\n' "run" "wall_s"
printf '%-22s %10s\n' "sweeplab -j 1" "$j1"
printf '%-22s %10s\n' "sweeplab -j 2" "$j2"
[ -n "$py" ] && printf '%-22s %10s\n' "pytorch peer" "$py"
awk -v a="$j1" -v b="$j2" 'BEGIN { printf "speed-up -j 2 over -j 1: %.2fx\n", a / b }'
if [ -n "$py" ]; then
  awk -v p="$py" -v a="$j1" -v b="$j2" 'BEGIN { printf "speed-up over the peer: -j 1 %.2fx, -j 2 %.2fx\n", p / a, p / b }'
fi
