#!/usr/bin/env bash
# Benchmark (not a test): whole `sweeplab` commands (start-up included) beside the plain PyTorch peer
# (../shared/bench/peer_pytorch.py), all measured in this one invocation. bench/README.md explains the figures.
#
#   BUILD=./build bench/bench_jobs.sh [--epochs 100] [--grid-epochs EPOCHS] [--reps 3] [--peer-reps 1]
#                                     [--startup-reps 11] [--parts a,b,c,d] [--no-peer] [--no-j2] [--build DIR]
#                                     [--engine-args "--reps 5 --min-seconds 0.5 --fused-steps 300"]
#
#   (a) the doughnut-batch sweep (configs/doughnut-batch.yaml: 6 batch sizes 2..64, 1 seed), --epochs epochs,
#       `sweeplab run -j 1` (and -j 2 for reference) vs `peer_pytorch.py sweep --threads 1 --epochs N`, both
#       whole commands; ratio peer / sweeplab. Also prints epochs to test_acc >= 0.95 per batch size.
#   (b) a grid of 64 trials at batch size 2 (8 learning rates x 8 seeds), --grid-epochs epochs, `-j 1`:
#       us per trial-step = whole command wall time / (sum of the trials' steps); beside the engine in-process
#       ($BUILD/bench/bench_engine --only grid) and the peer's per-step time at batch size 2
#       (`peer_pytorch.py steps --bs 2`, measured inside bench_engine in this run).
#   (c) us per trial-step at batch sizes 2, 8, 64, 512 for K = 1 and 64, in-process, beside peer_pytorch.py
#       steps and peer_fused.py: `$BUILD/bench/bench_engine --only sizes`. --engine-args go to both
#       bench_engine calls, (b) and (c), e.g. "--peer-epochs 8" for a steadier peer per-step median.
#   (d) start-up: `sweeplab --help`, `sweeplab --version`, `sweeplab list`, `sweeplab show doughnut-batch --trials`, `/bin/true`
#       (the timer's floor), `sweeplab-trainer --check-cuda` (loads LibTorch),
#       and `python3 -c 'import torch'` (the peer's start-up), each the median of --startup-reps runs.
# Sweeplab wall times are medians of --reps runs, each in a fresh experiments folder; the peer's of --peer-reps.
set -euo pipefail
self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
cd "$(dirname "$0")/.."
build=${BUILD:-./build}
epochs=100
grid_epochs=""
reps=3
peer_reps=1
startup_reps=11
parts=a,b,c,d
engine_args=()
use_peer=1
with_j2=1
while [ $# -gt 0 ]; do
  case $1 in
    --epochs) epochs=$2; shift 2 ;;
    --grid-epochs) grid_epochs=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --peer-reps) peer_reps=$2; shift 2 ;;
    --startup-reps) startup_reps=$2; shift 2 ;;
    --parts) parts=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --no-peer) use_peer=0; shift ;;
    --no-j2) with_j2=0; shift ;;
    --engine-args) read -r -a engine_args <<< "$2"; shift 2 ;;
    -h|--help) sed -n 2,22p "$self"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
grid_epochs=${grid_epochs:-$epochs}
sweeplab=$build/sweeplab
trainer=$build/sweeplab-trainer
engine=$build/bench/bench_engine
peer_dir=../shared/bench
peer=$peer_dir/peer_pytorch.py
lrs=0.0001,0.0002,0.0005,0.001,0.002,0.005,0.01,0.02
for f in "$sweeplab" "$trainer"; do
  [ -x "$f" ] || { echo "missing $f: build it (cmake --build $build --target sweeplab sweeplab-trainer bench_engine)" >&2; exit 1; }
done
if [ "$use_peer" = 1 ] && ! { [ -f "$peer" ] && /usr/bin/python3 -c 'import torch' 2>/dev/null; }; then
  echo "# peer skipped: needs /usr/bin/python3 with torch (apt-get install -y python3-torch) and $peer"
  use_peer=0
fi
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
has_part() { [[ ",$parts," == *",$1,"* ]]; }

