#!/usr/bin/env bash
# tests/bench/comm.sh - data-parallel communication and training speed on
# the CPU: the gradient all-reduce of a BLIP-base-sized buffer over MPI
# (comm_bench, 2 ranks; side by side with torch.distributed's gloo when
# PyTorch is installed), demo-config training throughput of 1 rank (batch
# 16) against 2 ranks (batch 8 each, the same global batch), then the step
# time of 2 ranks training a 17M-parameter model with the gradients reduced
# during the backward pass (default buckets, 4 MiB ones) against after it
# (interleaved, twice), and with ZeRO-1.
set -eu
cd "$(dirname "$0")/../.."
[ -x build/bench/comm_bench ] || { echo "comm.sh: build/bench/comm_bench missing: run 'make bench'" >&2; exit 1; }
export OMP_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
ITERS=${BENCH_ITERS:-3}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

echo "gradient all-reduce, BLIP-base size, 2 ranks on $(getconf _NPROCESSORS_ONLN) cores; per all-reduce"
printf '  %-22s %12s %10s %10s %10s\n' engine floats seconds algbw_GB/s busbw_GB/s
set -- $(mpirun --oversubscribe -np 2 build/bench/comm_bench "$ITERS")
printf '  %-22s %12s %10s %10s %10s\n' "blip mpi (staged)" "$1" "$2" "$3" "$4"
n=$1 ours=$2
if python3 -c 'import torch.distributed' 2>/dev/null; then
  set -- $(python3 tests/bench/comm_torch.py "$n" 2 "$ITERS")
  printf '  %-22s %12s %10s %10s %10s   (blip %.2fx)\n' "torch gloo" "$1" "$2" "$3" "$4" "$(echo "$2 / $ours" | bc -l)"
fi

echo "demo training (configs/demo.json), 60 steps of a global batch of 16"
bin/blip-synth -n 300 --size 48 --seed 1 "$T/syn" >/dev/null && bin/blip-pack -o "$T/sh" "$T/syn" >/dev/null
demo=(-c configs/demo.json --set max_steps=60 --set log_every=60 --set save_every=0 --set threads=1)
sps() { sed -n 's/.*"samples_per_s":\([0-9.]*\).*/\1/p' "$1/metrics.jsonl" | tail -1; }
bin/blip-train "${demo[@]}" -o "$T/one" "$T/sh/train" >/dev/null
mpirun --oversubscribe -np 2 bin/blip-train "${demo[@]}" --set batch_size=8 -o "$T/two" "$T/sh/train" >/dev/null
printf '  1 rank x 16:  %8.1f samples/s\n  2 ranks x 8:  %8.1f samples/s\n' "$(sps "$T/one")" "$(sps "$T/two")"

echo "2 ranks x batch 2, a 17M-parameter model (width 384, 4+4 layers, 64 px; 3 buckets of 25 MiB), 12 steps;"
echo "seconds per step (steps 3-12), load $(cut -d' ' -f1 /proc/loadavg) at the start"
mid=(-c configs/demo.json --set image_size=64 --set vision_width=384 --set vision_depth=4 --set vision_mlp=1536
     --set text_width=384 --set text_depth=4 --set text_mlp=1536 --set batch_size=2 --set max_steps=12
     --set log_every=1 --set save_every=0 --set threads=1)
# step_s RUN: mean seconds per step over steps 3..12 (the first two warm up)
step_s() { sed -n 's/.*"step":\([0-9]*\),.*"samples_per_s":\([0-9.]*\).*/\1 \2/p' "$1/metrics.jsonl" |
           awk '$1 > 2 { t += 4 / $2; n++ } END { printf "%.3f", t / n }'; }
for v in "no-overlap:--overlap off" "overlap:--overlap on" "no-overlap:--overlap off" "overlap:--overlap on" \
         "overlap-4MiB:--overlap on --bucket-mb 4" "zero1:--zero 1"; do
  i=$((${i:-0} + 1))
  # shellcheck disable=SC2086
  mpirun --oversubscribe -np 2 bin/blip-train "${mid[@]}" ${v#*:} -o "$T/mid$i" "$T/sh/train" >/dev/null
  printf '  %-16s %8s s/step\n' "${v%%:*}" "$(step_s "$T/mid$i")"
done