now() { echo "${EPOCHREALTIME/,/.}"; }  # bash >= 5: no fork, microseconds
seconds() {  # seconds COMMAND...: wall time of one run (output discarded, exit status ignored)
  local start end
  start=$(now)
  "$@" > /dev/null 2>&1 || true
  end=$(now)
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.4f", b - a }'
}
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.4f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
range() { printf '%s\n' "$@" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s..%s", lo, hi }'; }

# measure N DIR COMMAND...: runs COMMAND N times, DIR emptied before each run (so every run trains from
# scratch; the last run's results stay in DIR); sets MEDIAN and RANGE (wall seconds) and CPU (median user+sys
# seconds of the command and its children, from /usr/bin/time when there is one: on a loaded machine wall
# time includes waiting for a core, CPU time does not).
measure() {
  local n=$1 dir=$2; shift 2
  local times=() cpus=() start end
  for ((r = 0; r < n; r++)); do
    rm -rf "$dir"
    start=$(now)
    if [ -x /usr/bin/time ]; then
      /usr/bin/time -f '%U %S' -o "$scratch/cpu" "$@" > /dev/null 2>&1 || true
      cpus+=("$(awk '{ s = $1 + $2 } END { printf "%.2f", s }' "$scratch/cpu")")
    else
      "$@" > /dev/null 2>&1 || true
    fi
    end=$(now)
    times+=("$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.4f", b - a }')")
  done
  MEDIAN=$(median "${times[@]}")
  RANGE=$(range "${times[@]}")
  CPU=$(if [ ${#cpus[@]} -gt 0 ]; then median "${cpus[@]}"; else echo "-"; fi)
}
# csv_column FILE NAME: the column NAME of a CSV file with a header row (no quoted commas)
csv_column() { awk -F, -v name="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) c = i; next } { print $c }' "$1"; }
show() { printf '+'; printf ' %q' "$@"; printf '\n'; }

echo "# sweeplab bench_jobs.sh, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -1)"
echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg); build: $build"

if has_part a; then
  echo
  echo "## (a) the doughnut-batch sweep (6 batch sizes, 1 seed), $epochs epochs, whole commands"
  cmd_j1=("$sweeplab" run doughnut-batch -o "epochs=$epochs" -j 1 -q --experiments "$scratch/a1")
  show "${cmd_j1[@]}"
  measure "$reps" "$scratch/a1" "${cmd_j1[@]}"; j1=$MEDIAN; j1_range=$RANGE; j1_cpu=$CPU
  if [ "$with_j2" = 1 ]; then
    cmd_j2=("$sweeplab" run doughnut-batch -o "epochs=$epochs" -j 2 -q --experiments "$scratch/a2")
    show "${cmd_j2[@]}"
    measure "$reps" "$scratch/a2" "${cmd_j2[@]}"; j2=$MEDIAN; j2_range=$RANGE; j2_cpu=$CPU
  fi
  py=""
  if [ "$use_peer" = 1 ]; then
    cmd_py=(env OPENBLAS_NUM_THREADS=1 /usr/bin/python3 "$peer" sweep --threads 1 --epochs "$epochs")
    show "${cmd_py[@]}"
    measure "$peer_reps" "$scratch/peer" bash -c '"$@" > "$0"' "$scratch/peer_sweep.tsv" "${cmd_py[@]}"
    py=$MEDIAN; py_range=$RANGE; py_cpu=$CPU
  fi
  printf '%-26s %10s %10s  %s\n' "run" "wall_s" "cpu_s" "wall range (of $reps; peer of $peer_reps)"
  printf '%-26s %10s %10s  %s\n' "sweeplab -j 1" "$j1" "$j1_cpu" "$j1_range"
  if [ "$with_j2" = 1 ]; then printf '%-26s %10s %10s  %s\n' "sweeplab -j 2" "$j2" "$j2_cpu" "$j2_range"; fi
  if [ -n "$py" ]; then printf '%-26s %10s %10s  %s\n' "pytorch peer (1 thread)" "$py" "$py_cpu" "$py_range"; fi
  if [ -n "$py" ]; then
    awk -v p="$py" -v a="$j1" -v pc="$py_cpu" -v ac="$j1_cpu" 'BEGIN {
      printf "RATIO_A peer / sweeplab -j 1: %.1fx wall (target >= 100x)", p / a
      if (ac + 0 > 0) printf "; %.1fx cpu", pc / ac
      printf "\n" }'
    if [ "$with_j2" = 1 ]; then awk -v p="$py" -v b="$j2" 'BEGIN { printf "        peer / sweeplab -j 2: %.1fx wall\n", p / b }'; fi
  fi
  # The headline of the doughnut study: epochs to test_acc >= 0.95 per batch size (from the last -j 1 run).
  "$sweeplab" export doughnut-batch -o "epochs=$epochs" --experiments "$scratch/a1" > "$scratch/a1.csv" 2> /dev/null || true
  if [ -s "$scratch/a1.csv" ]; then
    echo "epochs to test_acc >= 0.95 at lr 0.001 (sweeplab -j 1 run; '-' = not within $epochs epochs), and final test_acc:"
    paste -d, <(csv_column "$scratch/a1.csv" batch_size) <(csv_column "$scratch/a1.csv" samples_to_test_acc_ge_0.95) \
      <(csv_column "$scratch/a1.csv" final_test_acc) <(csv_column "$scratch/a1.csv" wall_time_s) |
      awk -F, 'BEGIN { printf "  %-6s %-14s %-14s %s\n", "bs", "epochs_to_95", "final_test_acc", "trial_wall_s" }
               { printf "  %-6s %-14s %-14s %s\n", $1, ($2 == "" ? "-" : $2 / 1600), $3, $4 }'
  fi
  if [ -n "$py" ] && [ -s "$scratch/peer_sweep.tsv" ]; then
    echo "peer (last run): bs, in-process seconds, final test_acc:"
    awk -F'\t' '$1 ~ /^py_/ { printf "  %-6s %-10s %s\n", $2, $4, $8 } $1 == "TOTAL" { print "  " $0 }' "$scratch/peer_sweep.tsv"
  fi
fi

if has_part b; then
  echo
  echo "## (b) 64-trial grid at batch size 2 (8 lr x 8 seeds), $grid_epochs epochs, -j 1"
  cmd_b=("$sweeplab" run doughnut-batch -o batch_size=2 -o "lr=$lrs" -o seeds=8 -o "epochs=$grid_epochs"
         -j 1 -q --experiments "$scratch/b")
  show "${cmd_b[@]}"
  measure "$reps" "$scratch/b" "${cmd_b[@]}"; b_wall=$MEDIAN; b_range=$RANGE; b_cpu=$CPU
  "$sweeplab" export doughnut-batch -o batch_size=2 -o "lr=$lrs" -o seeds=8 -o "epochs=$grid_epochs" \
    --experiments "$scratch/b" > "$scratch/b.csv" 2> /dev/null || true
  trials=$(csv_column "$scratch/b.csv" steps | awk 'NF { n++ } END { print n + 0 }')
  trial_steps=$(csv_column "$scratch/b.csv" steps | awk '{ s += $1 } END { print s + 0 }')
  diverged=$(csv_column "$scratch/b.csv" status | grep -c diverged || true)
  echo "trials: $trials, trial-steps in all: $trial_steps (nominal 64 x 800 x $grid_epochs = $((64 * 800 * grid_epochs))), diverged: $diverged"
  whole_us=$(awk -v w="$b_wall" -v s="$trial_steps" 'BEGIN { if (s > 0) printf "%.3f", w / s * 1e6; else print "nan" }')
  whole_cpu_us=$(awk -v w="$b_cpu" -v s="$trial_steps" 'BEGIN { if (s > 0 && w + 0 > 0) printf "%.3f", w / s * 1e6; else print "-" }')
  inproc_us=""; peer_us=""
  if [ -x "$engine" ]; then
    engine_cmd=("$engine" --only grid --grid-epochs "$grid_epochs" --reps "$reps" --peer-dir "$peer_dir" "${engine_args[@]}")
    [ "$use_peer" = 1 ] || engine_cmd+=(--no-peer)
    show "${engine_cmd[@]}"
    "${engine_cmd[@]}" | tee "$scratch/engine_grid.txt" | sed 's/^/  | /'
    inproc_us=$(awk '$1 == "GRID_INPROCESS_US" { print $2 }' "$scratch/engine_grid.txt")
    peer_us=$(awk '$1 == "PEER_BS2_US" { print $2 }' "$scratch/engine_grid.txt")
  else
    echo "  ($engine not built: no in-process figure, no peer per-step figure)"
  fi
  printf '%-48s %12s\n' "what" "us/trial-step"
  printf '%-48s %12s  (wall %s s, range %s)\n' "sweeplab run -j 1, whole command" "$whole_us" "$b_wall" "$b_range"
  printf '%-48s %12s  (cpu %s s)\n' "sweeplab run -j 1, whole command, CPU time" "$whole_cpu_us" "$b_cpu"
  if [ -n "$inproc_us" ]; then printf '%-48s %12s\n' "train_group in-process (K=64)" "$inproc_us"; fi
  if [ -n "$peer_us" ]; then printf '%-48s %12s\n' "peer_pytorch steps --bs 2 (per step)" "$peer_us"; fi
  if [ -n "$peer_us" ]; then
    awk -v p="$peer_us" -v w="$whole_us" -v i="$inproc_us" 'BEGIN {
      printf "RATIO_B peer per-step / ours per trial-step: whole command %.0fx (target >= 300x), in-process %.0fx\n", p / w, p / i }'
  fi
  if [ "$with_j2" = 1 ]; then
    # The same balanced grid with two workers (its 64 trials cut into four groups per worker). Neither command loads
    # LibTorch: these trials do not need it.
    cmd_b2=("${cmd_b[@]}")
    cmd_b2[${#cmd_b2[@]} - 4]=2
    cmd_b2[${#cmd_b2[@]} - 1]="$scratch/b2"
    show "${cmd_b2[@]}"
    measure "$reps" "$scratch/b2" "${cmd_b2[@]}"; b2_wall=$MEDIAN; b2_range=$RANGE
    printf '%-48s %12s  (range %s)\n' "sweeplab run -j 2, whole command, wall s" "$b2_wall" "$b2_range"
    awk -v one="$b_wall" -v two="$b2_wall" 'BEGIN {
      printf "RATIO_J2 -j 1 / -j 2 wall: %.2fx whole commands (target >= 1.8x)\n", one / two }'
  fi
fi

if has_part c; then
  echo
  echo "## (c) us per trial-step by batch size and K, in-process (bench_engine)"
  if [ -x "$engine" ]; then
    engine_cmd=("$engine" --only sizes --peer-dir "$peer_dir" "${engine_args[@]}")
    if [ "$use_peer" != 1 ]; then engine_cmd+=(--no-peer); fi
    show "${engine_cmd[@]}"
    "${engine_cmd[@]}"
  else
    echo "  ($engine not built: cmake --build $build --target bench_engine)"
  fi
fi

if has_part d; then
  echo
  echo "## (d) start-up, median of $startup_reps runs (seconds)"
  startup() {  # startup LABEL COMMAND...
    local label=$1; shift
    local times=()
    for ((r = 0; r < startup_reps; r++)); do times+=("$(seconds "$@")"); done
    printf '%-52s %8s  range %s\n' "$label" "$(median "${times[@]}")" "$(range "${times[@]}")"
  }
  startup "sweeplab --help" "$sweeplab" --help
  startup "sweeplab --version" "$sweeplab" --version
  startup "sweeplab list" "$sweeplab" list
  startup "sweeplab show doughnut-batch --trials" "$sweeplab" show doughnut-batch --trials
  startup "sweeplab-trainer --check-cuda (loads LibTorch)" "$trainer" --check-cuda
  startup "/bin/true (the timer's own floor)" /bin/true
  # run on a 1-trial sweep: with nothing left to train (no trainer starts), and with one tiny trial to train
  # (a trainer starts: its LibTorch load is most of it)
  printf 'task: {name: doughnuts, samples: 40}\ntraining: {epochs: 1, batch_size: 8}\n' > "$scratch/tiny.yaml"
  "$sweeplab" --configs "$scratch" run tiny -q --experiments "$scratch/tiny-done" > /dev/null 2>&1 || true
  startup "sweeplab run (1 trial, nothing to train)" "$sweeplab" --configs "$scratch" run tiny -q --experiments "$scratch/tiny-done"
  startup "sweeplab run (1 tiny trial to train, --no-save)" "$sweeplab" --configs "$scratch" run tiny -q --no-save --experiments "$scratch/tiny-new"
  if [ "$use_peer" = 1 ]; then startup "python3 -c 'import torch' (the peer's start-up)" /usr/bin/python3 -c 'import torch'; fi
fi
echo
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
